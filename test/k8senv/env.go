// Package k8senv starts real Kubernetes control planes for tests, benchmarks
// and the demo: etcd, kube-apiserver, kube-controller-manager, kwok (simulated
// nodes and pod lifecycle) and optionally kube-scheduler, all on free loopback
// ports, all stopped by PID at cleanup. Binaries come from ./bin (`make tools`).
package k8senv

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/flotilla-hpc/flotilla/test/proc"
)

//go:embed kwok-stages.yaml
var kwokStages []byte

// Options selects what a control plane runs.
type Options struct {
	// Name labels the control plane in logs and file names (e.g. "east").
	Name string
	// Dir holds data, certificates and logs; a temporary directory if empty.
	Dir string
	// Scheduler also starts kube-scheduler (for pods naming default-scheduler).
	Scheduler bool
	// NoControllerManager skips kube-controller-manager (no GC, no default
	// ServiceAccounts; the ServiceAccount admission plugin is then disabled).
	NoControllerManager bool
	// SchedulerQPS and SchedulerBurst set kube-scheduler's client limits
	// (0 keeps its defaults of 50/100).
	SchedulerQPS, SchedulerBurst int
	// ClientQPS and ClientBurst set the returned rest.Config's limits
	// (defaults 5000/10000: tests and benchmarks must not throttle themselves).
	ClientQPS, ClientBurst int
	// StartTimeout bounds the whole start (default 5 min: ~3.5 s on a quiet
	// machine, ~80 s was seen at load average 50 on 2 cores, more than 3
	// min at load 25-40 with the tests at nice 19 beside other work). It
	// only matters when a start fails.
	StartTimeout time.Duration
	// TokenWebhookURL, when set, is a token review webhook the API server
	// asks about bearer tokens it does not know (as a managed cluster's
	// API server asks its cloud).
	TokenWebhookURL string
	// Profiling serves the API server's /debug/pprof (APIServerProfile);
	// off by default, as on a production API server.
	Profiling bool
}

// Env is one running control plane.
type Env struct {
	Name string
	Dir  string
	// Config is an admin rest.Config for the API server.
	Config *rest.Config
	// Kubeconfig is the path of an admin kubeconfig file.
	Kubeconfig string
	// Client is a clientset built from Config.
	Client kubernetes.Interface
	// APIServerURL is https://127.0.0.1:PORT.
	APIServerURL string
	// CAFile is the cluster CA's certificate (PEM). It also signs the
	// client certificate the API server presents to kubelets (local nodes
	// require it for their log endpoint).
	CAFile string

	mu      sync.Mutex
	procs   []*proc.Process // in start order; stopped in reverse
	stopped bool
	tmpDir  bool
}

// Start brings up a control plane for a test and stops it at cleanup, also
// when the test fails. A missing binary fails the test with how to build it.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	env, err := StartEnv(context.Background(), opts)
	if err != nil {
		t.Fatalf("k8senv: start %q: %v", opts.Name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			env.dumpLogs(t)
		}
		env.Stop()
	})
	return env
}

