package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// headLog stands in for the kubelet's log of a job's head: kwok runs no
// containers, so the agent reads the log through this fake.
type headLog struct {
	mu    sync.Mutex
	lines []string
	pods  map[string]bool // pods whose log was read
	reads int
}

func (h *headLog) add(lines ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, lines...)
}

func (h *headLog) read(_ context.Context, pod *corev1.Pod, _ string, _, _ int64) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pods[pod.Name] = true
	h.reads++
	if len(h.lines) == 0 {
		return nil, nil
	}
	return []byte(strings.Join(h.lines, "\n") + "\n"), nil // the whole log: the agent bounds it
}

// TestJarviceTailWhileRunning: while a job runs, the agent reads its
// head's log every LiveTailEvery and reports the tail when it changed,
// bounded to the last LogTailLines lines; /jarvice/tail, the job's REST
// record and the portal's source of truth (the job's log_tail) show the
// latest lines of the running job, /jarvice/tail's lines argument cuts
// them further, and /jarvice/output refuses a running job. Once the head
// exits, /jarvice/output has the final tail and /jarvice/tail refuses.
func TestJarviceTailWhileRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("needs real control planes (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := &headLog{pods: map[string]bool{}}
	f := startFed(t, 1, map[string][]k8senv.NodeSpec{"east": nodes("east", 1, "16")})
	f.agentAdjust = func(c *agent.ClusterConfig) {
		c.LiveTailEvery, c.LogTailLines, c.Logs = 300*time.Millisecond, 20, log.read
	}
	f.addCluster(ctx, "east", nil)
	adm := f.admin
	if _, err := adm.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutMachineType(ctx, &structs.MachineType{Name: "cpu", Cores: 16, Slots: 16, RAM: 32, Cluster: "east", ScaleMax: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic,
		AppDef: structs.AppDef{Name: "solver", Commands: map[string]structs.Command{"run": {Path: "/opt/run.sh", Name: "Run"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutUser(ctx, "ann", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}); err != nil {
		t.Fatal(err)
	}
	key, err := adm.CreateAPIKey(ctx, "ann", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	ann := f.clientFor(key.Key)
	base := f.hubs.URL(f.live())
	get := func(endpoint string, kv ...string) (int, string) {
		v := url.Values{"username": {"ann"}, "apikey": {key.Key}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		code, body := jarviceGet(ctx, t, base, endpoint, v)
		return code, string(body)
	}

	job := submit(ctx, t, ann, "solver", "cpu", 1)
	job = waitJob(ctx, t, ann, job.ID, "running", running)
	num := itoa(job.Number)
	runningSub := job.Substatus
	if code, body := get("tail", "number", num); code != 200 || body != "" {
		t.Errorf("tail before any output: %d %q", code, body)
	}

	log.add("step 1")
	waitCond(ctx, t, "the tail shows step 1", func() bool { _, b := get("tail", "number", num); return b == "step 1\n" })
	for i := range 200 {
		log.add(fmt.Sprintf("line %d", i))
	}
	var tail string
	waitCond(ctx, t, "the tail shows line 199", func() bool {
		_, tail = get("tail", "name", job.Name)
		return strings.HasSuffix(tail, "line 199\n")
	})
	if lines := strings.Split(strings.TrimSuffix(tail, "\n"), "\n"); len(lines) != 20 || lines[0] != "line 180" {
		t.Errorf("tail holds %d lines from %q, want the last 20 (line 180..199)", len(lines), lines[0])
	}
	if _, b := get("tail", "number", num, "lines", "2"); b != "line 198\nline 199\n" {
		t.Errorf("tail lines=2: %q", b)
	}
	j, err := ann.GetJob(ctx, job.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != structs.JobRunning || j.LogTail != tail || j.Substatus != runningSub {
		t.Errorf("REST job while running: state %s substatus %q (was %q) log tail %q", j.State, j.Substatus, runningSub, j.LogTail)
	}
	if code, b := get("output", "number", num); code != 400 || !strings.Contains(b, "/jarvice/tail") {
		t.Errorf("output of a running job: %d %s", code, b)
	}

	// The head exits: the final tail is the output.
	log.add("done")
	ns := podgroup.TenantNamespace(podgroup.DefaultNamespacePrefix, "acme")
	head := podgroup.PodName(job.Number, 0)
	if !log.readOf(head) {
		t.Errorf("the agent read the logs of %v, want the head %s", log.pods, head)
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"0s"}}}`, k8senv.AnnotationSucceedAfter)
	if _, err := f.envs["east"].Client.CoreV1().Pods(ns).Patch(ctx, head, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitJob(ctx, t, ann, job.ID, "completed", func(j *structs.Job) bool { return j.State == structs.JobCompleted })
	if code, b := get("output", "number", num); code != 200 || !strings.HasSuffix(b, "line 199\ndone\n") {
		t.Errorf("output of the ended job: %d %q", code, b)
	}
	if code, b := get("tail", "number", num); code != 404 || b != "{\n    \"error\": \"Running job is not found\"\n}\n" {
		t.Errorf("tail of an ended job: %d %q, want the reference's 404 body", code, b)
	}
}

func (h *headLog) readOf(pod string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pods[pod]
}
