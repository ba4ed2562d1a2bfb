package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/dispatch"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// stepClock is a hub clock the test moves forward.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// userHub is a one-replica hub with a tenant, a user alice (her key in
// env), a cluster east with its agent's client, machine type n1 (1..8
// nodes) and app solver; the hub's clock is clock.
type userHub struct {
	url   string
	c     *hubtest.Cluster
	h     *hub.Hub
	adm   *client.Client
	agent *client.Client
	env   map[string]string
	clock *stepClock
}

// userHubWithin is newUserHub and a context that ends after d, or when
// t ends.
func userHubWithin(t *testing.T, d time.Duration) (*userHub, context.Context) {
	t.Helper()
	u := newUserHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return u, ctx
}

func newUserHub(t *testing.T) *userHub {
	t.Helper()
	clock := &stepClock{t: time.Now().UTC().Truncate(time.Second)}
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) { cfg.Now = clock.Now }})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	url := c.URL(0)
	adm, err := client.New([]string{url}, c.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(adm.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	must(adm.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}))
	must(adm.PutCluster(ctx, "east", &structs.ClusterSpec{Zone: "z1"}))
	must(adm.PutMachineType(ctx, &structs.MachineType{Name: "n1", Cores: 4, Slots: 4, RAM: 16, ScaleMin: 1, ScaleMax: 8, Cluster: "east"}))
	must(adm.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "registry/solver:1",
		AppDef: structs.AppDef{Name: "Solver", Commands: map[string]structs.Command{"run": {Path: "/run.sh", Name: "Run"}}}}))
	key, err := adm.CreateAPIKey(ctx, "alice", "cli")
	if err != nil {
		t.Fatal(err)
	}
	agentKey, err := adm.CreateAgentKey(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	agent, err := client.New([]string{url}, agentKey.Key)
	if err != nil {
		t.Fatal(err)
	}
	return &userHub{url: url, c: c, h: c.Hub(0), adm: adm, agent: agent, env: map[string]string{EnvHub: url, EnvAPIKey: key.Key}, clock: clock}
}

// place reports free n1 nodes from east's agent, a current one (its
// features), and runs one placement pass (the hub binary runs them
// continuously).
func (u *userHub) place(ctx context.Context, t *testing.T, free int) {
	t.Helper()
	if _, err := u.agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{Status: structs.ClusterReady,
		Capacity: map[string]structs.Capacity{"n1": {Free: free, Total: free}},
		Agent: &structs.AgentInfo{Version: "test", Features: []structs.AgentFeature{
			structs.FeatureArrayJobs, structs.FeatureArrayIndexLists, structs.FeatureJobEnv, structs.FeatureJobWorkdir}}}); err != nil {
		t.Fatal(err)
	}
	d := dispatch.New(dispatch.Config{Store: u.h.Store(), Writer: u.h, Leader: u.h.Node().IsLeader, Now: u.h.Now,
		Log: slog.New(slog.DiscardHandler)})
	if err := d.Pass(ctx); err != nil {
		t.Fatal(err)
	}
}

// report is east's agent reporting job number n's state and output.
func (u *userHub) report(ctx context.Context, t *testing.T, n string, st structs.JobState, exit int, tail string) {
	t.Helper()
	j, err := findJob(ctx, u.adm, n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{Status: structs.ClusterReady,
		Jobs: []structs.JobReport{{ID: j.ID, Number: j.Number, State: st, ExitCode: exit, LogTail: tail}}}); err != nil {
		t.Fatal(err)
	}
}

