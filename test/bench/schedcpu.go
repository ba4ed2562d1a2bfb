package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// protoClient is a clientset on env's admin config that talks protobuf,
// as kube-scheduler's client and the agent's do, without gzip, as the
// agent's does (agent.WireConfig): every client of the
// scheduler table (the agent, the ceilings' clients, the clients creating
// kube-scheduler's pods) uses it, so no row pays JSON where another does not.
// With -sched-default-content the clients keep client-go's defaults
// instead: protobuf for the generated calls (create, get, list, watch),
// JSON for the hand-written ones, pods/binding among them (the figures
// before the agent set its content type).
func protoClient(env *k8senv.Env) (kubernetes.Interface, error) {
	cfg := *env.Config
	cfg.Dial = countDials
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countPosts{rt} }
	if schedDefaultContent {
		return kubernetes.NewForConfig(&cfg)
	}
	return kubernetes.NewForConfig(agent.WireConfig(&cfg))
}

// schedDefaultContent is -sched-default-content.
var schedDefaultContent bool

// usage is what a measured stretch cost, per pod: the CPU and heap
// allocations of the benchmark process (in the Flotilla rows that is the
// agent: its informers, cache, scheduling and API calls), and the CPU of
// the API server and of kube-scheduler (0 when not running).
type usage struct {
	selfUs, selfAllocs, apiUs, schedUs float64
	// totalUs adds the CPU of etcd, kwok and kube-controller-manager:
	// every process of the control plane and the benchmark, the figure a
	// CPU-bound machine divides its cores by.
	totalUs float64
	dials   int64 // connections the table's clients opened
	// requests are the API server's requests and watch events per pod
	// in the stretch, by kind (its /metrics), one per line.
	requests string
	// wall is the stretch's length; procs is each process's CPU in it
	// (the benchmark process as "bench"), for the per-second view.
	wall  time.Duration
	procs map[string]time.Duration
	pods  int
	// running is the create rows' first create to every pod Running.
	running time.Duration
}

// runningRate is pods per second from the first create to every pod
// Running (0 when not measured).
func (u usage) runningRate() float64 {
	if u.running <= 0 {
		return 0
	}
	return round1(float64(u.pods) / u.running.Seconds())
}

// meter measures a stretch of a row; stop divides by the pods it handled.
type meter struct {
	env              *k8senv.Env
	t0               time.Time
	cpu0             map[string]time.Duration
	self, api, sched time.Duration
	rest             time.Duration // etcd, kwok, kube-controller-manager
	allocs           uint64
	dials            int64
	apiPid, schedPid int
	counts           apiCounts
	profile          *apiProfile
}

func startMeter(env *k8senv.Env) *meter {
	pids := env.PIDs()
	m := &meter{env: env, apiPid: pids["kube-apiserver"], schedPid: pids["kube-scheduler"]}
	m.self, m.allocs, m.dials = processCPU(), heapAllocs(), dials.Load()
	m.api, m.sched, m.rest = childCPU(m.apiPid), childCPU(m.schedPid), m.restCPU()
	m.counts = scrapeAPI(env)
	m.profile = startAPIProfile(env)
	m.t0, m.cpu0 = time.Now(), processesCPU(env)
	return m
}

func (m *meter) stop(pods int) usage {
	if pods <= 0 {
		return usage{}
	}
	per := func(d time.Duration) float64 { return round1(float64(d.Microseconds()) / float64(pods)) }
	u := usage{selfUs: per(processCPU() - m.self), selfAllocs: round1(float64(heapAllocs()-m.allocs) / float64(pods)),
		apiUs: per(childCPU(m.apiPid) - m.api), dials: dials.Load() - m.dials}
	if m.schedPid != 0 {
		u.schedUs = per(childCPU(m.schedPid) - m.sched)
	}
	u.totalUs = round1(u.selfUs + u.apiUs + u.schedUs + per(m.restCPU()-m.rest))
	u.wall, u.pods, u.procs = time.Since(m.t0), pods, processesCPU(m.env)
	for k, v := range u.procs {
		u.procs[k] = v - m.cpu0[k]
	}
	if m.schedPid != 0 && m.sched == 0 { // kube-scheduler started in the stretch
		u.procs["kube-scheduler"] = childCPU(m.schedPid)
	}
	u.requests = scrapeAPI(m.env).perPod(m.counts, pods)
	defer m.profile.wait()
	return u
}

