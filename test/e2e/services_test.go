package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/clusteragent/vaultexport"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/federation/webhook"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
	"github.com/flotilla-hpc/flotilla/test/localnodes"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// hookReceiver records the webhook calls it gets.
type hookReceiver struct {
	mu    sync.Mutex
	calls []hookCall
}

type hookCall struct {
	sig  string
	body []byte
	call webhook.Call
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var c webhook.Call
	_ = json.Unmarshal(body, &c)
	h.mu.Lock()
	h.calls = append(h.calls, hookCall{sig: r.Header.Get(structs.SignatureHeader), body: body, call: c})
	h.mu.Unlock()
}

func (h *hookReceiver) find(state structs.JobState) (hookCall, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.calls {
		if c.call.Event.State == state {
			return c, true
		}
	}
	return hookCall{}, false
}

// TestServiceTriggerTraining: an inference service and a training job
// share a vault. On a real control plane with its agent and a local node
// that runs pods, a service account fires a trigger with the path of new
// data; the training job runs under the account's identity and writes its
// model into the vault; the trigger's callback receives COMPLETED with a
// valid signature; a Deployment's pod in another namespace mounts the
// exported vault read-only and reads the model; the account cannot submit
// another app (403 naming the rule) nor exceed its rate (429).
func TestServiceTriggerTraining(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs root, a control plane and the built binaries (FLOTILLA_BIN from make tools and make build, flotilla-localnode)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	hubs := procenv.StartHubs(t, procenv.HubOptions{Replicas: 1})
	env := k8senv.Start(t, k8senv.Options{Name: "east"})
	startLocalNode(ctx, t, env, "fsv", "10.218.0.0/24")

	// The vault's storage: a host directory behind a hostPath volume,
	// bound to the vault's claim in acme's namespace.
	pub, err := os.MkdirTemp("", "flotilla-services-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pub) })
	models := filepath.Join(pub, "models")
	for _, d := range []string{pub, models} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	train := filepath.Join(pub, "train.sh")
	if err := os.WriteFile(train, []byte("#!/bin/sh\necho \"model trained on: $*\" > /data/model.txt\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	core := env.Client.CoreV1()
	tenantNS := podgroup.TenantNamespace(podgroup.DefaultNamespacePrefix, "acme")
	mustK := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustK(core.Namespaces().Create(ctx, runtime.TenantNamespaceObject(tenantNS, "acme"), metav1.CreateOptions{}))
	mustK(core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "inference"}}, metav1.CreateOptions{}))
	gi := corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
	empty := ""
	mustK(core.PersistentVolumes().Create(ctx, &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "acme-models"},
		Spec: corev1.PersistentVolumeSpec{Capacity: gi, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: models}},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Namespace: tenantNS, Name: "models"}},
	}, metav1.CreateOptions{}))
	mustK(core.PersistentVolumeClaims(tenantNS).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "models", Namespace: tenantNS},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			StorageClassName: &empty, VolumeName: "acme-models", Resources: corev1.VolumeResourceRequirements{Requests: gi}},
	}, metav1.CreateOptions{}))

	admin := hubs.Client(hubs.AdminKey)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.PutTenant(ctx, &structs.Tenant{Name: "acme"}))
	must(admin.PutCluster(ctx, "east", &structs.ClusterSpec{Zone: "z1"}))
	must(admin.PutMachineType(ctx, &structs.MachineType{Name: "l1", Cores: 1, Slots: 1, RAM: 1, ScaleMin: 1, ScaleMax: 1,
		Cluster: "east", Properties: localnodes.Label + "=true"}))
	must(admin.PutVault(ctx, &structs.Vault{Tenant: "acme", Name: "models", Kind: structs.VaultFile, ClaimName: "models", AccessMode: structs.AccessRWX}))
	params := map[string]structs.Parameter{"data": {Name: "Data", Type: structs.ParamString, Required: true}}
	must(admin.PutApp(ctx, &structs.App{Name: "trainer", Visibility: structs.VisibilityPublic, Image: "flotilla/trainer:host",
		AppDef: structs.AppDef{Name: "Trainer", Commands: map[string]structs.Command{"train": {Path: train, Name: "Train", Parameters: params}}}}))
	must(admin.PutApp(ctx, &structs.App{Name: "miner", Visibility: structs.VisibilityPublic, Image: "flotilla/trainer:host",
		AppDef: structs.AppDef{Name: "Miner", Commands: map[string]structs.Command{"mine": {Path: train, Name: "Mine"}}}}))
	tok, err := admin.CreateBootstrapToken(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	procenv.StartAgent(t, procenv.AgentOptions{Cluster: "east", HubURLs: hubs.URLs(), Kubeconfig: env.Kubeconfig, BootstrapToken: tok.Key})

	// The service account, its key, the webhook rules and the trigger.
	must(admin.PutServiceAccount(ctx, "acme", "trainer-svc", &structs.ServiceAccountSpec{Scope: structs.Scope{
		Apps: []structs.AppGrant{{App: "trainer", Commands: []string{"train"}}}, MachineTypes: []string{"l1"}, MaxNodes: 1,
		RatePerMinute: 2, Params: map[string]structs.ParamBound{"data": {Prefix: "/data/incoming/"}}}}))
	key, err := admin.CreateServiceKey(ctx, "acme", "trainer-svc", "inference")
	if err != nil {
		t.Fatal(err)
	}
	hooks := &hookReceiver{}
	srv := httptest.NewServer(hooks)
	t.Cleanup(srv.Close)
	if err := admin.SetWebhookAllowList(ctx, []string{"127.0.0.1/32"}); err != nil {
		t.Fatal(err)
	}
	must(admin.PutTrigger(ctx, &structs.Trigger{Name: "retrain", Tenant: "acme", ServiceAccount: "trainer-svc", App: "trainer",
		Command: "train", MachineType: "l1", Nodes: 1, Vault: "models", Parameters: map[string]string{"data": "${payload.path}"},
		CallbackURL: srv.URL + "/trained", Debounce: true}))
	svc := hubs.Client(key.Key)
	secret, err := svc.CallbackSecret(ctx, "")
	if err != nil {
		t.Fatal(err)
	}

	// Fire: the job runs as the service account; a second fire while it
	// is in flight is debounced.
	fired, err := svc.FireTrigger(ctx, "retrain", map[string]any{"path": "/data/incoming/batch-7.csv"})
	if err != nil {
		t.Fatal(err)
	}
	j := fired.Job
	if j.Owner != "sa:acme/trainer-svc" || j.Trigger != "retrain" {
		t.Errorf("job owner %q trigger %q, want the service account and the trigger", j.Owner, j.Trigger)
	}
	if _, err := svc.FireTrigger(ctx, "retrain", map[string]any{"path": "/data/incoming/batch-8.csv"}); client.StatusOf(err) != http.StatusConflict {
		t.Errorf("a fire while the job is in flight: %v, want 409", err)
	}
	for !j.State.IsTerminal() {
		select {
		case <-ctx.Done():
			t.Fatalf("job %s did not end: %+v", j.Name, j)
		case <-time.After(250 * time.Millisecond):
		}
		if cur, err := svc.GetJob(ctx, j.ID, false); err == nil {
			j = cur
		}
	}
	if j.State != structs.JobCompleted {
		t.Fatalf("training ended %s (%s): %s", j.State, j.Substatus, j.LogTail)
	}
	b, err := os.ReadFile(filepath.Join(models, "model.txt"))
	if err != nil || !strings.Contains(string(b), "/data/incoming/batch-7.csv") {
		t.Fatalf("model in the vault: %q, %v", b, err)
	}

	// The callback: COMPLETED, signed with the account's secret.
	var done hookCall
	waitCond(ctx, t, "the COMPLETED callback", func() bool {
		var ok bool
		done, ok = hooks.find(structs.JobCompleted)
		return ok
	})
	if err := client.VerifyWebhook([]byte(secret.Secret), done.sig, done.body, time.Now(), 0); err != nil {
		t.Errorf("COMPLETED callback does not verify: %v", err)
	}
	if done.call.Event.JobID != j.ID || done.call.Event.Owner != "sa:acme/trainer-svc" {
		t.Errorf("callback event %+v", done.call.Event)
	}

	// Export the vault to the inference namespace; a Deployment reads it.
	must(admin.ExportVault(ctx, &structs.VaultExport{Tenant: "acme", Vault: "models", Namespace: "inference"}))
	claim := vaultexport.ClaimName("models")
	waitCond(ctx, t, "the exported claim bound", func() bool {
		pvc, err := core.PersistentVolumeClaims("inference").Get(ctx, claim, metav1.GetOptions{})
		return err == nil && pvc.Status.Phase == corev1.ClaimBound
	})
	one := int32(1)
	labels := map[string]string{"app": "inference"}
	script := "cat /models/model.txt; if touch /models/probe 2>/dev/null; then echo WRITABLE; else echo READ-ONLY; fi; sleep 3600"
	mustK(env.Client.AppsV1().Deployments("inference").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "inference", Namespace: "inference"},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				NodeName: "east-l0",
				Containers: []corev1.Container{{Name: "main", Image: "flotilla/inference:host", Command: []string{"/bin/sh", "-c", script},
					VolumeMounts: []corev1.VolumeMount{{Name: "models", MountPath: "/models"}}}},
				Volumes: []corev1.Volume{{Name: "models", VolumeSource: corev1.VolumeSource{
					PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}},
			}}},
	}, metav1.CreateOptions{}))
	var logs string
	waitCond(ctx, t, "the inference pod's output", func() bool {
		pods, err := core.Pods("inference").List(ctx, metav1.ListOptions{LabelSelector: "app=inference"})
		if err != nil || len(pods.Items) == 0 {
			return false
		}
		out, err := core.Pods("inference").GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{Container: "main"}).DoRaw(ctx)
		logs = string(out)
		return err == nil && strings.Contains(logs, "-ONLY") || strings.Contains(logs, "WRITABLE")
	})
	if !strings.Contains(logs, "batch-7.csv") || !strings.Contains(logs, "READ-ONLY") {
		t.Errorf("the inference pod read %q, want the model, read-only", logs)
	}
	if _, err := os.Stat(filepath.Join(models, "probe")); err == nil {
		t.Error("the inference pod wrote into the exported vault")
	}

	// Least privilege: another app is 403 naming the rule; over the rate
	// is 429 with Retry-After.
	_, err = svc.SubmitJob(ctx, structs.JobSubmitRequest{App: "miner", Command: "mine", MachineType: "l1", Nodes: 1})
	if client.StatusOf(err) != http.StatusForbidden || !strings.Contains(err.Error(), `"apps"`) {
		t.Errorf("another app: %v, want 403 naming rule apps", err)
	}
	req := structs.JobSubmitRequest{App: "trainer", Command: "train", MachineType: "l1", Nodes: 1, Vault: "models",
		Parameters: map[string]string{"data": "/data/incoming/batch-9.csv"}}
	second, err := svc.SubmitJob(ctx, req) // the second in a minute: allowed
	if err != nil {
		t.Fatal(err)
	}
	_, _ = svc.CancelJob(ctx, second.ID, "test")
	status, retry := rawSubmit(ctx, t, hubs, key.Key, req)
	if status != http.StatusTooManyRequests || retry == "" {
		t.Errorf("third submission in a minute: %d (Retry-After %q), want 429 with Retry-After", status, retry)
	}
}

// rawSubmit posts a submission without the client's retries and returns
// the status and Retry-After.
func rawSubmit(ctx context.Context, t *testing.T, hubs *procenv.Hubs, key string, req structs.JobSubmitRequest) (int, string) {
	t.Helper()
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, hubs.URLs()[0]+"/v1/jobs", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+key)
	hr.Header.Set("Content-Type", "application/json")
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: hubs.TLSConfig()}}
	resp, err := hc.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	t.Logf("third submission: %d %s", resp.StatusCode, strings.TrimSpace(string(msg)))
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// waitCond polls cond until it holds or ctx ends.
func waitCond(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, errors.Join(ctx.Err(), fmt.Errorf("gave up")))
		case <-tick.C:
		}
	}
}