// TestSlurmUserScenario walks the CLI as a Slurm user would, against a
// real one-replica hub: submit with sbatch's --time forms and --job-name,
// watch with squeue-like state filters and reasons, read a finished job's
// record as sacct shows it, and cancel several jobs by number and by
// filter as scancel does.
func TestSlurmUserScenario(t *testing.T) {
	u := newUserHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	clock, env := u.clock, u.env
	cli := func(args ...string) result { t.Helper(); return runCLI(t, env, args...) }
	jobCount := func() int {
		t.Helper()
		var jobs []*structs.Job
		r := cli("jobs", "--all", "-o", "json")
		if err := json.Unmarshal([]byte(r.stdout), &jobs); err != nil {
			t.Fatalf("jobs -o json: %v\n%s", err, r.stdout)
		}
		return len(jobs)
	}

	// sbatch --time: every form Slurm accepts.
	for i, tc := range []struct{ time, want string }{
		{"90", "1h30m0s"}, {"30:15", "30m15s"}, {"02:00:00", "2h0m0s"},
		{"1-12", "36h0m0s"}, {"1-12:30", "36h30m0s"}, {"1-00:00:30", "24h0m30s"},
	} {
		cli("submit", "--app", "solver", "--machine", "n1", "--time", tc.time, "--job-name", "sweep").
			check(t, ExitOK, "Submitted job alice-", "state QUEUED")
		cli("status", strconv.Itoa(i+1)).check(t, ExitOK, "Walltime:", tc.want, "Label:", "sweep")
	}
	// A time Slurm refuses is refused with the reason, and nothing is stored.
	before := jobCount()
	cli("submit", "--app", "solver", "--machine", "n1", "--time", "1-24:00").check(t, ExitUsage, `--walltime "1-24:00"`, "D-HH:MM")
	cli("submit", "--app", "solver", "--machine", "n1", "--walltime", "soon").check(t, ExitUsage, `--walltime "soon"`)
	if n := jobCount(); n != before {
		t.Fatalf("refused submissions stored jobs: %d, want %d", n, before)
	}

	// Two nodes free: jobs 1 and 2 are placed, the rest wait with a reason
	// that jobs shows as squeue's REASON does.
	u.place(ctx, t, 2)
	r := cli("jobs", "--state", "PD")
	r.check(t, ExitOK, "REASON", "QUEUED", "sweep")
	if strings.Contains(r.stdout, "ASSIGNED") || strings.Count(r.stdout, "QUEUED") != 4 {
		t.Errorf("jobs --state PD: want the 4 queued jobs only\n%s", r.stdout)
	}
	why := cli("why", "3", "-o", "json")
	var w Why
	if err := json.Unmarshal([]byte(why.stdout), &w); err != nil || w.Explanation == "" {
		t.Fatalf("why -o json: %v\n%s", err, why.stdout)
	}
	// why -o json has the fields docs/cli.md lists, and no others.
	var fields map[string]any
	if err := json.Unmarshal([]byte(why.stdout), &fields); err != nil {
		t.Fatal(err)
	}
	documented := []string{"id", "name", "number", "state", "substatus", "explanation", "cluster", "machine_type",
		"assigned_machine_type", "burst_rule", "queue_position", "queue_waiting"}
	for k := range fields {
		if !slices.Contains(documented, k) {
			t.Errorf("why -o json has field %q, which docs/cli.md does not list", k)
		}
	}
	if !strings.Contains(r.stdout, w.Explanation) {
		t.Errorf("jobs --state PD does not show job 3's reason %q\n%s", w.Explanation, r.stdout)
	}
	cli("jobs", "--state", "CF").check(t, ExitOK, "ASSIGNED", "east")
	// Where a queued job stands, as Kueue and Armada show it: jobs 3..6
	// wait for n1, so job 5 is third of four; a high-priority job
	// submitted later goes ahead of it.
	cli("why", "5").check(t, ExitOK, "Queue position:", "3 of 4 waiting for n1")
	if w.QueuePosition != 1 || w.QueueWaiting != 4 {
		t.Errorf("why 3 -o json: queue position %d of %d, want 1 of 4", w.QueuePosition, w.QueueWaiting)
	}
	cli("submit", "--app", "solver", "--machine", "n1", "--priority", "high").check(t, ExitOK, "(number 7)")
	cli("why", "5").check(t, ExitOK, "4 of 5 waiting for n1")
	cli("why", "7").check(t, ExitOK, "1 of 5 waiting for n1")
	cli("cancel", "7").check(t, ExitOK, "CANCELED")
	if r := cli("why", "1"); strings.Contains(r.stdout, "Queue position") {
		t.Errorf("why of an assigned job shows a queue position:\n%s", r.stdout)
	}

	// Job 1 runs 90 minutes on its node and fails with exit code 3: its
	// record shows what sacct would.
	u.report(ctx, t, "1", structs.JobRunning, 0, "")
	clock.Add(90 * time.Minute)
	u.report(ctx, t, "1", structs.JobCompletedWithError, 3, "")
	cli("status", "1").check(t, ExitOK, "COMPLETED_WITH_ERROR", "Exit code:", "3", "Elapsed:", "01:30:00", "Node-hours:", "1.5000 (1 × 01:30:00)")
	cli("jobs", "--state", "F,CD").check(t, ExitOK, "COMPLETED_WITH_ERROR")
	cli("report").check(t, ExitOK, "01:30:00", "COMPLETED_WITH_ERROR")

	// scancel 3 4 999: two canceled, the missing one reported, exit 3.
	r = cli("cancel", "3", "4", "999")
	r.check(t, ExitNotFound, "(number 3): CANCELED", "(number 4): CANCELED")
	if r.stderr != "flotilla: cancel: job \"999\": not found\n" {
		t.Errorf("cancel 3 4 999: stderr %q, want one line naming job 999", r.stderr)
	}
	// scancel -t PD: the other pending jobs.
	r = cli("cancel", "--state", "PENDING", "-o", "json")
	var stopped []*structs.Job
	if err := json.Unmarshal([]byte(r.stdout), &stopped); err != nil {
		t.Fatalf("cancel --state -o json: %v\n%s", err, r.stdout)
	}
	if len(stopped) != 2 || stopped[0].Number != 5 || stopped[1].Number != 6 || stopped[0].State != structs.JobCanceled {
		t.Errorf("cancel --state PENDING stopped %d jobs, want 5 and 6 canceled:\n%s", len(stopped), r.stdout)
	}
	cli("cancel", "--state", "PD").check(t, ExitOK, "No jobs matched.")
	// scancel -u alice: what is left (job 2, placed) is canceled too.
	cli("cancel", "--user", "alice").check(t, ExitOK, "(number 2): CANCELED")
	if r := cli("jobs"); !strings.Contains(r.stdout, "No jobs.") {
		t.Errorf("active jobs after cancelling everything:\n%s", r.stdout)
	}

	// sacct -s F, -s CA: the finished jobs by state, as records, CSV and
	// sums.
	r = cli("report", "--state", "F")
	r.check(t, ExitOK, "COMPLETED_WITH_ERROR", "01:30:00")
	if strings.Contains(r.stdout, "CANCELED") || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("report --state F: want job 1 alone\n%s", r.stdout)
	}
	r = cli("report", "--state", "CA", "-o", "csv")
	if strings.Contains(r.stdout, "COMPLETED_WITH_ERROR") || strings.Count(r.stdout, "CANCELED") != 6 {
		t.Errorf("report --state CA -o csv: want the 6 canceled jobs only\n%s", r.stdout)
	}
	var sums []*structs.AccountingSummary
	r = cli("report", "--state", "failed,cancelled", "--summary", "--group", "user", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &sums); err != nil || len(sums) != 1 || sums[0].Jobs != 7 || sums[0].NodeHours != 1.5 {
		t.Errorf("report --state failed,cancelled --summary: %v\n%s", err, r.stdout)
	}
	cli("report", "--state", "done").check(t, ExitUsage, `--state "done": unknown state`)

	// sbatch's short flags: -p, -N, -t, -J; -A names a team, which the hub
	// checks (alice is in none).
	cli("submit", "--app", "solver", "-p", "n1", "-N", "3", "-t", "45", "-J", "short").check(t, ExitOK, "(number 8)")
	cli("status", "8").check(t, ExitOK, "Machine type: n1", "Nodes:        3", "45m0s", "short")
	cli("submit", "--app", "solver", "-p", "n1", "-A", "physics").check(t, ExitDenied, `team "physics": not a member`)
}
