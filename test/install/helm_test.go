package install

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hubconfig"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/proc"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

const (
	release   = "flotilla"
	namespace = "flotilla"
)

// TestHelmInstall installs the chart into a real control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kwok nodes in
// three zones) with the hub and the agent enabled, and checks:
//   - every object of the release is accepted and exists;
//   - the hub StatefulSet's 3 pods and the agent Deployment's pod are
//     created, bound by kube-scheduler (the hub's on three nodes, one per
//     zone), and run; every claim is bound;
//   - the settings each hub pod gets (its flags, its replica file, the
//     generated TLS material and secrets) are accepted by flotilla-hub's
//     own settings parser and TLS loader, and the certificate is valid for
//     every replica's raft and API address and the API Service;
//   - the agent's RBAC is enough: the real flotilla-agent binary, started
//     with the Deployment's arguments and a token of the chart's
//     ServiceAccount, registers with a hub of three flotilla-hub processes
//     and runs a submitted job (pods bound) and its cancellation; and no
//     more than it needs: a list of actions it must not be able to take is
//     refused by the API server's authorizer;
//   - every image the release names carries the binaries' version;
//   - a values file with a wrong type is refused by the schema, and
//     nothing is installed.
func TestHelmInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("requires a real control plane, helm and the built binaries; skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	hubs := procenv.StartHubs(t, procenv.HubOptions{Args: []string{"-dispatch-interval", "250ms"}})
	env := k8senv.Start(t, k8senv.Options{Name: "install", Scheduler: true})
	var specs []k8senv.NodeSpec
	for i, zone := range []string{"zone-a", "zone-b", "zone-c"} {
		specs = append(specs, k8senv.NodeSpec{Name: fmt.Sprintf("control-%d", i), CPU: "4", Memory: "16Gi",
			Labels: map[string]string{"topology.kubernetes.io/zone": zone}})
	}
	specs = append(specs,
		k8senv.NodeSpec{Name: "hpc-0", CPU: "16", Memory: "64Gi", Labels: map[string]string{"topology.kubernetes.io/zone": "zone-a"}},
		k8senv.NodeSpec{Name: "hpc-1", CPU: "16", Memory: "64Gi", Labels: map[string]string{"topology.kubernetes.io/zone": "zone-b"}})
	if err := env.AddNodes(ctx, specs...); err != nil {
		t.Fatal(err)
	}
	addStorage(ctx, t, env, 4, "10Gi")

	// The hub's side of a new cluster: tenant, machine type, app, user and
	// a one-time bootstrap token for cluster "east".
	admin := hubs.Client(hubs.AdminKey)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	must(admin.PutCluster(ctx, "east", &structs.ClusterSpec{}))
	must(admin.PutMachineType(ctx, &structs.MachineType{Name: "hpc", Cores: 8, Slots: 8, RAM: 16, Cluster: "east", ScaleMax: 2}))
	must(admin.PutApp(ctx, &structs.App{Name: "solver", Visibility: structs.VisibilityPublic, Image: "solver:1",
		AppDef: structs.AppDef{Name: "solver", Commands: map[string]structs.Command{"run": {Path: "/opt/run.sh", Name: "Run"}}}}))
	must(admin.PutUser(ctx, "alice", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}))
	key, err := admin.CreateAPIKey(ctx, "alice", "install")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := admin.CreateBootstrapToken(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}

	tag := binaryVersion(t, "flotilla-agent")
	urls, _ := json.Marshal(hubs.URLs())
	values := writeValues(t, "values.yaml", fmt.Sprintf(`
image:
  tag: %q
hub:
  persistence:
    storageClass: %s
  ingress:
    enabled: true
    className: nginx
    host: hpc.example.test
agent:
  enabled: true
  cluster: east
  hub:
    urls: %s
    bootstrapToken: %q
  persistence:
    storageClass: %s
`, tag, storageClass, urls, tok.Key, storageClass))
	h := newHelm(t, env.Kubeconfig)
	h.must(ctx, "install", release, chartDir(t), "--namespace", namespace, "--create-namespace", "-f", values)

	t.Run("every object of the release exists", func(t *testing.T) {
		manifest := h.must(ctx, "get", "manifest", release, "--namespace", namespace)
		path := filepath.Join(t.TempDir(), "manifest.yaml")
		if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
			t.Fatal(err)
		}
		kubectl, err := proc.FindBin("kubectl")
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", env.Kubeconfig, "get", "-f", path, "-o", "name").CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl get -f <release manifest>: %v\n%s", err, out)
		}
		got := strings.Fields(string(out))
		want := strings.Count(manifest, "\nkind: ") + boolInt(strings.HasPrefix(manifest, "kind: "))
		if len(got) != want {
			t.Errorf("the API server holds %d of the release's %d objects: %v", len(got), want, got)
		}
		for _, kind := range []string{"statefulset.apps/", "deployment.apps/", "poddisruptionbudget.policy/", "networkpolicy.networking.k8s.io/",
			"clusterrole.rbac.authorization.k8s.io/", "clusterrolebinding.rbac.authorization.k8s.io/", "serviceaccount/", "configmap/", "secret/",
			"service/", "persistentvolumeclaim/", "ingress.networking.k8s.io/"} {
			if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, kind) }) {
				t.Errorf("the release has no %s object: %v", strings.TrimSuffix(kind, "/"), got)
			}
		}
	})

	hubSel := labels.SelectorFromSet(labels.Set{"app.kubernetes.io/instance": release, "app.kubernetes.io/component": "hub"}).String()
	agentSel := labels.SelectorFromSet(labels.Set{"app.kubernetes.io/instance": release, "app.kubernetes.io/component": "agent"}).String()
	t.Run("hub and agent pods are bound and run", func(t *testing.T) {
		waitFor(ctx, t, "3 hub pods and 1 agent pod bound and ready", func() (bool, string) {
			hubPods, err := env.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: hubSel})
			if err != nil {
				return false, err.Error()
			}
			agentPods, err := env.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: agentSel})
			if err != nil {
				return false, err.Error()
			}
			ready := 0
			for _, p := range append(hubPods.Items, agentPods.Items...) {
				if podReady(&p) {
					ready++
				}
			}
			return len(hubPods.Items) == 3 && len(agentPods.Items) == 1 && ready == 4,
				fmt.Sprintf("%d hub pods, %d agent pods, %d ready", len(hubPods.Items), len(agentPods.Items), ready)
		})
		hubPods, err := env.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: hubSel})
		if err != nil {
			t.Fatal(err)
		}
		zones := map[string]string{}
		for _, n := range specs {
			zones[n.Name] = n.Labels["topology.kubernetes.io/zone"]
		}
		seenNode, seenZone := map[string]bool{}, map[string]bool{}
		for _, p := range hubPods.Items {
			seenNode[p.Spec.NodeName], seenZone[zones[p.Spec.NodeName]] = true, true
		}
		if len(seenNode) != 3 || len(seenZone) != 3 {
			t.Errorf("hub replicas on nodes %v, zones %v; want three nodes in three zones", seenNode, seenZone)
		}
		pvcs, err := env.Client.CoreV1().PersistentVolumeClaims(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(pvcs.Items) != 4 {
			t.Errorf("%d claims; want one per hub replica and the agent's", len(pvcs.Items))
		}
		for _, c := range pvcs.Items {
			if c.Status.Phase != corev1.ClaimBound {
				t.Errorf("claim %s is %s", c.Name, c.Status.Phase)
			}
		}
	})

	t.Run("flotilla-hub accepts the settings each replica gets", func(t *testing.T) {
		serviceHost := fmt.Sprintf("%s-hub.%s.svc", release, namespace)
		for i := range 3 {
			pod := fmt.Sprintf("%s-hub-%d", release, i)
			p, err := env.Client.CoreV1().Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			args := podFiles(t, apiVolumes{ctx, env, namespace}, pod, &p.Spec, &p.Spec.Containers[0])
			checkHubSettings(t, args, pod, 3, serviceHost)
		}
	})

	dep, err := env.Client.AppsV1().Deployments(namespace).Get(ctx, release+"-agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("every image carries the binaries' version", func(t *testing.T) {
		sts, err := env.Client.AppsV1().StatefulSets(namespace).Get(ctx, release+"-hub", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		refs := []string{sts.Spec.Template.Spec.Containers[0].Image, dep.Spec.Template.Spec.Containers[0].Image}
		for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
			if v, ok := strings.CutPrefix(a, "-init-image="); ok {
				refs = append(refs, v)
			}
			if v, ok := strings.CutPrefix(a, "-filer-image="); ok {
				refs = append(refs, v)
			}
		}
		if len(refs) != 4 {
			t.Fatalf("images %v: want hub, agent, init and filer", refs)
		}
		for _, r := range refs {
			if !strings.HasSuffix(r, ":"+tag) {
				t.Errorf("image %s does not carry the binaries' version %s", r, tag)
			}
		}
	})

	t.Run("the agent's ServiceAccount may do no more than it needs", func(t *testing.T) {
		sa := dep.Spec.Template.Spec.ServiceAccountName
		jobsNS := podgroup.TenantNamespace(podgroup.DefaultNamespacePrefix, "acme")
		user := "system:serviceaccount:" + namespace + ":" + sa
		for _, a := range []authzv1.ResourceAttributes{
			{Verb: "update", Resource: "nodes"},
			{Verb: "patch", Resource: "nodes"},
			{Verb: "delete", Resource: "nodes"},
			{Verb: "delete", Resource: "namespaces", Name: jobsNS},
			{Verb: "create", Resource: "pods", Subresource: "exec", Namespace: jobsNS},
			{Verb: "create", Resource: "pods", Subresource: "eviction", Namespace: jobsNS},
			{Verb: "update", Resource: "pods", Namespace: jobsNS},
			{Verb: "update", Resource: "secrets", Namespace: jobsNS},
			{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: namespace},
			{Verb: "create", Resource: "persistentvolumeclaims", Namespace: jobsNS},
			{Verb: "create", Resource: "persistentvolumes"},
			{Verb: "create", Group: "apps", Resource: "deployments", Namespace: jobsNS},
			{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "rolebindings", Namespace: jobsNS},
			{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
			{Verb: "bind", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
			{Verb: "impersonate", Resource: "users"},
		} {
			sar, err := env.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
				Spec: authzv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &a,
					Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed {
				t.Errorf("the agent's ServiceAccount may %s %s/%s in %q: more than it needs", a.Verb, a.Resource, a.Subresource, a.Namespace)
			}
		}
	})

	t.Run("the agent's ServiceAccount runs a job", func(t *testing.T) {
		sa := dep.Spec.Template.Spec.ServiceAccountName
		kubeconfig := serviceAccountKubeconfig(ctx, t, env, namespace, sa)
		pods, err := env.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: agentSel})
		if err != nil || len(pods.Items) != 1 {
			t.Fatalf("the agent's pod: %v (%d pods)", err, len(pods.Items))
		}
		pod := pods.Items[0]
		args := podFiles(t, apiVolumes{ctx, env, namespace}, pod.Name, &pod.Spec, &pod.Spec.Containers[0])
		args = append(args, "-kubeconfig", kubeconfig, "-heartbeat", "300ms", "-metrics-addr", "127.0.0.1:0")
		bin, err := proc.FindBin("flotilla-agent")
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		p, err := proc.Start(dir, "agent", bin, args, proc.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			p.Stop(10 * time.Second)
			if t.Failed() {
				t.Logf("--- flotilla-agent %q, last lines ---\n%s", args, p.Tail(40))
			}
		})

		alice, err := client.New(hubs.URLs(), key.Key, client.WithTLS(hubs.TLSConfig()))
		if err != nil {
			t.Fatal(err)
		}
		job, err := alice.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "solver", Command: "run", MachineType: "hpc", Nodes: 2})
		if err != nil {
			t.Fatal(err)
		}
		// A job runs within seconds; a missing permission stalls it.
		jctx, jcancel := context.WithTimeout(ctx, 90*time.Second)
		defer jcancel()
		waitJob(jctx, t, alice, p, job.ID, "RUNNING", structs.JobRunning)
		jobsNS := podgroup.TenantNamespace(podgroup.DefaultNamespacePrefix, "acme") // alice's tenant
		jobPods, err := env.Client.CoreV1().Pods(jobsNS).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		bound := 0
		for _, jp := range jobPods.Items {
			if jp.Spec.NodeName != "" {
				bound++
			}
		}
		if bound != 2 {
			t.Errorf("%d of %d job pods bound in %s; want 2", bound, len(jobPods.Items), jobsNS)
		}
		if _, err := alice.CancelJob(ctx, job.ID, "done"); err != nil {
			t.Fatal(err)
		}
		waitJob(ctx, t, alice, p, job.ID, "TERMINATED", structs.JobTerminated)
		waitFor(ctx, t, "the job's pods removed by the agent", func() (bool, string) {
			pods, err := env.Client.CoreV1().Pods(jobsNS).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			return len(pods.Items) == 0, fmt.Sprintf("%d pods left", len(pods.Items))
		})

	})

	t.Run("a values file with a wrong type is refused by the schema", func(t *testing.T) {
		bad := writeValues(t, "bad.yaml", "hub:\n  replicas: three\n")
		out, err := h.run(ctx, "install", "wrong", chartDir(t), "--namespace", namespace, "-f", bad)
		if err == nil {
			t.Fatal("helm install accepted hub.replicas: three")
		}
		if !strings.Contains(out, "/hub/replicas") || !strings.Contains(out, "want integer") {
			t.Errorf("the refusal does not name the value and its type:\n%s", out)
		}
		if list := h.must(ctx, "list", "--namespace", namespace, "-q"); strings.Contains(list, "wrong") {
			t.Errorf("the refused release was recorded: %s", list)
		}
		if _, err := env.Client.AppsV1().StatefulSets(namespace).Get(ctx, "wrong-flotilla-hub", metav1.GetOptions{}); err == nil {
			t.Error("the refused release created its StatefulSet")
		}
	})
}

