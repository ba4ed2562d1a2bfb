package cloud

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/federation/cli"
	"github.com/flotilla-hpc/flotilla/federation/cloud"
	"github.com/flotilla-hpc/flotilla/federation/cloud/cloudtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// cancelOn is an output that cancels the run when a line contains marker,
// as Ctrl-C would at that moment.
type cancelOn struct {
	mu     sync.Mutex
	buf    strings.Builder
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

// TestCloudUpResume: up is interrupted (its context cancelled, as Ctrl-C
// does) once the cluster exists, before the node groups; it says how to go
// on, and the hub's record lists what exists. A second up makes only the
// node groups and the rest, and the cluster joins.
func TestCloudUpResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w := newWorld(t, "eks")
	w.startCluster()
	mt := w.machineTypes(eksMachineTypes)

	runCtx, interrupt := context.WithCancel(ctx)
	out := &cancelOn{marker: "EKS cluster burst-1: done", cancel: interrupt}
	env := map[string]string{cli.EnvHub: strings.Join(w.hubs.URLs(), ","), cli.EnvAPIKey: w.hubs.AdminKey}
	var errOut strings.Builder
	code := cli.Run(runCtx, w.upArgs("up", mt), out, &errOut, func(k string) string { return env[k] })
	interrupt()
	if code == 0 {
		t.Fatalf("interrupted up succeeded:\n%s", out.buf.String())
	}
	if !strings.Contains(errOut.String(), "interrupted with 3 steps done: run the same command again to resume") {
		t.Errorf("interrupted up says: %s", errOut.String())
	}
	rec, err := w.admin.GetCloudDeployment(ctx, clusterName)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, r := range rec.Resources {
		steps = append(steps, r.Step)
	}
	if diff := cmp.Diff([]string{"iam/cluster", "iam/node", "cluster"}, steps); diff != "" {
		t.Errorf("recorded steps (-want +got):\n%s", diff)
	}
	if _, err := w.admin.GetCluster(ctx, clusterName); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("cluster registered at the hub before its node groups: %v", err)
	}
	if code, list, stderr := w.run(ctx, "cloud", "list"); code != 0 || !strings.Contains(list, "iam/cluster,iam/node,cluster") {
		t.Errorf("cloud list: exit %d: %s%s", code, list, stderr)
	}
	before := len(w.aws.Calls())

	code, stdout, stderr := w.run(ctx, w.upArgs("up", mt)...)
	if code != 0 {
		t.Fatalf("resumed up: exit %d: %s\n%s", code, stderr, stdout)
	}
	if !strings.Contains(stdout, "resuming burst-1: 3 steps done before") {
		t.Errorf("resumed up does not say it resumes:\n%s", stdout)
	}
	if diff := cmp.Diff([]string{"CreateNodegroup mt-cpu16", "CreateNodegroup mt-gpu16"}, w.aws.Calls()[before:]); diff != "" {
		t.Errorf("the second run's calls (-want +got):\n%s", diff)
	}
	if _, err := w.admin.GetCluster(ctx, clusterName); err != nil {
		t.Errorf("cluster not registered after resuming: %v", err)
	}
	if _, err := w.env.Client.AppsV1().Deployments(cloud.AgentNamespace).Get(ctx, cloud.AgentName, metav1.GetOptions{}); err != nil {
		t.Errorf("agent not installed after resuming: %v", err)
	}
}