// StartEnv brings up a control plane outside a test (demo, benchmarks). The
// caller must call Stop.
func StartEnv(ctx context.Context, opts Options) (*Env, error) {
	if opts.Name == "" {
		opts.Name = "cluster"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 5 * time.Minute
	}
	if opts.ClientQPS == 0 {
		opts.ClientQPS, opts.ClientBurst = 5000, 10000
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	env := &Env{Name: opts.Name, Dir: opts.Dir}
	if env.Dir != "" {
		abs, err := filepath.Abs(env.Dir)
		if err != nil {
			return nil, err
		}
		env.Dir = abs
	}
	if env.Dir == "" {
		d, err := os.MkdirTemp("", "flotilla-k8s-"+opts.Name+"-")
		if err != nil {
			return nil, err
		}
		env.Dir, env.tmpDir = d, true
	}
	if err := env.start(ctx, opts); err != nil {
		tail := env.failureTails()
		env.Stop()
		return nil, fmt.Errorf("%w\n%s", err, tail)
	}
	return env, nil
}

func (e *Env) start(ctx context.Context, opts Options) error {
	bins := map[string]string{}
	need := []string{"etcd", "kube-apiserver", "kwok"}
	if !opts.NoControllerManager {
		need = append(need, "kube-controller-manager")
	}
	for _, n := range need {
		p, err := proc.FindBin(n)
		if err != nil {
			return err
		}
		bins[n] = p
	}
	certDir := filepath.Join(e.Dir, "pki")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	pk, err := newPKI(certDir)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	ports, err := proc.FreePorts(7)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer, apiPort, kcmPort, kwokPort := ports[0], ports[1], ports[2], ports[3], ports[4]

	// etcd
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	if err := e.spawn("etcd", bins["etcd"], []string{
		"--name", "etcd-" + opts.Name,
		"--data-dir", filepath.Join(e.Dir, "etcd"),
		"--listen-client-urls", etcdURL,
		"--advertise-client-urls", etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPeer),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPeer),
		"--initial-cluster", fmt.Sprintf("etcd-%s=http://127.0.0.1:%d", opts.Name, etcdPeer),
		"--unsafe-no-fsync",
		"--quota-backend-bytes", strconv.Itoa(4 << 30),
		"--log-level", "warn",
	}); err != nil {
		return err
	}
	if err := waitHTTP(ctx, &http.Client{Timeout: 2 * time.Second}, etcdURL+"/health", e.procs[0]); err != nil {
		return fmt.Errorf("etcd not healthy: %w", err)
	}

	// kube-apiserver
	e.APIServerURL = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	// No node-lifecycle controller runs (kwok nodes have no kubelet leases),
	// so nothing would lift the not-ready taint TaintNodesByCondition adds.
	admission := []string{"--disable-admission-plugins", "TaintNodesByCondition"}
	if opts.NoControllerManager {
		admission = []string{"--disable-admission-plugins", "ServiceAccount,TaintNodesByCondition"}
	}
	apiArgs := append([]string{
		"--etcd-servers", etcdURL,
		"--etcd-prefix", "/registry-" + opts.Name,
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(apiPort),
		"--cert-dir", certDir,
		"--tls-cert-file", pk.ServingCert,
		"--tls-private-key-file", pk.ServKey,
		"--client-ca-file", pk.CACert,
		"--service-account-key-file", pk.SAPub,
		"--service-account-signing-key-file", pk.SAKey,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-cluster-ip-range", "10.0.0.0/24",
		// To kubelets (local nodes' log endpoint) as the admin.
		"--kubelet-client-certificate", pk.AdminCert,
		"--kubelet-client-key", pk.AdminKey,
		"--endpoint-reconciler-type", "none",
		"--authorization-mode", "RBAC",
		"--allow-privileged=true",
		"--max-requests-inflight", "2000",
		"--max-mutating-requests-inflight", "1000",
		"--enable-priority-and-fairness=false",
		"--profiling=" + strconv.FormatBool(opts.Profiling),
		"--v", "0",
	}, admission...)
	if opts.TokenWebhookURL != "" {
		path := filepath.Join(e.Dir, "token-webhook.kubeconfig")
		if err := writeWebhookKubeconfig(path, opts.TokenWebhookURL); err != nil {
			return err
		}
		apiArgs = append(apiArgs, "--authentication-token-webhook-config-file", path,
			"--authentication-token-webhook-version", "v1", "--authentication-token-webhook-cache-ttl", "0s")
	}
	if err := e.spawn("kube-apiserver", bins["kube-apiserver"], apiArgs); err != nil {
		return err
	}
	e.Config = &rest.Config{
		Host: e.APIServerURL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   pk.caPEM,
			CertData: pk.adminCertPEM,
			KeyData:  pk.adminKeyPEM,
		},
		QPS:   float32(opts.ClientQPS),
		Burst: opts.ClientBurst,
	}
	e.CAFile = pk.CACert
	e.Kubeconfig = filepath.Join(e.Dir, "kubeconfig")
	if err := writeKubeconfig(e.Kubeconfig, opts.Name, e.APIServerURL, pk); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	e.Client = cs
	if err := e.waitReady(ctx); err != nil {
		return fmt.Errorf("kube-apiserver not ready: %w", err)
	}

	// kube-controller-manager: GC, namespaces, service accounts, Jobs.
	if !opts.NoControllerManager {
		if err := e.spawn("kube-controller-manager", bins["kube-controller-manager"], []string{
			"--kubeconfig", e.Kubeconfig,
			"--authentication-kubeconfig", e.Kubeconfig,
			"--authorization-kubeconfig", e.Kubeconfig,
			"--bind-address", "127.0.0.1",
			"--secure-port", strconv.Itoa(kcmPort),
			"--cert-dir", filepath.Join(e.Dir, "kcm-certs"),
			"--service-account-private-key-file", pk.SAKey,
			"--root-ca-file", pk.CACert,
			"--cluster-signing-cert-file", pk.CACert,
			"--cluster-signing-key-file", pk.CAKey,
			"--leader-elect=false",
			"--use-service-account-credentials=false",
			"--controllers", "*,-nodeipam,-node-lifecycle-controller",
			"--kube-api-qps", "1000", "--kube-api-burst", "2000",
			"--concurrent-gc-syncs", "20",
			"--v", "0",
		}); err != nil {
			return err
		}
	}

	// kwok: simulated nodes and pod lifecycle.
	stagesPath := filepath.Join(e.Dir, "kwok.yaml")
	if err := os.WriteFile(stagesPath, kwokStages, 0o600); err != nil {
		return err
	}
	if err := e.spawn("kwok", bins["kwok"], []string{
		"--kubeconfig", e.Kubeconfig,
		"--config", stagesPath,
		// Only the simulated nodes (NodeSpec.Node annotates them); local
		// nodes (flotilla-localnode) run their own pods.
		"--manage-nodes-with-annotation-selector", kwokNodeAnnotation + "=" + kwokNodeValue,
		"--server-address", fmt.Sprintf("127.0.0.1:%d", kwokPort),
		"--cidr", "10.244.0.0/16",
		"--node-ip", "10.240.0.1",
	}); err != nil {
		return err
	}

	if opts.Scheduler {
		if err := e.StartScheduler(opts.SchedulerQPS, opts.SchedulerBurst); err != nil {
			return err
		}
	}
	if !opts.NoControllerManager {
		if err := e.WaitServiceAccount(ctx, "default"); err != nil {
			return fmt.Errorf("default service account: %w", err)
		}
	}
	return e.checkAlive()
}

