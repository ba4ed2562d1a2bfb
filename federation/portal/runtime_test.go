package portal

import (
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestJobsRunTime: the jobs list's Time column is squeue's TIME from the
// hub's times at the clock given: elapsed for a running job (marked for
// the page's script to count on), the whole run for an ended one, 0:00
// before the start.
func TestJobsRunTime(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	jobs := []*structs.Job{
		{ID: "j-run", Name: "run", State: structs.JobRunning, StartTime: now.Add(-(time.Hour + time.Minute + 5*time.Second))},
		{ID: "j-done", Name: "done", State: structs.JobCompleted, StartTime: now.Add(-72 * time.Hour), EndTime: now.Add(-72*time.Hour + 51*time.Hour + 7*time.Second)},
		{ID: "j-short", Name: "short", State: structs.JobTerminated, StartTime: now.Add(-time.Hour), EndTime: now.Add(-time.Hour + 59*time.Second)},
		{ID: "j-wait", Name: "wait", State: structs.JobQueued},
	}
	rows := string(rowsOf(jobs, now))
	for id, want := range map[string]string{
		"j-run":   `<td class="run-time" data-elapsed="3665">1:01:05</td>`,
		"j-done":  `<td class="run-time">2-03:00:07</td>`,
		"j-short": `<td class="run-time">0:59</td>`,
		"j-wait":  `<td class="run-time">0:00</td>`,
	} {
		i := strings.Index(rows, `id="job-`+id+`"`)
		row := rows[i:]
		row = row[:strings.Index(row, "</tr>")+5]
		if i < 0 || !strings.HasSuffix(row, want+"</tr>") {
			t.Errorf("%s: row %q, want it to end with %q", id, row, want)
		}
	}
	// a later clock moves the running job only
	later := string(rowsOf(jobs, now.Add(2*time.Minute)))
	if !strings.Contains(later, `data-elapsed="3785">1:03:05<`) || !strings.Contains(later, ">2-03:00:07<") {
		t.Errorf("two minutes later:\n%s", later)
	}
}
