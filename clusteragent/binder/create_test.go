package binder

import (
	"context"
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
)

// fakeGang is a 3-pod gang of job 7 and its job Secret, in a fake clientset
// that gives created pods UIDs and carries out binds.
func fakeGang(t *testing.T) (*fake.Clientset, []*corev1.Pod, *corev1.Secret) {
	t.Helper()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "job-7", Namespace: "hpc-acme", UID: "sec-7"}}
	c := fake.NewClientset(sec)
	n := 0
	c.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "" {
			n++
			a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).UID = types.UID(fmt.Sprintf("uid-%d", n))
			return false, nil, nil
		}
		b := a.(k8stesting.CreateAction).GetObject().(*corev1.Binding)
		p, err := c.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		pod := p.(*corev1.Pod).DeepCopy()
		pod.Spec.NodeName = b.Target.Name
		return true, nil, c.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), pod, b.Namespace)
	})
	var pods []*corev1.Pod
	for rank := range 3 {
		pods = append(pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("job-7-%d", rank), Namespace: "hpc-acme",
			Labels: map[string]string{podgroup.LabelManaged: "true", podgroup.LabelJob: "7", podgroup.LabelRank: fmt.Sprint(rank)},
		}})
	}
	return c, pods, sec
}

// lostReply makes the first request of verb on resource (subresource sub)
// go through and then report a cancelled context, as a reply lost to an
// agent shutting down; fail makes every later one of them fail.
func lostReply(c *fake.Clientset, verb, resource, sub string, fail error) {
	first := true
	c.PrependReactor(verb, resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != sub {
			return false, nil, nil
		}
		if !first {
			if fail != nil {
				return true, nil, fail
			}
			return false, nil, nil
		}
		first = false
		// Carry the request out through the rest of the chain (this
		// reactor is the first: prepended last), then lose the reply.
		for _, r := range c.ReactionChain[1:] {
			if !r.Handles(a) {
				continue
			}
			if handled, _, err := r.React(a); handled {
				if err != nil {
					return true, nil, err
				}
				break
			}
		}
		return true, nil, context.Canceled
	})
}

// ErrRefusedForTest is a bind the API server refuses.
var ErrRefusedForTest = errors.New("bind refused")

// gangState reads the start record and the pods back.
func gangState(t *testing.T, c *fake.Clientset) (started string, pods map[string]*corev1.Pod) {
	t.Helper()
	ctx := context.Background()
	s, err := c.CoreV1().Secrets("hpc-acme").Get(ctx, "job-7", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.CoreV1().Pods("hpc-acme").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods = map[string]*corev1.Pod{}
	for i := range l.Items {
		pods[string(l.Items[i].UID)] = &l.Items[i]
	}
	return s.Annotations[podgroup.AnnotStarted], pods
}

// TestCreateGangLostReply: a pre-placed create whose start record or head
// bind is stored but whose reply is lost (the agent's ctx cancelled: the
// first agent of TestAgentGangScheduling/preplaced, killed at its first
// bound pod) never leaves a start record naming a head that is gone — a
// restarted runner takes that for a job that may have run and ends it
// COMPLETED_WITH_ERROR ("lost 3 of 3 pods"). Either the record is
// withdrawn and the gang rolled back (its head void), or the gang is left
// whole, its head unbound, for level 2, or the head is bound.
func TestCreateGangLostReply(t *testing.T) {
	nodes := []string{"n0", "n1", "n2"}
	for name, tc := range map[string]struct {
		verb, resource, sub string
		fail                error // later requests of the same kind
		failGets            int   // pod reads that fail first
		wantErr             error
		wantVoid            bool
		wantPods            int
		wantHeadBound       bool
	}{
		"start record stored, reply lost: withdrawn, rolled back, head void": {
			verb: "patch", resource: "secrets", wantErr: context.Canceled, wantVoid: true,
		},
		"start record stored, reply lost, cannot withdraw: left whole to level 2": {
			verb: "patch", resource: "secrets", fail: errors.New("apiserver unreachable"),
			wantErr: ErrLeftToLevel2, wantPods: 3,
		},
		"head bind stored, reply lost: started": {
			verb: "create", resource: "pods", sub: "binding", wantPods: 3, wantHeadBound: true,
		},
		"head bind stored, reply lost, its read too: read again, started": {
			verb: "create", resource: "pods", sub: "binding", failGets: 1, wantPods: 3, wantHeadBound: true,
		},
		"head bind stored, reply lost, head cannot be read: left whole, nothing withdrawn": {
			verb: "create", resource: "pods", sub: "binding", failGets: 2, wantErr: ErrLeftToLevel2, wantPods: 3, wantHeadBound: true,
		},
		"head bind refused: withdrawn, rolled back, head void": {
			verb: "create", resource: "pods", sub: "binding", fail: errors.New("refused"), wantErr: ErrRefusedForTest, wantVoid: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, pods, sec := fakeGang(t)
			gets := 0
			c.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
				if gets++; gets <= tc.failGets {
					return true, nil, errors.New("apiserver unreachable")
				}
				return false, nil, nil
			})
			if errors.Is(tc.wantErr, ErrRefusedForTest) {
				c.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
					if a.GetSubresource() == "binding" {
						return true, nil, ErrRefusedForTest
					}
					return false, nil, nil
				})
			} else {
				lostReply(c, tc.verb, tc.resource, tc.sub, tc.fail)
			}
			b := New(c, 4)
			void, err := b.CreateGang(context.Background(), pods, nodes, sec, nil)
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("CreateGang: %v, want %v", err, tc.wantErr)
			}
			started, have := gangState(t, c)
			if started != "" && have[started] == nil {
				t.Errorf("the start record names head %s, which is gone: a restart ends the job as one that may have run", started)
			}
			if len(have) != tc.wantPods {
				t.Errorf("%d pods left, want %d", len(have), tc.wantPods)
			}
			if (void != "") != tc.wantVoid {
				t.Errorf("void %q, want void: %v", void, tc.wantVoid)
			}
			for _, p := range have {
				if p.Labels[podgroup.LabelRank] == "0" && (p.Spec.NodeName != "") != tc.wantHeadBound {
					t.Errorf("head bound to %q, want bound: %v", p.Spec.NodeName, tc.wantHeadBound)
				}
			}
		})
	}
}
