// Package cloud tests `flotilla cloud` as an administrator runs it: the
// flotilla command (federation/cli) against a hub (hubtest) and the wire
// fakes of EKS/IAM/STS and GKE (federation/cloud/cloudtest), driven through
// the real SDK clients, with a real control plane (test/k8senv) standing
// in for the cluster the cloud makes. Its API server checks the cloud's
// tokens through a token review webhook, and the node groups' "instances"
// are kwok nodes labelled and tainted as the group asked.
package cloud

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/federation/cli"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/cloud"
	"github.com/flotilla-hpc/flotilla/federation/cloud/cloudtest"
	"github.com/flotilla-hpc/flotilla/federation/cloud/connect"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

// world is a hub, a cloud fake and the control plane its cluster gets.
type world struct {
	t     *testing.T
	hubs  *hubtest.Cluster
	admin *client.Client
	env   *k8senv.Env // nil until startCluster
	aws   *cloudtest.AWS
	gke   *cloudtest.GKE
	dir   string

	mu        sync.Mutex
	agentStop context.CancelFunc
	agentDone chan struct{}
}

const clusterName = "burst-1"

// newWorld starts a one-replica hub and the fake of provider ("eks" or
// "gke"), and sets the environment its credentials come from.
func newWorld(t *testing.T, provider string) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir()}
	w.hubs = hubtest.New(t, 1, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) {
		cfg.Dispatch = &hub.DispatchOptions{Interval: 250 * time.Millisecond, AcceptTimeout: time.Minute}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := w.hubs.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	var err error
	if w.admin, err = client.New(w.hubs.URLs(), w.hubs.AdminKey); err != nil {
		t.Fatal(err)
	}
	switch provider {
	case "eks":
		w.aws = cloudtest.NewAWS()
		w.aws.InstanceTypes = []string{"c7i.4xlarge", "g5.4xlarge"}
		t.Cleanup(w.aws.Close)
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFLOTILLATEST")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-for-tests")
		t.Setenv("AWS_CONFIG_FILE", filepath.Join(w.dir, "no-aws-config"))
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(w.dir, "no-aws-credentials"))
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	case "gke":
		if w.gke, err = cloudtest.NewGKE(); err != nil {
			t.Fatal(err)
		}
		w.gke.MachineTypes = []string{"c2-standard-16", "g2-standard-16"}
		t.Cleanup(w.gke.Close)
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", w.serviceAccountKey())
	}
	return w
}

// serviceAccountKey writes a service account key whose token_uri is the
// fake's token endpoint: the application default credentials of the run.
func (w *world) serviceAccountKey() string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		w.t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		w.t.Fatal(err)
	}
	key, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "hpc-project", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "flotilla@hpc-project.iam.gserviceaccount.com", "client_id": "1", "token_uri": w.gke.TokenURL})
	path := filepath.Join(w.dir, "adc.json")
	if err := os.WriteFile(path, key, 0o600); err != nil {
		w.t.Fatal(err)
	}
	return path
}

// startCluster starts the control plane the cloud's cluster stands for:
// its API server authenticates the cloud's tokens through the fake, and
// node groups become kwok nodes.
func (w *world) startCluster() {
	w.t.Helper()
	check := func(tok string) (string, error) {
		if w.aws != nil {
			return w.aws.AuthenticateEKSToken(tok, clusterName)
		}
		return w.gke.AuthenticateToken(tok)
	}
	wh := cloudtest.NewTokenWebhook(check)
	w.t.Cleanup(wh.Close)
	w.env = k8senv.Start(w.t, k8senv.Options{Name: clusterName, TokenWebhookURL: wh.URL})
	ca, err := os.ReadFile(w.env.CAFile)
	if err != nil {
		w.t.Fatal(err)
	}
	if w.aws != nil {
		w.aws.Endpoint, w.aws.CA = w.env.APIServerURL, ca
		w.aws.OnNodeGroup = func(g cloudtest.NodeGroup) { w.nodes(g.Name, g.Desired, g.Labels, g.Taints) }
	} else {
		w.gke.Endpoint, w.gke.CA = strings.TrimPrefix(w.env.APIServerURL, "https://"), ca
		w.gke.OnNodePool = func(p cloudtest.Pool) {
			var taints []map[string]string
			for _, t := range p.Pool.GetConfig().GetTaints() {
				taints = append(taints, map[string]string{"key": t.Key, "value": t.Value, "effect": "NO_SCHEDULE"})
			}
			w.nodes(p.Pool.Name, p.Size, p.Pool.GetConfig().GetLabels(), taints)
		}
	}
}

