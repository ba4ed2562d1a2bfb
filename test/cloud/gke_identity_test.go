package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/cli"
	"github.com/flotilla-hpc/flotilla/federation/cloud/cloudtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// agentPrincipal is the agent's Kubernetes ServiceAccount as an IAM
// principal of the fake's project (number 415104041262).
const agentPrincipal = "principal://iam.googleapis.com/projects/415104041262/locations/global/workloadIdentityPools/" +
	"hpc-project.svc.id.goog/subject/ns/flotilla-system/sa/flotilla-agent"

const agentRole = "projects/hpc-project/roles/flotilla_burst_1_agent"

// startPolicy is the project's policy before up: other administrators'
// grants, one of them conditional (a version 3 policy).
func startPolicy() cloudtest.IAMPolicy {
	return cloudtest.IAMPolicy{Version: 3, Bindings: []cloudtest.IAMBinding{
		{Role: "roles/owner", Members: []string{"user:admin@example.com"}},
		{Role: "roles/container.admin", Members: []string{"serviceAccount:flotilla@hpc-project.iam.gserviceaccount.com", "group:ops@example.com"}},
		{Role: "roles/viewer", Members: []string{"user:night@example.com"},
			Condition: json.RawMessage(`{"expression":"request.time.getHours(\"UTC\") >= 20","title":"nights"}`)},
	}}
}

// runUntil runs the command as the administrator and cancels it, as
// Ctrl-C would, right after the fake carried out the REST call named
// stopAfter; it returns the exit code and standard error.
func (w *world) runUntil(ctx context.Context, stopAfter string, args ...string) (int, string) {
	runCtx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	w.gke.AfterCall(func(call string) {
		if call == stopAfter {
			interrupt()
		}
	})
	defer w.gke.AfterCall(nil)
	env := map[string]string{cli.EnvHub: strings.Join(w.hubs.URLs(), ","), cli.EnvAPIKey: w.hubs.AdminKey}
	var out, errOut strings.Builder
	code := cli.Run(runCtx, args, &out, &errOut, func(k string) string { return env[k] })
	return code, errOut.String()
}

// TestCloudUpGKEAgentIdentity: with an elastic machine type, up on GKE
// makes the cluster with Workload Identity (workload pool
// hpc-project.svc.id.goog, GKE_METADATA on every pool), the custom role
// flotilla_burst_1_agent allowed exactly container.clusters.get and
// container.clusters.update (what GetNodePool and SetNodePoolSize need),
// and grants it, in the project's IAM policy, to the agent's Kubernetes
// ServiceAccount as the exact Workload Identity principal. Interrupted
// right after IAM made the role, and again right after it wrote the
// policy (both before the hub recorded the step), the next up recognises
// both and makes neither twice; another administrator's concurrent policy
// change (a stale etag, 409 ABORTED) is read again and kept, on up and on
// down. down removes only its member and the role: the policy ends as it
// was plus the colleagues' changes.
func TestCloudUpGKEAgentIdentity(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w := newWorld(t, "gke")
	w.startCluster()
	w.gke.SetPolicy(startPolicy())
	args := w.upArgs("up", w.machineTypes(gkeMachineTypes+elasticMachineTypes("c2-standard-16")))

	// 1: interrupted once IAM has made the role (up's first step), before
	// the hub records it.
	if code, errOut := w.runUntil(ctx, "CreateRole", args...); code == 0 || !strings.Contains(errOut, "context canceled") {
		t.Fatalf("first up: exit %d: %s", code, errOut)
	}
	if _, ok := w.gke.Role(agentRole); !ok {
		t.Fatalf("no role after the first run: %v", w.gke.Resources())
	}
	// 2: a colleague changes the policy between our read and write, and
	// the run is interrupted once our write went through.
	w.gke.PolicyConflicts(1)
	if code, errOut := w.runUntil(ctx, "SetIamPolicy", args...); code == 0 || !strings.Contains(errOut, "context canceled") {
		t.Fatalf("second up: exit %d: %s", code, errOut)
	}
	// 3: the rest.
	code, out, errOut := w.run(ctx, args...)
	if code != 0 {
		t.Fatalf("third up: exit %d: %s\n%s", code, errOut, out)
	}
	t.Logf("third up:\n%s", out)

	var iamCalls []string
	for _, c := range w.gke.Calls() {
		if !strings.HasPrefix(c, "Create") || strings.HasPrefix(c, "CreateRole") {
			iamCalls = append(iamCalls, c)
		}
	}
	if diff := cmp.Diff([]string{"CreateRole flotilla_burst_1_agent", "SetIamPolicy"}, iamCalls); diff != "" {
		t.Errorf("IAM calls over the three runs (-want +got):\n%s", diff)
	}
	role, _ := w.gke.Role(agentRole)
	if diff := cmp.Diff([]string{"container.clusters.get", "container.clusters.update"}, role.IncludedPermissions); diff != "" || role.Deleted {
		t.Errorf("role deleted=%v permissions (-want +got):\n%s", role.Deleted, diff)
	}
	pol := w.gke.Policy()
	want := startPolicy()
	want.Bindings = append(want.Bindings, cloudtest.IAMBinding{Role: "roles/viewer", Members: []string{colleague(pol)}},
		cloudtest.IAMBinding{Role: agentRole, Members: []string{agentPrincipal}})
	if diff := cmp.Diff(want.Bindings, pol.Bindings, jsonEqual()); diff != "" {
		t.Errorf("policy after up (-want +got):\n%s", diff)
	}
	if pol.Version != 3 {
		t.Errorf("policy version %d: the conditional binding needs 3", pol.Version)
	}

	// Workload Identity on the cluster and all its pools.
	c, ok := w.gke.Cluster(clusterName)
	if !ok {
		t.Fatal("no cluster")
	}
	if got := c.GetWorkloadIdentityConfig().GetWorkloadPool(); got != "hpc-project.svc.id.goog" {
		t.Errorf("workload pool %q", got)
	}
	pools := map[string]*containerpb.NodePool{"system": c.GetNodePools()[0]}
	for _, n := range []string{"mt-cpu16", "mt-gpu16", "mt-cloud8"} {
		if pools[n], ok = w.gke.NodePool(clusterName, n); !ok {
			t.Fatalf("no pool %s", n)
		}
	}
	for n, p := range pools {
		if m := p.GetConfig().GetWorkloadMetadataConfig().GetMode(); m != containerpb.WorkloadMetadataConfig_GKE_METADATA {
			t.Errorf("pool %s: workload metadata mode %s", n, m)
		}
	}

	// down: the binding first (again against a concurrent change), then
	// the pools, the cluster and the role (made first by up).
	w.gke.PolicyConflicts(1)
	before := len(w.gke.Calls())
	code, out, errOut = w.run(ctx, w.downArgs()...)
	if code != 0 {
		t.Fatalf("down: exit %d: %s\n%s", code, errOut, out)
	}
	var order []string
	for _, c := range w.gke.Calls()[before:] {
		order = append(order, strings.Fields(c)[0])
	}
	order = slices.Compact(order)
	if diff := cmp.Diff([]string{"SetIamPolicy", "DeleteNodePool", "DeleteCluster", "DeleteRole"}, order); diff != "" {
		t.Errorf("down's order (-want +got):\n%s", diff)
	}
	if res := w.gke.Resources(); len(res) != 0 {
		t.Errorf("left in the cloud: %v", res)
	}
	pol = w.gke.Policy()
	want = startPolicy()
	for _, b := range pol.Bindings[len(want.Bindings):] {
		if b.Role != "roles/viewer" || len(b.Members) != 1 || !strings.HasPrefix(b.Members[0], "user:colleague-") {
			t.Errorf("binding left after down: %+v", b)
		}
	}
	if diff := cmp.Diff(want.Bindings, pol.Bindings[:min(len(want.Bindings), len(pol.Bindings))], jsonEqual()); diff != "" {
		t.Errorf("policy after down (-want +got):\n%s", diff)
	}
	if n := len(pol.Bindings) - len(want.Bindings); n != 2 {
		t.Errorf("%d colleagues' bindings after down, want 2 (one per conflict)", n)
	}
}

