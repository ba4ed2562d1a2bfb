package capi_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/cloud/agentinstall"
	"github.com/flotilla-hpc/flotilla/federation/cloud/capi"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

var (
	crdGVR     = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	clusterGVR = schema.GroupVersionResource{Group: "cluster.x-k8s.io", Version: "v1beta2", Resource: "clusters"}
	mdGVR      = schema.GroupVersionResource{Group: "cluster.x-k8s.io", Version: "v1beta2", Resource: "machinedeployments"}
)

// TestClusterAPIDiscovery: a management control plane with the Cluster
// API CRDs (from the cluster-api module of the version the api module has)
// holds a labelled Cluster whose kubeconfig Secret points at a second real
// control plane with kwok nodes. The hub, started with Cluster API
// discovery on, waits while the Cluster provisions, then registers it with
// the machine type its MachineDeployment's annotations describe and
// installs the agent there; the agent, run with the installed Deployment's
// arguments, bootstrap Secret and ServiceAccount, connects, and a job
// submitted to the hub runs on that cluster. Deleting the Cluster
// unregisters it and removes its machine type.
func TestClusterAPIDiscovery(t *testing.T) {
	if testing.Short() {
		t.Skip("requires real control planes (make tools: etcd, kube-apiserver, kwok) and the go command; skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	crds := clusterAPICRDs(t)

	envs := k8senv.StartAll(t, k8senv.Options{Name: "mgmt", NoControllerManager: true}, k8senv.Options{Name: "member"})
	mgmt, member := envs[0], envs[1]
	if err := member.AddNodes(ctx, k8senv.NodeSpec{Name: "w-0", CPU: "8", Memory: "32Gi"}, k8senv.NodeSpec{Name: "w-1", CPU: "8", Memory: "32Gi"}); err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(mgmt.Config)
	installCRDs(ctx, t, dyn, crds)

	sel, _ := labels.Parse("flotilla.io/join=true")
	hubs := hubtest.New(t, 1, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) {
		cfg.Dispatch = &hub.DispatchOptions{Interval: 250 * time.Millisecond, AcceptTimeout: time.Minute}
		cfg.ClusterAPI = &hub.ClusterAPIOptions{Management: mgmt.Config, Selector: sel, Resync: 2 * time.Second,
			Agent: agentinstall.Values{HubURLs: []string{cfg.Raft.APIAddress}, Tag: "test"}}
	}})
	if _, err := hubs.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(hubs.URLs(), hubs.AdminKey)
	if err != nil {
		t.Fatal(err)
	}

	// The Cluster, still provisioning, with its MachineDeployment and
	// kubeconfig Secret; a second Cluster without the label is ignored.
	if err := mgmt.CreateNamespace(ctx, "capi"); err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := os.ReadFile(member.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := map[string]any{"controlPlaneEndpoint": map[string]any{"host": "127.0.0.1", "port": 6443}}
	for _, name := range []string{"c1", "other"} {
		if _, err := mgmt.Client.CoreV1().Secrets("capi").Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: capi.KubeconfigSecretName(name), Labels: map[string]string{"cluster.x-k8s.io/cluster-name": name}},
			Data:       map[string][]byte{capi.KubeconfigKey: kubeconfig}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create(ctx, t, dyn, clusterGVR, map[string]any{"metadata": map[string]any{"name": "c1", "namespace": "capi",
		"labels": map[string]any{"flotilla.io/join": "true"}}, "spec": endpoint})
	create(ctx, t, dyn, clusterGVR, map[string]any{"metadata": map[string]any{"name": "other", "namespace": "capi"}, "spec": endpoint})
	create(ctx, t, dyn, mdGVR, map[string]any{
		"metadata": map[string]any{"name": "c1-md-0", "namespace": "capi", "annotations": map[string]any{
			capi.AnnotMachineType: "c1-cpu", capi.AnnotCores: "4", capi.AnnotMemory: "8", capi.AnnotScaleMax: "2", capi.AnnotPrice: "0.25"}},
		"spec": map[string]any{"clusterName": "c1", "replicas": 2,
			"selector": map[string]any{"matchLabels": map[string]any{"pool": "md-0"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"pool": "md-0"}},
				"spec": map[string]any{"clusterName": "c1",
					"bootstrap":         map[string]any{"dataSecretName": "c1-md-0-bootstrap"},
					"infrastructureRef": map[string]any{"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachineTemplate", "name": "c1-md-0"}}}}})

	// While it provisions, the controller says it waits, and nothing is registered.
	mustWait(ctx, t, "c1 marked waiting", func() (bool, string) {
		u, err := dyn.Resource(clusterGVR).Namespace("capi").Get(ctx, "c1", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := u.GetAnnotations()[capi.AnnotStatus]
		return strings.HasPrefix(st, "waiting: phase Pending"), st
	})
	if _, err := admin.GetCluster(ctx, "c1"); !errors.Is(err, structs.ErrNotFound) {
		t.Fatalf("cluster c1 while still provisioning: %v, want not found", err)
	}
	setProvisioned(ctx, t, dyn, "c1")
	setProvisioned(ctx, t, dyn, "other")

	mustWait(ctx, t, "c1 and its machine type registered", func() (bool, string) {
		cl, err := admin.GetCluster(ctx, "c1")
		if err != nil {
			return false, err.Error()
		}
		mt, err := admin.GetMachineType(ctx, "c1-cpu")
		if err != nil {
			return false, err.Error()
		}
		ok := cl.Labels[capi.LabelSource] == "capi/c1" && mt.Cluster == "c1" && mt.Cores == 4 && mt.RAM == 8 && mt.ScaleMax == 2 && mt.Price == 0.25
		return ok, "labels " + cl.Labels[capi.LabelSource] + ", machine type pinned to " + mt.Cluster
	})
	u, err := dyn.Resource(clusterGVR).Namespace("capi").Get(ctx, "other", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := u.GetAnnotations()[capi.AnnotStatus]; ok {
		t.Errorf("unselected Cluster annotated %q", st)
	}
	if _, err := admin.GetCluster(ctx, "other"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("unselected Cluster: %v, want not found", err)
	}

	// The agent objects in the member cluster; run the agent as its pod would.
	name := agentinstall.AgentName("")
	var dep *appsv1.Deployment
	mustWait(ctx, t, "agent Deployment installed", func() (bool, string) {
		dep, err = member.Client.AppsV1().Deployments("flotilla").Get(ctx, name, metav1.GetOptions{})
		return err == nil, errString(err)
	})
	sec, err := member.Client.CoreV1().Secrets("flotilla").Get(ctx, agentinstall.BootstrapSecretName(""), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]string{}
	for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
		k, v, _ := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		args[k] = v
	}
	if args["cluster"] != "c1" || args["hub"] != hubs.URL(0) {
		t.Fatalf("agent arguments %v", args)
	}
	startAgent(t, agent.Config{Cluster: args["cluster"], HubURLs: strings.Split(args["hub"], ","),
		BootstrapToken: string(sec.Data["token"]), Kube: serviceAccountConfig(ctx, t, member, "flotilla", dep.Spec.Template.Spec.ServiceAccountName),
		NamespacePrefix: args["namespace-prefix"], Image: "solver:1", Heartbeat: 300 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	mustWait(ctx, t, "agent connected", func() (bool, string) {
		cl, err := admin.GetCluster(ctx, "c1")
		if err != nil {
			return false, err.Error()
		}
		return cl.AgentKey != (structs.APIKeyHash{}) && !cl.LastHeartbeat.IsZero(), "status " + string(cl.Status)
	})
	mustWait(ctx, t, "c1 marked joined", func() (bool, string) {
		u, err := dyn.Resource(clusterGVR).Namespace("capi").Get(ctx, "c1", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := u.GetAnnotations()[capi.AnnotStatus]
		return st == "joined", st
	})

	// A job runs there.
	if _, err := admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "solver:1",
		AppDef: structs.AppDef{Name: "solver", Commands: map[string]structs.Command{"run": {Path: "/opt/run.sh", Name: "Run"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}); err != nil {
		t.Fatal(err)
	}
	key, err := admin.CreateAPIKey(ctx, "alice", "capi")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := client.New(hubs.URLs(), key.Key)
	if err != nil {
		t.Fatal(err)
	}
	job, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "solver", Command: "run", MachineType: "c1-cpu", Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	mustWait(ctx, t, "job running on c1", func() (bool, string) {
		j, err := alice.GetJob(ctx, job.ID, false)
		if err != nil {
			return false, err.Error()
		}
		return j.State == structs.JobRunning && j.Cluster == "c1", string(j.State) + " on " + j.Cluster + ": " + j.Substatus
	})

	// Deleting the Cluster unregisters it and its machine type.
	if err := dyn.Resource(clusterGVR).Namespace("capi").Delete(ctx, "c1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	mustWait(ctx, t, "c1 unregistered", func() (bool, string) {
		_, cerr := admin.GetCluster(ctx, "c1")
		_, merr := admin.GetMachineType(ctx, "c1-cpu")
		return errors.Is(cerr, structs.ErrNotFound) && errors.Is(merr, structs.ErrNotFound), errString(cerr) + "; " + errString(merr)
	})
}

// clusterAPICRDs copies the Cluster and MachineDeployment CRDs of the
// cluster-api module (the version of the api module in go.mod) from the
// module cache into a test directory.
func clusterAPICRDs(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "sigs.k8s.io/cluster-api/api").Output()
	if err != nil {
		t.Fatalf("go list the cluster-api api module: %v", err)
	}
	version := strings.TrimSpace(string(out))
	cmd := exec.Command("go", "mod", "download", "-json", "sigs.k8s.io/cluster-api@"+version)
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("go mod download sigs.k8s.io/cluster-api@%s: %v", version, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download: %v %s", err, out)
	}
	dir := t.TempDir()
	var files []string
	for _, f := range []string{"cluster.x-k8s.io_clusters.yaml", "cluster.x-k8s.io_machinedeployments.yaml"} {
		b, err := os.ReadFile(filepath.Join(mod.Dir, "core", "config", "crd", "bases", f))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, f)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	return files
}

func installCRDs(ctx context.Context, t *testing.T, dyn dynamic.Interface, files []string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &u.Object); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := dyn.Resource(crdGVR).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create CRD %s: %v", u.GetName(), err)
		}
		mustWait(ctx, t, "CRD "+u.GetName()+" established", func() (bool, string) {
			got, err := dyn.Resource(crdGVR).Get(ctx, u.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, ""
				}
			}
			return false, "not established"
		})
	}
}