// nodes makes the group's nodes exist, n of them, as the cloud's
// instances would join: labelled and tainted as the group asked.
func (w *world) nodes(group string, n int, labels map[string]string, taints []map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ts []corev1.Taint
	for _, t := range taints {
		ts = append(ts, corev1.Taint{Key: t["key"], Value: t["value"], Effect: corev1.TaintEffectNoSchedule})
	}
	var specs []k8senv.NodeSpec
	for i := range n {
		name := fmt.Sprintf("%s-%d", group, i)
		if _, err := w.env.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err == nil {
			continue
		}
		specs = append(specs, k8senv.NodeSpec{Name: name, CPU: "16", Memory: "64Gi", Labels: labels, Taints: ts})
	}
	if len(specs) > 0 {
		if err := w.env.AddNodes(ctx, specs...); err != nil {
			w.t.Errorf("nodes of %s: %v", group, err)
		}
	}
	for i := n; ; i++ {
		err := w.env.Client.CoreV1().Nodes().Delete(ctx, fmt.Sprintf("%s-%d", group, i), metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
	}
}

// run runs the flotilla command as the administrator and returns its exit
// code, standard output and standard error.
func (w *world) run(ctx context.Context, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	env := map[string]string{cli.EnvHub: strings.Join(w.hubs.URLs(), ","), cli.EnvAPIKey: w.hubs.AdminKey}
	code := cli.Run(ctx, args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// upArgs are the arguments of `cloud up|plan` for the provider.
func (w *world) upArgs(verb, mtFile string) []string {
	if w.aws != nil {
		return []string{"cloud", verb, "eks", "--name", clusterName, "--region", "us-east-1", "--machine-types", mtFile,
			"--subnets", "subnet-a,subnet-b", "--endpoint", w.aws.URL, "--poll", "20ms"}
	}
	return []string{"cloud", verb, "gke", "--name", clusterName, "--region", "us-central1-a", "--project", "hpc-project",
		"--machine-types", mtFile, "--endpoint", "http://" + w.gke.Addr, "--iam-endpoint", w.gke.IAMURL,
		"--resource-manager-endpoint", w.gke.ResourceManagerURL, "--poll", "20ms"}
}

func (w *world) downArgs() []string {
	if w.aws != nil {
		return []string{"cloud", "down", clusterName, "--endpoint", w.aws.URL, "--poll", "20ms"}
	}
	return []string{"cloud", "down", clusterName, "--endpoint", "http://" + w.gke.Addr, "--iam-endpoint", w.gke.IAMURL,
		"--resource-manager-endpoint", w.gke.ResourceManagerURL, "--poll", "20ms"}
}

// machineTypes writes a machine types file.
func (w *world) machineTypes(body string) string {
	return w.machineTypesNamed("machine-types.yaml", body)
}

func (w *world) machineTypesNamed(name, body string) string {
	path := filepath.Join(w.dir, name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return path
}

// startInstalledAgent plays the kubelet for the agent Deployment `up`
// applied: it reads the Deployment's arguments and the bootstrap token
// Secret from the new cluster and runs the agent with them in-process.
func (w *world) startInstalledAgent(ctx context.Context) {
	w.t.Helper()
	dep, err := w.env.Client.AppsV1().Deployments(cloud.AgentNamespace).Get(ctx, cloud.AgentName, metav1.GetOptions{})
	if err != nil {
		w.t.Fatalf("the agent Deployment: %v", err)
	}
	sec, err := w.env.Client.CoreV1().Secrets(cloud.AgentNamespace).Get(ctx, cloud.AgentTokenSecret, metav1.GetOptions{})
	if err != nil {
		w.t.Fatalf("the bootstrap token Secret: %v", err)
	}
	args := map[string]string{}
	for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
		k, v, _ := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		args[k] = v
	}
	tols, err := agent.ParseTolerations(args["tolerate"])
	if err != nil {
		w.t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	a, err := agent.New(agent.Config{Cluster: args["cluster"], HubURLs: strings.Split(args["hub"], ","),
		BootstrapToken: string(sec.Data["token"]), Kube: w.env.Config, NodeSelector: args["node-selector"], Tolerations: tols,
		NamespacePrefix: args["namespace-prefix"], Image: "solver:1", Heartbeat: 300 * time.Millisecond,
		Elastic: w.elasticFromArgs(ctx, dep.Spec.Template.Spec.Containers[0].Args), Log: log})
	if err != nil {
		w.t.Fatal(err)
	}
	actx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Run(actx); err != nil && actx.Err() == nil {
			w.t.Errorf("agent: %v", err)
		}
	}()
	w.mu.Lock()
	w.agentStop, w.agentDone = stop, done
	w.mu.Unlock()
	w.t.Cleanup(w.stopAgent)
}

// elasticFromArgs makes the agent's elastic node groups from the
// Deployment's arguments as flotilla-agent does: its own flag set parses
// them (a flag `up` writes that the agent does not know fails here),
// Flags.Config checks them, and the cloud's client comes from
// federation/cloud/connect with the default credentials of the test's
// environment. A decision every 200 ms keeps the test short.
func (w *world) elasticFromArgs(ctx context.Context, argv []string) *agent.Elastic {
	w.t.Helper()
	var f agent.Flags
	fs := flag.NewFlagSet("flotilla-agent", flag.ContinueOnError)
	f.Register(fs, func(string) string { return "" })
	if err := fs.Parse(argv); err != nil {
		w.t.Fatalf("the agent's arguments: %v", err)
	}
	if f.ElasticCloud == "" {
		return nil
	}
	// The files the Deployment mounts are not here: the key and the
	// kubeconfig are given to agent.New directly.
	f.KeyFile, f.BootstrapTokenFile, f.HubCAFile, f.Kubeconfig = "", "", "", w.env.Kubeconfig
	cfg, err := f.Config(func(string) string { return "" }, nil)
	if err != nil {
		w.t.Fatalf("the agent's configuration: %v", err)
	}
	cloudName := f.ElasticCluster
	if cloudName == "" {
		cloudName = f.Cluster
	}
	ng, closeNG, err := connect.OpenNodeGroups(ctx, connect.Options{Provider: structs.CloudProvider(f.ElasticCloud),
		Region: f.ElasticRegion, Endpoint: f.ElasticEndpoint, PollInterval: f.ElasticPoll}, cloudName, f.ElasticProject)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(closeNG)
	cfg.Elastic.Cloud, cfg.Elastic.Interval = ng, 200*time.Millisecond
	return cfg.Elastic
}

func (w *world) stopAgent() {
	w.mu.Lock()
	stop, done := w.agentStop, w.agentDone
	w.agentStop = nil
	w.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// user makes a tenant, a user with an API key and a public app, and
// returns the user's client.
func (w *world) user(ctx context.Context) *client.Client {
	w.t.Helper()
	adm := w.admin
	if _, err := adm.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
		w.t.Fatal(err)
	}
	if _, err := adm.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "solver:1",
		AppDef: structs.AppDef{Name: "solver", Commands: map[string]structs.Command{"run": {Path: "/opt/run.sh", Name: "Run"}}}}); err != nil {
		w.t.Fatal(err)
	}
	if _, err := adm.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}); err != nil {
		w.t.Fatal(err)
	}
	k, err := adm.CreateAPIKey(ctx, "alice", "cloud")
	if err != nil {
		w.t.Fatal(err)
	}
	c, err := client.New(w.hubs.URLs(), k.Key)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// waitJob polls a job until cond holds.
func waitJob(ctx context.Context, t *testing.T, c *client.Client, id, what string, cond func(*structs.Job) bool) *structs.Job {
	t.Helper()
	var last *structs.Job
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		j, err := c.GetJob(ctx, id, false)
		if err == nil {
			last = j
			if cond(j) {
				return j
			}
		}
		select {
		case <-ctx.Done():
			if last != nil {
				t.Fatalf("job %s: %s not reached: state %s cluster %q substatus %q", id, what, last.State, last.Cluster, last.Substatus)
			}
			t.Fatalf("job %s: %s not reached: %v", id, what, err)
		case <-tick.C:
		}
	}
}

// hubHasNothing checks that no cluster and no machine type is registered.
func (w *world) hubHasNothing(ctx context.Context) {
	w.t.Helper()
	cls, err := w.admin.ListClusters(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	mts, err := w.admin.ListMachineTypes(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(cls) != 0 || len(mts) != 0 {
		w.t.Errorf("the hub has %d clusters and %d machine types, want none", len(cls), len(mts))
	}
}