// colleague is the member the fake's first concurrent change added.
func colleague(p cloudtest.IAMPolicy) string {
	for _, b := range p.Bindings {
		for _, m := range b.Members {
			if strings.HasPrefix(m, "user:colleague-") {
				return m
			}
		}
	}
	return "(none)"
}

// jsonEqual compares raw JSON by value.
func jsonEqual() cmp.Option {
	return cmp.Comparer(func(a, b json.RawMessage) bool {
		var x, y any
		if len(a) == 0 || len(b) == 0 {
			return len(a) == len(b)
		}
		_ = json.Unmarshal(a, &x)
		_ = json.Unmarshal(b, &y)
		return cmp.Equal(x, y)
	})
}

// TestCloudUpGKEIdentityErrors: the project's IAM policy is refused
// (PERMISSION_DENIED): up says so in one sentence naming the permissions
// it needs, and down removes what it had made.
func TestCloudUpGKEIdentityErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := newWorld(t, "gke")
	w.startCluster()
	w.gke.FailREST("SetIamPolicy", cloudtest.RESTFault{Code: 403, Status: "PERMISSION_DENIED",
		Message: "Policy update access denied."})
	code, out, errOut := w.run(ctx, w.upArgs("up", w.machineTypes(elasticMachineTypes("c2-standard-16")))...)
	if code != cli.ExitError {
		t.Errorf("exit %d, want %d", code, cli.ExitError)
	}
	golden := "flotilla: granting IAM role " + agentRole + " to " + agentPrincipal + " failed: Policy update access denied; " +
		"up needs resourcemanager.projects.getIamPolicy and resourcemanager.projects.setIamPolicy on project hpc-project (PERMISSION_DENIED)\n"
	if diff := cmp.Diff(golden, errOut); diff != "" {
		t.Errorf("message (-want +got):\n%s\noutput:\n%s", diff, out)
	}
	w.hubHasNothing(ctx)
	w.gke.FailREST("SetIamPolicy", cloudtest.RESTFault{})
	if code, out, errOut := w.run(ctx, w.downArgs()...); code != 0 {
		t.Fatalf("down: exit %d: %s\n%s", code, errOut, out)
	}
	if res := w.gke.Resources(); len(res) != 0 {
		t.Errorf("left in the cloud: %v", res)
	}
	if _, err := w.admin.GetCloudDeployment(ctx, clusterName); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("record left at the hub: %v", err)
	}
}
