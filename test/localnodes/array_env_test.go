package localnodes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// The array tests share one setup (a hub, a control plane with four local
// nodes of eight cores, its agent, a tenant and a user), started by the
// first of them and stopped after the last (TestMain): each test adds its
// own app, task script and directory under /shared, and runs its own job.

// arrayEnv is the shared setup.
type arrayEnv struct {
	env        *k8senv.Env
	hubs       *procenv.Hubs
	agent      *procenv.Agent
	ln         *Process
	admin      *client.Client
	alice      *client.Client
	aliceKey   string // alice's API key (for the CLI)
	sharedRoot string // host side of /shared
	pub        string // scripts
}

// arrayTest is one test's part of it: its app runs script, which sees
// its own directory as $S (host side: shared).
type arrayTest struct {
	*arrayEnv
	app    string
	shared string
	script string
}

var suite struct {
	once sync.Once
	tb   *suiteTB
	a    *arrayEnv
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if suite.tb != nil {
		suite.tb.cleanup()
	}
	os.Exit(code)
}

// startArrayEnv returns the shared setup (started on first use) with an
// app for this test whose task script runs task (sh) with S set to the
// test's shared directory.
func startArrayEnv(ctx context.Context, t *testing.T, name, task string) *arrayTest {
	t.Helper()
	needLocalNodes(t)
	suite.once.Do(func() {
		suite.tb = &suiteTB{}
		start := time.Now()
		suite.a, suite.err = startSharedArrayEnv(ctx, suite.tb)
		t.Logf("shared array setup started in %s", time.Since(start).Round(time.Millisecond))
	})
	if suite.err != nil {
		t.Fatalf("shared array setup: %v", suite.err)
	}
	a := suite.a
	t.Cleanup(func() {
		if t.Failed() {
			suite.tb.failed = true // the shared processes' logs are dumped at the end
			t.Logf("flotilla-localnode log:\n%s", a.ln.Tail(40))
		}
	})
	at := &arrayTest{arrayEnv: a, app: "tasks-" + name, shared: filepath.Join(a.sharedRoot, name),
		script: filepath.Join(a.pub, "task-"+name+".sh")}
	os.RemoveAll(at.shared)
	if err := os.MkdirAll(at.shared, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(at.shared, 0o777)
	writeExec(t, at.script, "#!/bin/sh\nS=/shared/"+name+"\n"+task)
	param := structs.Parameter{Name: "Index", Type: structs.ParamString, Positional: true, Required: true}
	if _, err := a.admin.PutApp(ctx, &structs.App{Name: at.app, Visibility: structs.VisibilityPublic, Image: "debian:stable",
		AppDef: structs.AppDef{Name: "array tasks " + name, Commands: map[string]structs.Command{
			"run": {Path: at.script, Name: "Run", Parameters: map[string]structs.Parameter{"index": param}, ParameterOrder: []string{"index"}},
		}}}); err != nil {
		t.Fatal(err)
	}
	return at
}

// startSharedArrayEnv starts the shared setup; its processes and files go
// when tb's cleanups run.
func startSharedArrayEnv(ctx context.Context, tb *suiteTB) (a *arrayEnv, err error) {
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(suiteFatal); ok {
				err = f
				return
			}
			panic(r)
		}
	}()
	a = &arrayEnv{}
	a.hubs = procenv.StartHubs(tb, procenv.HubOptions{Replicas: 1})
	const name = "arr"
	a.env = k8senv.Start(tb, k8senv.Options{Name: name})
	var nodes []string
	for i := range arrayNodes {
		nodes = append(nodes, fmt.Sprintf("%s-l%d", name, i))
	}
	id := fmt.Sprintf("%06x", time.Now().UnixNano()&0xffffff)
	ln, err := Start(ctx, a.env.Client, Options{
		Name: name, Nodes: nodes, CPU: strconv.Itoa(arraySlots), Memory: "16Gi",
		Prefix: "fa" + id, Subnet: "10.220.0.0/23", Kubeconfig: a.env.Kubeconfig, ClientCA: a.env.CAFile, Dir: tb.TempDir(),
	})
	if err != nil {
		return nil, err
	}
	a.ln = ln
	tb.Cleanup(ln.Remove)

	// Files every user may read and write: the task scripts and /shared.
	if a.pub, err = os.MkdirTemp("", "flotilla-array-"); err != nil {
		return nil, err
	}
	tb.Cleanup(func() { os.RemoveAll(a.pub) })
	a.sharedRoot = filepath.Join(a.pub, "shared")
	for _, d := range []string{a.pub, a.sharedRoot} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return nil, err
		}
		os.Chmod(d, 0o777)
	}
	a.admin = a.hubs.Client(a.hubs.AdminKey)
	steps := []func() error{
		func() error { _, err := a.admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}); return err },
		func() error { _, err := a.admin.PutCluster(ctx, name, &structs.ClusterSpec{Zone: "z1"}); return err },
		func() error {
			_, err := a.admin.PutMachineType(ctx, &structs.MachineType{Name: "l8", Cores: arraySlots, Slots: arraySlots, RAM: 1,
				ScaleMin: 1, ScaleMax: arrayNodes, Cluster: name, Properties: Label + "=true",
				Devices: a.sharedRoot + "=/shared:rw"})
			return err
		},
		func() error {
			_, err := a.admin.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser})
			return err
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	key, err := a.admin.CreateAPIKey(ctx, "alice", "array")
	if err != nil {
		return nil, err
	}
	tok, err := a.admin.CreateBootstrapToken(ctx, name)
	if err != nil {
		return nil, err
	}
	a.alice, a.aliceKey = a.hubs.Client(key.Key), key.Key
	a.agent = procenv.StartAgent(tb, procenv.AgentOptions{Cluster: name, HubURLs: a.hubs.URLs(),
		Kubeconfig: a.env.Kubeconfig, BootstrapToken: tok.Key, Args: []string{"-pod-security=privileged"}}) // host binds
	return a, nil
}

