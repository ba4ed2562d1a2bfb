package cli

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// followOutput is output --follow: it prints the job's reported lines,
// then waits for the job to change and prints the lines that are new,
// until the job ends (a running job's tail is reported every few
// seconds). With -o json it prints the job's Output object each time its
// output or state changes, one a line.
func followOutput(ctx context.Context, s *session, cl *client.Client, j *structs.Job) error {
	wait := min(10*time.Second, s.timeout/2)
	printed, state := "", structs.JobState("")
	var index uint64
	for {
		if j.LogTail != printed || (s.json() && j.State != state) {
			if err := s.printOutput(j, printed); err != nil {
				return err
			}
			printed, state = j.LogTail, j.State
		}
		if j.State.IsTerminal() {
			return nil
		}
		page, err := cl.WatchJobs(ctx, client.JobQuery{After: j.Number - 1, Limit: 1}, index, wait)
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted, as tail -f is
			}
			return err
		}
		if len(page.Jobs) == 0 || page.Jobs[0].ID != j.ID {
			return structs.Errorf(structs.ErrGone, "job %s (number %d) is gone", j.Name, j.Number)
		}
		j, index = page.Jobs[0], page.Index
	}
}

// printOutput prints what of j's output is new after the tail printed.
func (s *session) printOutput(j *structs.Job, printed string) error {
	if s.json() {
		o := &Output{ID: j.ID, Name: j.Name, Number: j.Number, State: j.State, ExitCode: j.ExitCode, Output: j.LogTail}
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		return s.line("%s", b)
	}
	_, err := io.WriteString(s.stdout, newLines(printed, j.LogTail))
	return err
}

// newLines returns the lines of tail that follow what old showed: both are
// the last lines of one growing log, so the longest end of old that
// begins tail is skipped. With no overlap (more lines came between two
// reports than a tail holds) all of tail is new.
func newLines(old, tail string) string {
	o, n := splitLines(old), splitLines(tail)
	for k := min(len(o), len(n)); k > 0; k-- {
		if slices.Equal(o[len(o)-k:], n[:k]) {
			return joinLines(n[k:])
		}
	}
	return joinLines(n)
}

func splitLines(s string) []string {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}
