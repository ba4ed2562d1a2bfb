package prepull

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSyncerPullLifecycle runs the shell's passes against a fake
// clientset: a pull pod per runnable node, a failed pull reported with
// its reason and retried after RetryAfter, a started container counted
// ready and its pod deleted, a pod that never starts failed after
// PullTimeout, and an image the registry lacks reported failed without
// any pod.
func TestSyncerPullLifecycle(t *testing.T) {
	ctx := context.Background()
	node := func(name, arch string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{ArchLabel: arch, "pool": "cpu"}}}
	}
	kube := fake.NewClientset(node("n0", "amd64"), node("n1", "arm64"))
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := &Syncer{Kube: kube, Now: func() time.Time { return now },
		MachineTypes: func() []*structs.MachineType { return []*structs.MachineType{{Name: "cpu", Properties: "pool=cpu"}} },
		Options:      Options{RetryAfter: time.Minute, PullTimeout: 10 * time.Minute},
		Resolve: func(_ context.Context, ref, _ string) ([]string, error) {
			if ref == "r/gone:1" {
				return nil, errNotFound
			}
			return []string{"linux/amd64"}, nil
		}}
	s.init()
	s.apps = []structs.AgentApp{{Name: "s", Image: "r/s:1", MachineTypes: []string{"cpu"}}}
	state := func() structs.AppOnMachineType { return s.Report().Apps["s"].MachineTypes["cpu"] }
	pods := func() []corev1.Pod {
		l, err := kube.CoreV1().Pods(DefaultNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l.Items
	}
	setStatus := func(st corev1.ContainerState) {
		p := pods()[0]
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "pull", State: st}}
		if _, err := kube.CoreV1().Pods(DefaultNamespace).UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	s.pass(ctx)
	if ps := pods(); len(ps) != 1 || ps[0].Spec.NodeName != "n0" || ps[0].Spec.Containers[0].Image != "r/s:1" || len(ps[0].Spec.Containers[0].Resources.Requests) != 0 {
		t.Fatalf("pull pods %+v, want one for r/s:1 on n0 (n1 is arm64), asking for nothing", ps)
	}
	if on := state(); on.State != structs.AppPulling || on.Nodes != 1 {
		t.Fatalf("after the first pass: %+v", on)
	}
	setStatus(corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "denied"}})
	s.pass(ctx)
	if on := state(); on.State != structs.AppFailed || on.Reason != "node n0: ErrImagePull: denied" {
		t.Errorf("after a failed pull: %+v", on)
	}
	if len(pods()) != 0 {
		t.Error("the failed pull's pod stays")
	}
	s.pass(ctx)
	if len(pods()) != 0 {
		t.Error("retried before RetryAfter")
	}
	now = now.Add(time.Minute)
	s.pass(ctx)
	if len(pods()) != 1 || state().State != structs.AppPulling {
		t.Fatalf("not retried after RetryAfter: %d pods, %+v", len(pods()), state())
	}
	setStatus(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 127}})
	s.pass(ctx)
	if on := state(); on.State != structs.AppReady || on.Ready != 1 || len(pods()) != 0 {
		t.Errorf("after the container ran: %+v, %d pods", on, len(pods()))
	}

	// A pull that never starts fails after PullTimeout.
	s.apps = append(s.apps, structs.AgentApp{Name: "slow", Image: "r/slow:1", MachineTypes: []string{"cpu"}},
		structs.AgentApp{Name: "gone", Image: "r/gone:1", MachineTypes: []string{"cpu"}})
	s.pass(ctx)
	if len(pods()) != 1 {
		t.Fatalf("%d pods for the slow image, want 1 (none for the missing one)", len(pods()))
	}
	now = now.Add(10 * time.Minute)
	s.pass(ctx)
	if on := s.Report().Apps["slow"].MachineTypes["cpu"]; on.State != structs.AppFailed || on.Reason != "node n0: not started within 10m0s" || len(pods()) != 0 {
		t.Errorf("slow pull after the timeout: %+v, %d pods", on, len(pods()))
	}
	if on := s.Report().Apps["gone"].MachineTypes["cpu"]; on.State != structs.AppFailed || on.Reason != "image r/gone:1: manifest unknown" {
		t.Errorf("missing image: %+v", on)
	}
	// An app removed from the catalog leaves the report.
	s.apps = s.apps[:1]
	s.pass(ctx)
	if _, ok := s.Report().Apps["slow"]; ok || s.Report().Apps["s"].MachineTypes["cpu"].State != structs.AppReady {
		t.Errorf("after removing apps: %+v", s.Report().Apps)
	}
}

type notFoundError struct{}

func (notFoundError) Error() string { return "manifest unknown" }

var errNotFound error = notFoundError{}

// TestSyncerCollectsCredentialSecrets: the pull namespace holds one
// credential Secret per pull credential of the catalog and none other.
// A Syncer starting afresh (an agent restart) with a catalog without
// credentials deletes the credential Secrets a former run left (and
// nothing else); a credential added, rotated and removed makes, replaces
// and deletes its Secret; a Secret that could not be deleted is deleted
// by a later pass.
func TestSyncerCollectsCredentialSecrets(t *testing.T) {
	ctx := context.Background()
	secret := func(name string, labels map[string]string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace, Labels: labels}}
	}
	kube := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n0", Labels: map[string]string{ArchLabel: "amd64"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DefaultNamespace}},
		secret("pullcred-0123456789abcdef", map[string]string{LabelCredential: "true"}),
		secret("someone-elses", nil))
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s := &Syncer{Kube: kube, Now: func() time.Time { return now },
		MachineTypes: func() []*structs.MachineType { return []*structs.MachineType{{Name: "cpu"}} },
		Resolve:      func(context.Context, string, string) ([]string, error) { return []string{"linux/amd64"}, nil }}
	s.init()
	names := func() []string {
		t.Helper()
		l, err := kube.CoreV1().Secrets(DefaultNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, sec := range l.Items {
			out = append(out, sec.Name)
		}
		slices.Sort(out)
		return out
	}
	const cred, rotated = `{"auths":{"r":{"auth":"YTpi"}}}`, `{"auths":{"r":{"auth":"YTpj"}}}`
	app := func(pullSecret string) []structs.AgentApp {
		return []structs.AgentApp{{Name: "s", Image: "r/s:1", MachineTypes: []string{"cpu"}, PullSecret: pullSecret}}
	}
	pass := func(what string, apps []structs.AgentApp, want ...string) {
		t.Helper()
		s.apps = apps
		s.appsGen++
		s.pass(ctx)
		if got := names(); !slices.Equal(got, want) {
			t.Errorf("%s: Secrets %v, want %v", what, got, want)
		}
	}
	pass("a fresh start, an empty catalog (nothing to pull either)", []structs.AgentApp{}, "someone-elses")
	pass("a credential added", app(cred), credentialSecretName(cred), "someone-elses")
	pass("the credential rotated", app(rotated), credentialSecretName(rotated), "someone-elses")

	failing := true
	kube.PrependReactor("delete", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return failing, nil, errors.New("etcd is down")
	})
	pass("removed while deletes fail", app(""), credentialSecretName(rotated), "someone-elses")
	failing = false
	pass("a later pass", app(""), "someone-elses")
}
