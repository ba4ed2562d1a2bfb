package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/localnodes"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// TestNoSecretsInLogs runs the shipped binaries with TLS on — three
// flotilla-hub processes and a flotilla-agent process on a real control
// plane — through an end-to-end run: a user with a password and an API
// key, failed logins with a wrong password and a wrong key, agent
// registration with a bootstrap token, a batch job and an interactive job
// run and canceled, and a private app whose image is in a registry that
// wants basic auth: registered with its pull credential, read and
// pulled by the agent with it, a job of it run with its pull Secret, the
// credential refused once (a bad document quoting the password), removed
// and set again. Then every process's log, the audit trail and the job
// events are searched for every secret used: the administrator's key,
// the internal secret, the user's password and key (and the wrong ones
// tried), the bootstrap token, the agent key, the jobs' SSH private keys,
// the interactive token and the pull credential (its auth string, the
// user:password it encodes, the password). None may appear.
func TestNoSecretsInLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs real control planes and the built binaries (FLOTILLA_BIN: etcd, kube-apiserver, kwok from make tools; flotilla-hub, flotilla-agent from make build)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const password = "correct-horse-battery-staple-7731"
	const wrongPassword = "wrong-horse-battery-staple-1377"
	f := startProcFed(ctx, t, procFedOptions{hubs: procenv.HubOptions{Args: []string{"-dispatch-interval", "250ms"}}, nodes: 4,
		password: password, commands: map[string]structs.Command{
			"run":  {Path: "/opt/run.sh", Name: "Run"},
			"desk": {Path: "/usr/bin/jupyter-lab", Name: "Lab", Interactive: true, Ports: []string{"8888/tcp"}},
		}})
	hubs, env, admin := f.hubs, f.env, f.admin
	// A private app: its image is in a registry that wants the pull
	// credential, which the agent reads and pulls it with.
	const pullUser, pullPassword = "robot", "pull-pass-never-logged-5521"
	regHost := testRegistry(t, pullUser, pullPassword)
	privRef := regHost + "/private/solver:1"
	pushImage(t, privRef, "amd64", map[string][]byte{"etc/NAE/AppDef.json": []byte(solverAppDef)}, nil,
		remote.WithAuth(&authn.Basic{Username: pullUser, Password: pullPassword}))
	pullCred := dockerConfig(regHost, pullUser, pullPassword)
	// Its job runs on a local node, as processes: flotilla-init's own log
	// is searched too.
	ln, run := startLocalNode(ctx, t, env, "fns", "10.217.0.0/24"), waitingCommand(t)
	must(t)(admin.PutMachineType(ctx, &structs.MachineType{Name: "cpu-local", Cores: 1, Slots: 1, RAM: 1, ScaleMin: 1, ScaleMax: 1,
		Cluster: "east", Properties: localnodes.Label + "=true"}))
	// The image's AppDef with the run command at the script: the document
	// is what an AppDef encodes to (structs.AppDef keeps it), so the path
	// is changed in the document, not in the decoded fields.
	runPath, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	var def structs.AppDef
	if err := def.UnmarshalJSON([]byte(strings.Replace(solverAppDef, `"/opt/solver/run.sh"`, string(runPath), 1))); err != nil {
		t.Fatal(err)
	}
	must(t)(admin.PutApp(ctx, &structs.App{Name: "private", Visibility: structs.VisibilityPublic, Image: privRef, AppDef: def, PullSecret: pullCred}))
	if app, err := admin.GetApp(ctx, "private"); err != nil {
		t.Fatal(err)
	} else if got := app.AppDef.Commands["run"].Path; got != run {
		t.Fatalf("the hub stores the private app's run command at %q, want %q", got, run)
	}
	dir := t.TempDir()
	agentProc := procenv.StartAgent(t, procenv.AgentOptions{Cluster: "east", HubURLs: hubs.URLs(), Kubeconfig: env.Kubeconfig,
		BootstrapToken: f.token, Dir: dir, Args: []string{"-heartbeat", "300ms", "-jobs-domain", "jobs.test"}})

	// Logins: the password, a wrong password, a wrong key.
	withPassword, err := client.New(hubs.URLs(), "", client.WithTLS(hubs.TLSConfig()), client.WithBasicAuth("alice", password))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := withPassword.WhoAmI(ctx); err != nil {
		t.Fatalf("password login: %v", err)
	}
	wrongKey := "flk_" + strings.Repeat("x", 40)
	for _, c := range []struct {
		name string
		opt  client.Option
		key  string
	}{{"wrong password", client.WithBasicAuth("alice", wrongPassword), ""}, {"wrong key", nil, wrongKey}} {
		opts := []client.Option{client.WithTLS(hubs.TLSConfig())}
		if c.opt != nil {
			opts = append(opts, c.opt)
		}
		bad, err := client.New(hubs.URLs(), c.key, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bad.WhoAmI(ctx); !errors.Is(err, structs.ErrUnauthorized) {
			t.Errorf("%s: %v, want refused", c.name, err)
		}
	}

	alice, err := client.New(hubs.URLs(), f.aliceKey, client.WithTLS(hubs.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	batch := submit(ctx, t, alice, "solver", "cpu", 2)
	desk, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "solver", Command: "desk", MachineType: "cpu", Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	batch = waitJob(ctx, t, alice, batch.ID, "running", running)
	desk = waitJob(ctx, t, alice, desk.ID, "running", running)
	private := privateJobRun(ctx, t, admin, alice, env, pullCred, pullPassword)
	var initLogs map[string]string
	waitCond(ctx, t, "flotilla-init logs the private job's start", func() bool {
		initLogs = podLogs(t, ln)
		return strings.Contains(strings.Join(slices.Collect(maps.Values(initLogs)), "\n"), "job keys installed")
	})

	// The secrets the run used.
	secrets := map[string]string{
		"administrator's key": hubs.AdminKey,
		"alice's API key":     f.aliceKey,
		"alice's password":    password,
		"a wrong password":    wrongPassword,
		"a wrong key":         wrongKey,
		"bootstrap token":     f.token,
	}
	if bare, _, err := hubtls.SplitToken(f.token); err == nil {
		secrets["bootstrap token (without pin)"] = bare
	}
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	secrets["internal secret"] = read(filepath.Join(hubs.Dir, "internal-secret"))
	secrets["agent key"] = read(filepath.Join(dir, "agent-key-east"))
	ns := podgroup.TenantNamespace(podgroup.DefaultNamespacePrefix, "acme")
	for _, j := range []*structs.Job{batch, desk, private} {
		s, err := env.Client.CoreV1().Secrets(ns).Get(ctx, podgroup.JobName(j.Number), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(s.Data[initproc.PrivateKeyFile])
		if block == nil {
			t.Fatalf("job %d: no private key in its Secret", j.Number)
		}
		// Every line of the key's PEM body, so a partial leak shows too.
		for i, line := range strings.Split(string(s.Data[initproc.PrivateKeyFile]), "\n") {
			if len(line) >= 32 && !strings.HasPrefix(line, "-----") {
				secrets[j.Name+" SSH private key, line "+itoa(uint64(i))] = line
			}
		}
		if tk := string(s.Data[runtime.TokenKey]); tk != "" {
			secrets[j.Name+" interactive token"] = tk
		}
	}
	secrets["pull credential (auth)"] = base64.StdEncoding.EncodeToString([]byte(pullUser + ":" + pullPassword))
	secrets["pull credential (user:password)"] = pullUser + ":" + pullPassword
	secrets["pull credential (password)"] = pullPassword
	if len(secrets) < 15 {
		t.Fatalf("only %d secrets collected", len(secrets))
	}

	for _, j := range []*structs.Job{batch, desk, private} {
		if _, err := alice.CancelJob(ctx, j.ID, "done"); err != nil {
			t.Fatal(err)
		}
		waitJob(ctx, t, alice, j.ID, "terminated", func(j *structs.Job) bool { return j.State == structs.JobTerminated })
	}
	// What the hub answers about the run: the audit trail and the job
	// events.
	replies := map[string]any{}
	replies["the audit trail"], err = admin.Audit(ctx, client.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	replies["the job events"], err = admin.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for what, v := range replies {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if what == "the audit trail" && !strings.Contains(string(b), "app.pull-secret.remove") {
			t.Errorf("the audit trail misses the credential's removal")
		}
		for sw, secret := range secrets {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s holds %s", what, sw)
			}
		}
	}

	agentProc.Stop()
	hubs.StopAll()

	logs := map[string]string{agentProc.LogPath: "", ln.LogPath(): ""}
	for i := range hubs.N() {
		logs[hubs.Replica(i).LogPath] = ""
	}
	for path := range logs {
		logs[path] = read(path)
	}
	maps.Copy(logs, initLogs)
	maps.Copy(logs, podLogs(t, ln)) // what is left after the cancel
	// The logs are real: they speak of the run.
	if !strings.Contains(logs[agentProc.LogPath], "east") || len(logs[hubs.Replica(0).LogPath]) == 0 {
		t.Fatalf("the logs were not captured")
	}
	for path, text := range logs {
		for what, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds %s", filepath.Base(path), what) // never the secret itself
			}
		}
	}
}

// privateJobRun waits until the agent reports the private app's image
// ready (read and pulled with its credential), runs a job of it whose
// pull Secret holds the credential, and removes the app's credential
// and sets it again (after a refused attempt with a document quoting
// the password): every path the credential takes through hub and agent.
func privateJobRun(ctx context.Context, t *testing.T, admin, alice *client.Client, env *k8senv.Env, cred, password string) *structs.Job {
	t.Helper()
	waitCond(ctx, t, "east reports the private app ready", func() bool {
		c, err := admin.GetCluster(ctx, "east")
		return err == nil && c.Catalog != nil && c.Catalog.Apps["private"].MachineTypes["cpu"].State == structs.AppReady
	})
	j, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "private", Command: "run", MachineType: "cpu-local",
		Nodes: 1, Parameters: map[string]string{"steps": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	j = waitJob(ctx, t, alice, j.ID, "running", running)
	ns := podgroup.TenantNamespace(podgroup.DefaultNamespacePrefix, j.Tenant)
	sec, err := env.Client.CoreV1().Secrets(ns).Get(ctx, runtime.PullSecretName(j.Number), metav1.GetOptions{})
	if err != nil || string(sec.Data[corev1.DockerConfigJsonKey]) != cred {
		t.Fatalf("the private job's pull Secret: %v", err)
	}
	if _, err := admin.SetAppPullSecret(ctx, "private", "robot:"+password); structs.KindOf(err) != structs.ErrInvalid || strings.Contains(err.Error(), password) {
		t.Errorf("a credential that is no docker config: %v, want 400 without it", err)
	}
	if _, err := admin.RemoveAppPullSecret(ctx, "private"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SetAppPullSecret(ctx, "private", cred); err != nil {
		t.Fatal(err)
	}
	return j
}

// waitingCommand writes the private app's command: a script that runs
// until the job is canceled.
func waitingCommand(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "flotilla-secrets-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	command := filepath.Join(dir, "run.sh")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(command, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return command
}

// podLogs reads the logs of the containers of the local node's pods
// (their processes' output: flotilla-init's among them), by path.
func podLogs(t *testing.T, ln *localnodes.Process) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(ln.StateDir, "pods", "*", "logs", "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			out[p] = string(b)
		}
	}
	return out
}
