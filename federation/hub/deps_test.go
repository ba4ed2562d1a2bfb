package hub_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// waitJobState polls job id through cl until it is in state want.
func waitJobState(t *testing.T, ctx context.Context, cl *client.Client, id string, want structs.JobState) *structs.Job {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		j, err := cl.GetJob(ctx, id, true)
		if err == nil && j.State == want {
			return j
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s never reached %s: last %+v, %v", id, want, j, err)
		case <-tick.C:
		}
	}
}

// TestDependenciesOnHub runs dependencies on three replicas, submitting
// through a follower: B afterok A waits HELD ("Dependency") while A runs,
// is queued and placed once A completed; C afterok A' ends CANCELED by
// itself when A' fails; D afternotok A' is released by the same failure;
// another tenant's job is "not found".
func TestDependenciesOnHub(t *testing.T) {
	c := hubtest.New(t, 3, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) {
		cfg.Dispatch = &hub.DispatchOptions{Interval: 100 * time.Millisecond, AcceptTimeout: time.Minute}
	}})
	f := seed(t, c)
	ctx := ctxFor(t, 120*time.Second)
	admin := newClient(t, c, c.AdminKey)
	l := syncLive(t, c)
	alice := newClient(t, c, f.Key, (l+1)%3) // a follower: it must see A, just written
	agentKey, err := admin.CreateAgentKey(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	agent := newClient(t, c, agentKey.Key)
	report := func(j *structs.Job, st structs.JobState, free int) {
		t.Helper()
		res, err := agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{Status: structs.ClusterReady,
			Capacity: map[string]structs.Capacity{"n1": {Free: free, Total: 4}},
			Jobs:     []structs.JobReport{{ID: j.ID, Number: j.Number, State: st}}})
		if err != nil || res.Jobs[0].Outcome != structs.ReportApplied {
			t.Fatalf("report %s %s: %+v, %v", j.ID, st, res, err)
		}
	}
	if _, err := agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{Status: structs.ClusterReady,
		Capacity: map[string]structs.Capacity{"n1": {Free: 4, Total: 4}}}); err != nil {
		t.Fatal(err)
	}

	a, err := alice.SubmitJob(ctx, f.job("dep-a"))
	if err != nil {
		t.Fatal(err)
	}
	b := f.job("dep-b")
	b.Dependency = "afterok:" + itoa(a.Number)
	bj, err := alice.SubmitJob(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if bj.State != structs.JobHeld || bj.Substatus != "Dependency: waits for afterok:"+itoa(a.Number) {
		t.Fatalf("B at submit: %s %q, want HELD waiting for its dependency", bj.State, bj.Substatus)
	}
	a = waitJobState(t, ctx, alice, a.ID, structs.JobAssigned)
	report(a, structs.JobRunning, 3)
	// B stays held while A runs, with capacity free: placement never takes it.
	if j, _ := alice.GetJob(ctx, bj.ID, true); j.State != structs.JobHeld {
		t.Fatalf("B while A runs: %s %q", j.State, j.Substatus)
	}
	if m := scrapeLine(t, ctx, c.URL(l), `flotilla_hub_held_jobs{limit="(dependency)"}`); m != "1" {
		t.Errorf("held_jobs for dependencies = %q, want 1", m)
	}
	report(a, structs.JobCompleted, 4)
	got := waitJobState(t, ctx, alice, bj.ID, structs.JobAssigned)
	if got.Dependency.String() != "afterok:"+itoa(a.Number) {
		t.Errorf("B's recorded dependency: %q", got.Dependency.String())
	}
	report(got, structs.JobCompleted, 4)

	// A' fails: C afterok A' ends by itself, D afternotok A' runs.
	a2, err := alice.SubmitJob(ctx, f.job("dep-a2"))
	if err != nil {
		t.Fatal(err)
	}
	cr, dr := f.job("dep-c"), f.job("dep-d")
	cr.Dependency, dr.Dependency = "afterok:"+a2.ID, "afternotok:"+itoa(a2.Number)
	cj, err := alice.SubmitJob(ctx, cr)
	if err != nil {
		t.Fatal(err)
	}
	dj, err := alice.SubmitJob(ctx, dr)
	if err != nil {
		t.Fatal(err)
	}
	a2 = waitJobState(t, ctx, alice, a2.ID, structs.JobAssigned)
	report(a2, structs.JobCompletedWithError, 4)
	ended := waitJobState(t, ctx, alice, cj.ID, structs.JobCanceled)
	if !strings.HasPrefix(ended.Substatus, "DependencyNeverSatisfied: afterok:"+itoa(a2.Number)+" can never be satisfied") ||
		!strings.Contains(ended.Substatus, "COMPLETED_WITH_ERROR") {
		t.Errorf("C's reason: %q", ended.Substatus)
	}
	waitJobState(t, ctx, alice, dj.ID, structs.JobAssigned)

	// Refused at submit: a dependency that can never hold, an unknown job,
	// another tenant's job (not found, as unknown).
	for dep, want := range map[string]string{
		"afterok:" + itoa(a2.Number): "can never be satisfied",
		"afterok:9999":               "job 9999 not found",
	} {
		r := f.job("")
		r.Dependency = dep
		if _, err := alice.SubmitJob(ctx, r); !errors.Is(err, structs.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("dependency %s: %v, want 400 saying %q", dep, err, want)
		}
	}
	if _, err := admin.PutTenant(ctx, &structs.Tenant{Name: "globex"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutUser(ctx, "gus", &structs.UserSpec{Tenant: "globex", Role: structs.RoleUser}); err != nil {
		t.Fatal(err)
	}
	gk, err := admin.CreateAPIKey(ctx, "gus", "t")
	if err != nil {
		t.Fatal(err)
	}
	r := f.job("")
	r.Dependency = "afterany:" + itoa(a.Number)
	if _, err := newClient(t, c, gk.Key).SubmitJob(ctx, r); !errors.Is(err, structs.ErrInvalid) ||
		!strings.Contains(err.Error(), "job "+itoa(a.Number)+" not found") {
		t.Errorf("dependency on another tenant's job: %v, want not found", err)
	}
}

// TestDependencyGatedInRollingUpgrade: while a replica in the directory
// runs a binary that does not apply JobSubmitExt, a submission with a
// dependency, environment or working directory is refused (409, nothing
// stored) and a plain one is not; once every replica applies it, it is
// accepted.
func TestDependencyGatedInRollingUpgrade(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	f := seed(t, c)
	ctx := ctxFor(t, 60*time.Second)
	alice := newClient(t, c, f.Key)
	old := &fsm.ReplicaUpsert{Replica: structs.Replica{ID: "old-binary", RaftAddress: "127.0.0.1:1", APIAddress: "http://127.0.0.1:1",
		Commands: "1-33,41-42,60-71,80,95-96"}}
	if _, err := c.Hub(0).Write(ctx, old); err != nil {
		t.Fatal(err)
	}
	a, err := alice.SubmitJob(ctx, f.job("gate-a"))
	if err != nil {
		t.Fatalf("a plain submission during the upgrade: %v", err)
	}
	for name, mut := range map[string]func(*structs.JobSubmitRequest){
		"dependency": func(r *structs.JobSubmitRequest) { r.Dependency = "afterany:" + itoa(a.Number) },
		"env":        func(r *structs.JobSubmitRequest) { r.Env = map[string]string{"A": "1"} },
		"workdir":    func(r *structs.JobSubmitRequest) { r.Workdir = "/w" },
	} {
		r := f.job("gate-" + name)
		mut(&r)
		if _, err := alice.SubmitJob(ctx, r); !errors.Is(err, structs.ErrConflict) || !strings.Contains(err.Error(), "rolling upgrade") {
			t.Errorf("%s during the upgrade: %v, want 409 naming the upgrade", name, err)
		}
		if _, err := alice.GetJob(ctx, r.ID, true); !errors.Is(err, structs.ErrNotFound) {
			t.Errorf("%s: refused, yet stored: %v", name, err)
		}
	}
	if _, err := c.Hub(0).Write(ctx, &fsm.ReplicaDelete{ID: "old-binary"}); err != nil {
		t.Fatal(err)
	}
	r := f.job("gate-after")
	r.Dependency = "afterany:" + itoa(a.Number)
	if j, err := alice.SubmitJob(ctx, r); err != nil || j.Dependency == nil {
		t.Fatalf("after the upgrade: %+v, %v", j, err)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// scrapeLine is the value of the series named (with its labels) in the
// replica at base's metrics, "" when absent.
func scrapeLine(t *testing.T, ctx context.Context, base, series string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+hub.MetricsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return v
		}
	}
	return ""
}