// suiteTB is the testing.TB the shared setup's harnesses get: it lives
// from the first array test to the end of the package's tests. Only the
// methods below are used by procenv and k8senv; Fatal panics with a
// suiteFatal that startSharedArrayEnv turns into its error.
type suiteTB struct {
	testing.TB // nil: any other method is not expected
	mu         sync.Mutex
	cleanups   []func()
	failed     bool
}

type suiteFatal string

func (f suiteFatal) Error() string { return string(f) }

func (s *suiteTB) Helper()      {}
func (s *suiteTB) Name() string { return "array-suite" }
func (s *suiteTB) Failed() bool { return s.failed }
func (s *suiteTB) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}
func (s *suiteTB) TempDir() string {
	d, err := os.MkdirTemp("", "flotilla-array-suite-")
	if err != nil {
		s.Fatal(err)
	}
	s.Cleanup(func() { os.RemoveAll(d) })
	return d
}
func (s *suiteTB) Log(args ...any)                 { fmt.Fprintln(os.Stderr, args...) }
func (s *suiteTB) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (s *suiteTB) Error(args ...any)               { s.failed = true; s.Log(args...) }
func (s *suiteTB) Errorf(format string, args ...any) {
	s.failed = true
	s.Logf(format, args...)
}
func (s *suiteTB) Fatal(args ...any) { s.failed = true; panic(suiteFatal(fmt.Sprint(args...))) }
func (s *suiteTB) Fatalf(format string, args ...any) {
	s.failed = true
	panic(suiteFatal(fmt.Sprintf(format, args...)))
}

// cleanup runs the cleanups, last first (a panic in one is reported and
// the others still run).
func (s *suiteTB) cleanup() {
	s.mu.Lock()
	fs := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if r := recover(); r != nil {
					fmt.Fprintln(os.Stderr, "array suite cleanup:", r)
				}
			}()
			fs[i]()
		}()
	}
}
