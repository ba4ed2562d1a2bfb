package localnodes

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSignalAtAndSuspendOnLocalNode: real jobs on a local node, run by the
// shipped agent, whose script traps USR1.
//
// JARVICE's suspend: /jarvice/signal with its default (20, SIGTSTP) stops
// the script's processes (state T in /proc) and /jarvice/status shows the
// substatus 6 "Suspended by user", `flotilla status` "RUNNING
// (suspended)"; /jarvice/signal 18 (SIGCONT) lets them go on and the
// substatus is Running again.
//
// A signal before the walltime: `flotilla submit --walltime 0:20 --signal
// USR1@10` (the flotilla binary) runs the script, which writes the time
// of each USR1 it takes: it takes one, once, 10 s after its pod started
// (within the second flotilla-init reads at, the API's whole seconds and
// the load), well before the walltime ends the job (TERMINATED); the job log says
// "flotilla: signal USR1 delivered (10 s before the walltime)" once, and
// status shows the request while the job runs.
func TestSignalAtAndSuspendOnLocalNode(t *testing.T) {
	needLocalNodes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rig := startSignalRig(t, ctx, "sigat", "fh", "10.232.0.0/24", "sigat-l0", `#!/bin/sh
trap 'date +%s >> /shared/usr1-$FLOTILLA_JOB_NUMBER' USR1
date +%s > /shared/ready-$FLOTILLA_JOB_NUMBER
while :; do sleep 0.1; done
`)
	alice := rig.alice
	running := func(id, what string) *structs.Job {
		t.Helper()
		var j *structs.Job
		waitFor(ctx, t, what, func() bool {
			cur, err := alice.GetJob(ctx, id, false)
			if err == nil && cur.State.IsTerminal() {
				t.Fatalf("job ended early: %s %s %q", cur.State, cur.Substatus, cur.LogTail)
			}
			j = cur
			_, ready := os.Stat(filepath.Join(rig.shared, "ready-"+strconv.FormatUint(cur.Number, 10)))
			return err == nil && cur.State == structs.JobRunning && ready == nil
		})
		return j
	}
	ended := func(id string) *structs.Job {
		t.Helper()
		var j *structs.Job
		waitFor(ctx, t, "the job ended", func() bool {
			cur, err := alice.GetJob(ctx, id, false)
			j = cur
			return err == nil && cur.State.IsTerminal()
		})
		return j
	}

	// JARVICE's suspend and resume.
	j, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "trapper", Command: "run", MachineType: "l4", Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	running(j.ID, "the first job running")
	num := strconv.FormatUint(j.Number, 10)
	jarvice := func(endpoint string, args url.Values, into any) {
		t.Helper()
		args.Set("username", "alice")
		args.Set("apikey", rig.key)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rig.hubs.URLs()[0]+"/jarvice/"+endpoint+"?"+args.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: rig.hubs.TLSConfig()}}
		defer hc.CloseIdleConnections()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/jarvice/%s: %s", endpoint, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatal(err)
		}
	}
	substatus := func() structs.JarviceJobStatus {
		var st map[string]structs.JarviceJobStatus
		jarvice("status", url.Values{"number": {num}}, &st)
		return st[num]
	}
	var reply struct{ Signal, PID int }
	jarvice("signal", url.Values{"number": {num}}, &reply)
	if reply.Signal != 20 {
		t.Errorf("/jarvice/signal replied signal %d, want the default 20", reply.Signal)
	}
	waitFor(ctx, t, "the script stopped", func() bool { return scriptStates(t, rig.script) == "T" })
	if st := substatus(); st.JobSubstatus != structs.JarviceSubstatusSuspended || st.JobSubstatusText != "Suspended by user" {
		t.Errorf("/jarvice/status of a stopped job: %d %q", st.JobSubstatus, st.JobSubstatusText)
	}
	var jobs map[string]structs.JarviceJobStatus
	jarvice("jobs", url.Values{}, &jobs)
	if st := jobs[num]; st.JobSubstatus != structs.JarviceSubstatusSuspended {
		t.Errorf("/jarvice/jobs of a stopped job: %d %q", st.JobSubstatus, st.JobSubstatusText)
	}
	if out, _, _ := rig.cli("status", num); !strings.Contains(out, "RUNNING (suspended)") {
		t.Errorf("flotilla status of a stopped job:\n%s", out)
	}
	jarvice("signal", url.Values{"number": {num}, "signal": {"18"}}, &reply)
	waitFor(ctx, t, "the script going on", func() bool { s := scriptStates(t, rig.script); return s != "" && !strings.Contains(s, "T") })
	if st := substatus(); st.JobSubstatus != structs.JarviceSubstatusRunning {
		t.Errorf("/jarvice/status after SIGCONT: %d %q", st.JobSubstatus, st.JobSubstatusText)
	}
	if out, _, _ := rig.cli("status", num); strings.Contains(out, "suspended") {
		t.Errorf("flotilla status after SIGCONT:\n%s", out)
	}
	if out, errs, code := rig.cli("cancel", num); code != 0 {
		t.Fatalf("flotilla cancel: %d\n%s%s", code, out, errs)
	}
	ended(j.ID)

	// A signal 10 s before a 20 s walltime ends.
	out, errs, code := rig.cli("submit", "--parsable", "--app", "trapper", "--command", "run", "--machine", "l4",
		"--walltime", "0:20", "--signal", "USR1@10")
	if code != 0 {
		t.Fatalf("flotilla submit --signal: exit %d\n%s%s", code, out, errs)
	}
	num = strings.TrimSpace(out)
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		t.Fatalf("submit --parsable printed %q", out)
	}
	page, err := alice.ListJobs(ctx, client.JobQuery{After: n - 1, Limit: 1, Consistent: true})
	if err != nil || len(page.Jobs) != 1 || page.Jobs[0].Number != n {
		t.Fatalf("job %d: %v %+v", n, err, page)
	}
	cur := page.Jobs[0]
	if cur.Env[structs.JobSignalAtVar] != "USR1@10" {
		t.Errorf("the job carries %q", cur.Env[structs.JobSignalAtVar])
	}
	running(cur.ID, "the second job running")
	// The walltime counts from the pod's start, as the kubelet and the
	// agent count it.
	var podStart time.Time
	waitFor(ctx, t, "the job's pod with its start", func() bool {
		pods, err := rig.env.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + podgroup.PodName(n, 0)})
		if err != nil || len(pods.Items) != 1 || pods.Items[0].Status.StartTime == nil {
			return false
		}
		podStart = pods.Items[0].Status.StartTime.Time
		return true
	})
	if out, _, _ := rig.cli("status", num); !strings.Contains(out, "USR1 10 s before the walltime ends") {
		t.Errorf("flotilla status does not show the signal:\n%s", out)
	}
	end := ended(cur.ID)
	readInt := func(name string) []int64 {
		b, _ := os.ReadFile(filepath.Join(rig.shared, name+"-"+num))
		var out []int64
		for _, f := range strings.Fields(string(b)) {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", name, b)
			}
			out = append(out, n)
		}
		return out
	}
	started, got := readInt("ready"), readInt("usr1")
	const line = "flotilla: signal USR1 delivered (10 s before the walltime)\n"
	switch {
	case end.State != structs.JobTerminated || !strings.Contains(end.Substatus, "walltime"):
		t.Errorf("the job ended %s (%s), want TERMINATED by its walltime", end.State, end.Substatus)
	case len(got) != 1 || len(started) != 1:
		t.Errorf("the script took USR1 at %v (started at %v), want once", got, started)
	case got[0] < podStart.Unix()+10-1 || got[0] > podStart.Unix()+10+5 || got[0] > end.EndTime.Unix()-5:
		// Due 10 s after the pod's start (its node's clock, read every
		// second), well before the walltime ended the job.
		t.Errorf("USR1 at %d: the pod started at %d, the script at %d, the job ended at %d (%s)",
			got[0], podStart.Unix(), started[0], end.EndTime.Unix(), end.EndTime)
	case strings.Count(end.LogTail, line) != 1:
		t.Errorf("the job log has the delivery %d times, want once:\n%s", strings.Count(end.LogTail, line), end.LogTail)
	}
	t.Logf("pod started %d, script %v, USR1 at %v, ended %d (%s)", podStart.Unix(), started, got, end.EndTime.Unix(), end.Substatus)
}

// scriptStates is the /proc states of the shells running the script
// (e.g. "S", "T"), "" when none runs.
func scriptStates(t *testing.T, script string) string {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		argv := strings.Split(string(cmdline), "\x00")
		if err != nil || len(argv) < 2 || filepath.Base(argv[0]) != "sh" || argv[1] != script {
			continue // not the script's shell (flotilla-init names it too)
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
			states = append(states, string(stat[i+2]))
		}
	}
	return strings.Join(states, "")
}