func (u usage) String() string {
	s := fmt.Sprintf("bench process %.0f µs/pod %.0f allocs/pod, kube-apiserver %.0f µs/pod, kube-scheduler %.0f µs/pod, all processes %.0f µs/pod, %d connections opened",
		u.selfUs, u.selfAllocs, u.apiUs, u.schedUs, u.totalUs, u.dials)
	s += "\n" + u.perSecond()
	if u.requests != "" {
		s += "\n  kube-apiserver per pod (requests by verb, resource, code; watch events and bytes sent):\n" + u.requests
	}
	return s
}

// dials counts the connections the table's clients opened (each costs a
// TLS handshake on both sides).
var dials atomic.Int64

func countDials(ctx context.Context, network, addr string) (net.Conn, error) {
	dials.Add(1)
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// heapAllocs is the number of heap objects this process allocated so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// childCPU is the CPU time (user and system) another process used so far,
// from /proc (0 if it cannot be read).
func childCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from after ")".
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times (100 on Linux).
const clockTicks = 100

// startMeterFrom adds to m a kube-scheduler started after it: all of that
// process's CPU counts (its start and its informers' first list included,
// as the agent's start is in the Flotilla rows).
func startMeterFrom(env *k8senv.Env, m *meter) *meter {
	m.schedPid, m.sched = env.PIDs()["kube-scheduler"], 0
	return m
}

// addIf adds the line when the rows it comes from ran (-sched-rows).
func (r *report) addIf(ran bool, name string, value float64, unit, label string) {
	if ran {
		r.add(name, value, unit, label)
	}
}

// schedRunner is -sched-runner: none, shared or own.
var schedRunner string

// schedRows is -sched-rows: the scheduler table's rows to run (empty: all).
var schedRows string

// schedRow reports whether the row runs: ks-single, fl-single, ks-gang,
// fl-gang, bind-ceiling, create-ceiling, fl-create, ks-create.
func schedRow(name string) bool {
	return schedRows == "" || strings.Contains(","+schedRows+",", ","+name+",")
}

// restCPU is the CPU etcd, kwok and kube-controller-manager used so far.
func (m *meter) restCPU() time.Duration {
	pids := m.env.PIDs()
	return childCPU(pids["etcd"]) + childCPU(pids["kwok"]) + childCPU(pids["kube-controller-manager"])
}

// waitStarted waits (at most two minutes) until no pod of ns is Pending:
// kwok has made every pod of the row Running, so the row's figures carry
// kwok's status patch of each of its pods. settle alone did not: under
// load kwok's patches queue while its CPU looks idle, and rows closed
// with 0.43-0.69 status patches per pod. The query is served from the
// API server's watch cache.
// It returns when the last pod was seen Running (to 100 ms).
func waitStarted(ctx context.Context, env *k8senv.Env, ns string) time.Time {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		l, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Pending", Limit: 1})
		if err == nil && len(l.Items) == 0 {
			return time.Now()
		}
		select {
		case <-ctx.Done():
			return time.Now()
		case <-time.After(100 * time.Millisecond):
		}
	}
	fmt.Fprintf(os.Stderr, "bench: pods of %s still Pending after 2 minutes\n", ns)
	return time.Now()
}

// settle waits until kwok is done (at most a minute): its work lags
// behind a fast row (status patches of new pods, deletes after a drain,
// readying thousands of new nodes), and without this a row's figures
// carried what kwok still did for the row before it (seen as ~0.6 failed
// DELETEs per pod in the pre-placed row, kwok deleting the raw row's
// pods again). Done means, over half a second, kwok under 2 % of a core
// and, with writes (between rows: a scrape of the API server's metrics
// costs the benchmark process, which a row's figures must not carry), at
// most five writes at the API server (leases and the like): kwok,
// rate-limited, kept readying 5,000 nodes at a low CPU.
func settle(ctx context.Context, env *k8senv.Env, writes bool) {
	pid := env.PIDs()["kwok"]
	const window = 500 * time.Millisecond
	count := func() float64 {
		if !writes {
			return 0
		}
		return scrapeAPI(env).writes()
	}
	lastCPU, lastWrites := childCPU(pid), count()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return
		case <-time.After(window):
		}
		cpu, w := childCPU(pid), count()
		if cpu-lastCPU < window/50 && w-lastWrites <= 5 {
			return
		}
		lastCPU, lastWrites = cpu, w
	}
}
