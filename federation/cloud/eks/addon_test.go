package eks

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
	"github.com/flotilla-hpc/flotilla/federation/cloud/cloudtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestPodIdentityAddon: against the wire-level fake, the add-on step
// creates eks-pod-identity-agent once (DescribeAddon first, so a rerun
// takes the one there), reports the cloud's statuses until ACTIVE, and
// Delete removes it and waits until it is gone; an add-on that ends
// DEGRADED or CREATE_FAILED is one sentence with the cloud's issue code,
// and its name comes back so down removes it.
func TestPodIdentityAddon(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fake := cloudtest.NewAWS()
	defer fake.Close()
	fake.Polls = 1
	cfg := aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}}
	p := New(cfg, Options{Subnets: []string{"subnet-1"}, Endpoint: fake.URL, PollInterval: time.Millisecond})
	spec := &cloud.Spec{Provider: structs.CloudEKS, Name: "c1", Region: "us-east-1"}
	for _, s := range []cloud.Step{{ID: "iam/cluster", Kind: cloud.KindIAMRole, Role: "cluster"}, {ID: "cluster", Kind: cloud.KindCluster}} {
		if _, err := p.Create(ctx, spec, s, func(string) {}); err != nil {
			t.Fatal(err)
		}
	}
	step := cloud.Step{ID: "addon/" + PodIdentityAddon, Kind: cloud.KindAddon, Role: PodIdentityAddon}
	var statuses []string
	status := func(s string) {
		if len(statuses) == 0 || statuses[len(statuses)-1] != s {
			statuses = append(statuses, s)
		}
	}
	id, err := p.Create(ctx, spec, step, status)
	if err != nil || id != PodIdentityAddon {
		t.Fatalf("create: %q, %v", id, err)
	}
	if diff := cmp.Diff([]string{"CREATING", "ACTIVE"}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if _, err := p.Create(ctx, spec, step, func(string) {}); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if n := countCalls(fake.Calls(), "CreateAddon "+PodIdentityAddon); n != 1 {
		t.Errorf("CreateAddon called %d times, want once: %v", n, fake.Calls())
	}
	if diff := cmp.Diff([]string{"c1/" + PodIdentityAddon + " ACTIVE"}, fake.Addons()); diff != "" {
		t.Errorf("add-ons (-want +got):\n%s", diff)
	}
	res := structs.CloudResource{Step: step.ID, Kind: cloud.KindAddon, ID: id}
	if err := p.Delete(ctx, spec, res, func(string) {}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if a := fake.Addons(); len(a) != 0 {
		t.Errorf("add-ons after delete: %v", a)
	}
	if err := p.Delete(ctx, spec, res, func(string) {}); err != nil {
		t.Errorf("deleting an add-on already gone: %v", err)
	}

	for _, st := range []string{"DEGRADED", "CREATE_FAILED"} {
		fake.FailAddon(PodIdentityAddon, st, "InsufficientNumberOfReplicas", "The add-on is unhealthy because it doesn't have the desired number of replicas.")
		id, err := p.Create(ctx, spec, step, func(string) {})
		want := "installing EKS add-on eks-pod-identity-agent failed: The add-on is unhealthy because it doesn't have the desired number of replicas. (InsufficientNumberOfReplicas)"
		if err == nil || err.Error() != want || cloud.ErrorCode(err) != "InsufficientNumberOfReplicas" {
			t.Errorf("%s: error %v, want %q", st, err, want)
		}
		if id != PodIdentityAddon {
			t.Errorf("%s: id %q, want the add-on's name so down removes it", st, id)
		}
		if err := p.Delete(ctx, spec, structs.CloudResource{Kind: cloud.KindAddon, ID: id}, func(string) {}); err != nil {
			t.Fatalf("%s: delete: %v", st, err)
		}
	}
	fake.FailAddon(PodIdentityAddon, "", "", "")

	// The cloud refuses the create: the sentence has its code, nothing is made.
	fake.Fail("CreateAddon", cloudtest.Fault{Status: 403, Code: "AccessDeniedException", Message: "not authorized to perform: eks:CreateAddon"})
	if _, err := p.Create(ctx, spec, step, func(string) {}); cloud.ErrorCode(err) != "AccessDeniedException" {
		t.Errorf("refused create: %v", err)
	}
	if a := fake.Addons(); len(a) != 0 {
		t.Errorf("add-ons after a refused create: %v", a)
	}
}

// TestStepsPodIdentityAddon: the add-on step is planned only with an
// elastic machine type, after the cluster and before the association
// (down runs newest first: the association, then the add-on).
func TestStepsPodIdentityAddon(t *testing.T) {
	mt := func(elastic bool) cloud.MachineType {
		m := cloud.MachineType{InstanceType: "c7i.4xlarge", Nodes: 1}
		m.Name = "cpu16"
		if elastic {
			m.Nodes, m.MaxNodes, m.Elastic = 0, 3, true
		}
		return m
	}
	ids := func(elastic bool) []string {
		var out []string
		for _, s := range New(aws.Config{}, Options{}).Steps(&cloud.Spec{Name: "c1", MachineTypes: []cloud.MachineType{mt(elastic)}}) {
			out = append(out, s.ID)
		}
		return out
	}
	if slices.Contains(ids(false), "addon/"+PodIdentityAddon) {
		t.Errorf("add-on planned without elastic machine types: %v", ids(false))
	}
	got := ids(true)
	c, a, i := slices.Index(got, "cluster"), slices.Index(got, "addon/"+PodIdentityAddon), slices.Index(got, "agent-identity")
	if c < 0 || a < 0 || i < 0 || !(c < a && a < i) {
		t.Errorf("steps %v: want cluster, then the add-on, then the association", got)
	}
}

func countCalls(calls []string, c string) int {
	n := 0
	for _, x := range calls {
		if x == c {
			n++
		}
	}
	return n
}