// TestCloudErrors: the cloud refuses (quota exceeded, access denied, an
// instance type the region does not offer): the user reads one sentence
// with the cloud's error code (golden), nothing is registered at the hub,
// and down removes whatever the run had made.
func TestCloudErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := newWorld(t, "eks")
	mt := w.machineTypes(eksMachineTypes)
	cases := []struct {
		name   string
		fault  func()
		file   string
		golden string
	}{
		{name: "access denied", fault: func() {
			w.aws.Fail("CreateRole", cloudtest.Fault{Status: 403, Code: "AccessDenied",
				Message: "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: iam:CreateRole on resource: role flotilla-burst-1-cluster"})
		}, file: mt,
			golden: "flotilla: creating IAM role flotilla-burst-1-cluster failed: User: arn:aws:iam::123456789012:user/dev is not authorized to perform: iam:CreateRole on resource: role flotilla-burst-1-cluster (AccessDenied)\n"},
		{name: "quota exceeded", fault: func() {
			w.aws.Fail("CreateCluster", cloudtest.Fault{Status: 400, Code: "ResourceLimitExceededException",
				Message: "Cluster limit exceeded for account 123456789012 in us-east-1: 100 clusters"})
		}, file: mt,
			golden: "flotilla: creating EKS cluster burst-1 failed: Cluster limit exceeded for account 123456789012 in us-east-1: 100 clusters (ResourceLimitExceededException)\n"},
		{name: "unknown instance type", fault: func() {}, file: w.machineTypesNamed("bad.yaml", strings.Replace(eksMachineTypes, "c7i.4xlarge", "p9.huge", 1)),
			golden: "flotilla: creating node group mt-cpu16 (p9.huge) failed: The instance type p9.huge is not offered in this region (Ec2InstanceTypeDoesNotExist)\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fault()
			defer func() { w.aws.Fail("CreateRole", cloudtest.Fault{}); w.aws.Fail("CreateCluster", cloudtest.Fault{}) }()
			code, stdout, stderr := w.run(ctx, w.upArgs("up", c.file)...)
			if code != cli.ExitError {
				t.Errorf("exit %d, want %d", code, cli.ExitError)
			}
			if diff := cmp.Diff(c.golden, stderr); diff != "" {
				t.Errorf("message (-want +got):\n%s\noutput:\n%s", diff, stdout)
			}
			w.hubHasNothing(ctx)
			code, stdout, stderr = w.run(ctx, w.downArgs()...)
			if code != 0 {
				t.Fatalf("down after the failure: exit %d: %s\n%s", code, stderr, stdout)
			}
			if res := w.aws.Resources(); len(res) != 0 {
				t.Errorf("left in the cloud after down: %v", res)
			}
			if _, err := w.admin.GetCloudDeployment(ctx, clusterName); !errors.Is(err, structs.ErrNotFound) {
				t.Errorf("record left at the hub: %v", err)
			}
		})
	}
}

// TestCloudDown: down removes exactly what up made, newest first — the
// agent, the hub's cluster and machine types, the node groups, the
// cluster, the IAM roles (EKS refuses to delete a cluster with node groups
// and IAM a role with policies, so a wrong order fails) — and its record;
// a second down is a no-op.
func TestCloudDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w := newWorld(t, "eks")
	w.startCluster()
	mt := w.machineTypes(eksMachineTypes)
	if code, stdout, stderr := w.run(ctx, w.upArgs("up", mt)...); code != 0 {
		t.Fatalf("up: exit %d: %s\n%s", code, stderr, stdout)
	}
	before := len(w.aws.Calls())
	code, stdout, stderr := w.run(ctx, w.downArgs()...)
	if code != 0 {
		t.Fatalf("down: exit %d: %s\n%s", code, stderr, stdout)
	}
	t.Logf("down:\n%s", stdout)
	want := []string{"DeleteNodegroup mt-gpu16", "DeleteNodegroup mt-cpu16", "DeleteCluster burst-1",
		"DeleteRole flotilla-burst-1-node", "DeleteRole flotilla-burst-1-cluster"}
	if diff := cmp.Diff(want, w.aws.Calls()[before:]); diff != "" {
		t.Errorf("down's calls (-want +got):\n%s", diff)
	}
	if res := w.aws.Resources(); len(res) != 0 {
		t.Errorf("left in the cloud: %v", res)
	}
	w.hubHasNothing(ctx)
	if _, err := w.admin.GetCloudDeployment(ctx, clusterName); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("record left at the hub: %v", err)
	}
	ns, err := w.env.Client.CoreV1().Namespaces().Get(ctx, cloud.AgentNamespace, metav1.GetOptions{})
	if err == nil && ns.DeletionTimestamp == nil {
		t.Errorf("agent namespace still there")
	} else if err != nil && !apierrors.IsNotFound(err) {
		t.Error(err)
	}

	after := len(w.aws.Calls())
	code, stdout, stderr = w.run(ctx, w.downArgs()...)
	if code != 0 || !strings.Contains(stdout, "nothing to remove") {
		t.Errorf("second down: exit %d: %s%s", code, stdout, stderr)
	}
	if len(w.aws.Calls()) != after {
		t.Errorf("second down called the cloud: %v", w.aws.Calls()[after:])
	}
}

var _ io.Writer = (*cancelOn)(nil)