// StartScheduler starts kube-scheduler (client limits qps/burst; 0 keeps its
// defaults). Benchmarks start it after creating their pods, to time
// scheduling apart from pod creation.
func (e *Env) StartScheduler(qps, burst int) error {
	bin, err := proc.FindBin("kube-scheduler")
	if err != nil {
		return err
	}
	ports, err := proc.FreePorts(1)
	if err != nil {
		return err
	}
	args := []string{
		"--kubeconfig", e.Kubeconfig,
		"--authentication-kubeconfig", e.Kubeconfig,
		"--authorization-kubeconfig", e.Kubeconfig,
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(ports[0]),
		"--cert-dir", filepath.Join(e.Dir, "sched-certs"),
		"--leader-elect=false",
		"--v", "0",
	}
	if qps > 0 {
		args = append(args, "--kube-api-qps", strconv.Itoa(qps), "--kube-api-burst", strconv.Itoa(burst))
	}
	return e.spawn("kube-scheduler", bin, args)
}

// StopScheduler stops a running kube-scheduler.
func (e *Env) StopScheduler() {
	e.mu.Lock()
	var keep []*proc.Process
	var stop []*proc.Process
	for _, p := range e.procs {
		if p.Name == "kube-scheduler" {
			stop = append(stop, p)
		} else {
			keep = append(keep, p)
		}
	}
	e.procs = keep
	e.mu.Unlock()
	for _, p := range stop {
		p.Stop(10 * time.Second)
	}
}

func (e *Env) spawn(name, bin string, args []string) error {
	p, err := proc.Start(e.Dir, name, bin, args, proc.Options{})
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	return nil
}

// checkAlive fails if any started process has exited.
func (e *Env) checkAlive() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.procs {
		if p.Exited() {
			return fmt.Errorf("%s exited early: %v", p.Name, p.Err())
		}
	}
	return nil
}

// waitReady polls /readyz until it answers ok, a process dies or ctx ends.
func (e *Env) waitReady(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if err := e.checkAlive(); err != nil {
			return err
		}
		body, err := e.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// WaitServiceAccount waits until the namespace's default ServiceAccount
// exists (pods cannot be created before that when the controller manager runs).
func (e *Env) WaitServiceAccount(ctx context.Context, namespace string) error {
	return poll(ctx, 100*time.Millisecond, func() (bool, error) {
		_, err := e.Client.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, e.checkAlive()
		}
		return err == nil, nil
	})
}

// CreateNamespace creates a namespace and waits until pods can be created in it.
func (e *Env) CreateNamespace(ctx context.Context, name string) error {
	_, err := e.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if e.hasProcess("kube-controller-manager") {
		return e.WaitServiceAccount(ctx, name)
	}
	return nil
}

func (e *Env) hasProcess(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.procs {
		if p.Name == name {
			return true
		}
	}
	return false
}

// PIDs returns the process ids of everything this control plane started.
func (e *Env) PIDs() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	for _, p := range e.procs {
		out[p.Name] = p.Pid()
	}
	return out
}

// Stop stops every process in reverse start order. Safe to call twice.
func (e *Env) Stop() {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.stopped = true
	procs := append([]*proc.Process(nil), e.procs...)
	e.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(10 * time.Second)
	}
	if e.tmpDir {
		_ = os.RemoveAll(e.Dir)
	}
}

func (e *Env) failureTails() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var s string
	for _, p := range e.procs {
		s += fmt.Sprintf("--- %s (%s) ---\n%s\n", p.Name, p.LogPath, p.Tail(15))
	}
	return s
}

func (e *Env) dumpLogs(t testing.TB) {
	t.Logf("k8senv %q logs:\n%s", e.Name, e.failureTails())
}

func waitHTTP(ctx context.Context, c *http.Client, url string, p *proc.Process) error {
	return poll(ctx, 50*time.Millisecond, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("%s exited: %v\n%s", p.Name, p.Err(), p.Tail(20))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// poll calls cond every interval until it returns true, an error, or ctx ends.
func poll(ctx context.Context, interval time.Duration, cond func() (bool, error)) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), errors.New("condition not met before deadline"))
		case <-tick.C:
		}
	}
}