func create(ctx context.Context, t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, obj map[string]any) {
	t.Helper()
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion(gvr.GroupVersion().String())
	u.SetKind(map[string]string{"clusters": "Cluster", "machinedeployments": "MachineDeployment"}[gvr.Resource])
	// The API server may need a moment before it serves a new CRD's resource.
	mustWait(ctx, t, "create "+gvr.Resource+" "+u.GetName(), func() (bool, string) {
		_, err := dyn.Resource(gvr).Namespace(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{})
		if apierrors.IsNotFound(err) {
			return false, err.Error()
		}
		if err != nil {
			t.Fatalf("create %s %s: %v", gvr.Resource, u.GetName(), err)
		}
		return true, ""
	})
}

// setProvisioned writes the status Cluster API's controllers would.
func setProvisioned(ctx context.Context, t *testing.T, dyn dynamic.Interface, name string) {
	t.Helper()
	u, err := dyn.Resource(clusterGVR).Namespace("capi").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u.Object["status"] = map[string]any{"phase": "Provisioned",
		"initialization": map[string]any{"infrastructureProvisioned": true, "controlPlaneInitialized": true}}
	if _, err := dyn.Resource(clusterGVR).Namespace("capi").UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("status of Cluster %s: %v", name, err)
	}
}

// serviceAccountConfig authenticates as a ServiceAccount with a token from
// the TokenRequest API, as a pod of that ServiceAccount would.
func serviceAccountConfig(ctx context.Context, t *testing.T, env *k8senv.Env, namespace, name string) *rest.Config {
	t.Helper()
	exp := int64(3600)
	tr, err := env.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token of ServiceAccount %s/%s: %v", namespace, name, err)
	}
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = tr.Status.Token
	return cfg
}

func startAgent(t *testing.T, cfg agent.Config) {
	t.Helper()
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("agent: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFor polls cond every 100 ms until it holds (nil) or d passes.
func waitFor(ctx context.Context, d time.Duration, cond func() (bool, string)) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		ok, state := cond()
		if ok {
			return nil
		}
		last = state
		select {
		case <-ctx.Done():
			return errors.New(last)
		case <-tick.C:
		}
	}
}

func mustWait(ctx context.Context, t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	if err := waitFor(ctx, time.Minute, cond); err != nil {
		t.Fatalf("%s: not reached; last: %v", what, err)
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