// waitJob waits until the job reaches state, failing early if the agent
// process exits.
func waitJob(ctx context.Context, t *testing.T, c *client.Client, agent *proc.Process, id, what string, state structs.JobState) {
	t.Helper()
	waitFor(ctx, t, "job "+id+" "+what, func() (bool, string) {
		if agent.Exited() {
			t.Fatalf("flotilla-agent exited (code %d):\n%s", agent.ExitCode(), agent.Tail(30))
		}
		j, err := c.GetJob(ctx, id, false)
		if err != nil {
			return false, err.Error()
		}
		return j.State == state, fmt.Sprintf("state %s, cluster %q, substatus %q", j.State, j.Cluster, j.Substatus)
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkHubSettings runs a hub replica's arguments through flotilla-hub's
// own settings parser and TLS loader: the settings must be accepted, the
// replica's id must be its pod name, replicas below bootstrap bootstrap
// from the same list of bootstrap replicas and the others join; the
// certificate must be valid, for server and client use, for the replica's
// raft and API addresses and for serviceHost.
func checkHubSettings(t *testing.T, args []string, pod string, bootstrap int, serviceHost string) *hubconfig.Settings {
	t.Helper()
	s, err := hubconfig.Load(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatalf("%s: flotilla-hub refuses the chart's settings %q: %v", pod, args, err)
	}
	ordinal := pod[strings.LastIndex(pod, "-")+1:]
	if s.ID != pod {
		t.Errorf("%s: raft id %q; want the pod name", pod, s.ID)
	}
	if n, _ := strconv.Atoi(ordinal); n < bootstrap {
		if len(s.Bootstrap.Peers) != bootstrap || s.Join != "" {
			t.Errorf("%s: bootstrap %v, join %q; want the %d bootstrap replicas", pod, s.Bootstrap, s.Join, bootstrap)
		}
	} else if !s.Bootstrap.IsZero() || s.Join != "https://"+serviceHost+":8443" {
		t.Errorf("%s: bootstrap %v, join %q; want to join through https://%s:8443", pod, s.Bootstrap, s.Join, serviceHost)
	}
	replica, err := hubtls.LoadReplica(hubtls.Files{CertFile: s.TLSCert, KeyFile: s.TLSKey, ClientCAFile: s.ClientCA})
	if err != nil {
		t.Fatalf("%s: the TLS material: %v", pod, err)
	}
	leaf, err := x509.ParseCertificate(replica.API.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	api, err := url.Parse(s.APIAdvertise)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{hubtls.ServerNameOf(s.RaftAdvertise), api.Hostname(), serviceHost} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: replica.PeerCAs,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s: the certificate is not valid for %s: %v", pod, host, err)
		}
	}
	if s.InternalSecret == "" || s.AdminAPIKey == "" {
		t.Errorf("%s: internal secret or admin key missing", pod)
	}
	return s
}
