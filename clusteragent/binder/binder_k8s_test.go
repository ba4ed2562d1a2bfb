package binder_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/flotilla-hpc/flotilla/clusteragent/binder"
	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/k8senv"
)

const ns = "bind"

// gangOf creates job n's Secret and its pods (owned by it) and returns the
// gang as the cache would hand it over.
func gangOf(ctx context.Context, t *testing.T, env *k8senv.Env, n uint64, size int) cache.PendingGang {
	t.Helper()
	sec, err := env.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: podgroup.JobName(n), Labels: map[string]string{podgroup.LabelManaged: "true", podgroup.LabelJob: fmt.Sprint(n)},
	}, Immutable: new(true), Data: map[string][]byte{"k": []byte("v")}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods, err := podgroup.Build(&structs.Job{ID: fmt.Sprint(n), Number: n, Nodes: size, Tenant: "acme"},
		&structs.MachineType{Name: "m", Cores: 1, RAM: 1}, podgroup.Options{Namespace: ns, Image: "x"})
	if err != nil {
		t.Fatal(err)
	}
	g := cache.PendingGang{ID: cache.GangID{Namespace: ns, Number: n}, Secret: cache.SecretRef{Name: sec.Name, UID: sec.UID}}
	for rank, p := range pods {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Secret", Name: sec.Name, UID: sec.UID}}
		got, err := env.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		g.Pods = append(g.Pods, cache.PodRef{Namespace: ns, Name: got.Name, UID: got.UID, ResourceVersion: got.ResourceVersion, Rank: rank})
	}
	return g
}

func nodesFor(g cache.PendingGang) []string {
	var out []string
	for i := range g.Pods {
		out = append(out, fmt.Sprintf("n%d", i))
	}
	return out
}

// TestBinderRecordsStartBeforeHead runs the binder against a real API
// server: the head is bound last, after the start record naming it is on
// the job Secret (seen in order through a watch); a job that ended, is
// gone, or started with another head gets its workers bound but never its
// head; a teardown deletes a gang whose head is unbound and withdraws the
// record, refuses (ErrHeadBound) when the head was bound meanwhile, and
// never deletes a pod recreated under the same name.
func TestBinderRecordsStartBeforeHead(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a real control plane (FLOTILLA_BIN tools); skipped in -short")
	}
	env := k8senv.Start(t, k8senv.Options{Name: "bind", NoControllerManager: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := env.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	core := env.Client.CoreV1()
	b := binder.New(env.Client, 8)
	nodeOf := func(name string) string {
		t.Helper()
		p, err := core.Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p.Spec.NodeName
	}
	mark := func(n uint64) string {
		t.Helper()
		s, err := core.Secrets(ns).Get(ctx, podgroup.JobName(n), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s.Annotations[podgroup.AnnotStarted]
	}
	annotate := func(n uint64, k, v string) {
		t.Helper()
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, k, v)
		if _, err := core.Secrets(ns).Patch(ctx, podgroup.JobName(n), types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("start recorded, then the head bound", func(t *testing.T) {
		g := gangOf(ctx, t, env, 1, 4)
		w, err := env.Client.CoreV1().Secrets(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=j1"})
		if err != nil {
			t.Fatal(err)
		}
		pw, err := core.Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=j1-0"})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.BindGang(ctx, g, nodesFor(g)); err != nil {
			t.Fatal(err)
		}
		for i, p := range g.Pods {
			if got := nodeOf(p.Name); got != fmt.Sprintf("n%d", i) {
				t.Errorf("pod %s on %q", p.Name, got)
			}
		}
		if got := mark(1); got != string(g.Pods[0].UID) {
			t.Errorf("start record %q, want the head's uid %s", got, g.Pods[0].UID)
		}
		// The record's resource version precedes the head's binding.
		recordRV, bindRV := "", ""
		for recordRV == "" {
			ev, ok := <-w.ResultChan()
			if !ok {
				t.Fatal("secret watch closed")
			}
			if s, ok := ev.Object.(*corev1.Secret); ok && ev.Type == watch.Modified && s.Annotations[podgroup.AnnotStarted] != "" {
				recordRV = s.ResourceVersion
			}
		}
		for bindRV == "" {
			ev, ok := <-pw.ResultChan()
			if !ok {
				t.Fatal("pod watch closed")
			}
			if p, ok := ev.Object.(*corev1.Pod); ok && p.Spec.NodeName != "" {
				bindRV = p.ResourceVersion
			}
		}
		w.Stop()
		pw.Stop()
		if !rvBefore(recordRV, bindRV) {
			t.Errorf("start recorded at %s, head bound at %s: not before", recordRV, bindRV)
		}
	})

	for name, tc := range map[string]struct {
		n       uint64
		prepare func(g cache.PendingGang)
		want    error
	}{
		"the job ended":                     {2, func(cache.PendingGang) { annotate(2, podgroup.AnnotFinal, `{"state":"CANCELED"}`) }, binder.ErrJobGone},
		"the job started with another head": {3, func(cache.PendingGang) { annotate(3, podgroup.AnnotStarted, "another-uid") }, binder.ErrStartedOtherHead},
		"the job Secret is gone": {4, func(cache.PendingGang) {
			if err := core.Secrets(ns).Delete(ctx, "j4", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, binder.ErrJobGone},
	} {
		t.Run(name, func(t *testing.T) {
			g := gangOf(ctx, t, env, tc.n, 3)
			tc.prepare(g)
			err := b.BindGang(ctx, g, nodesFor(g))
			if !errors.Is(err, tc.want) {
				t.Fatalf("BindGang: %v, want %v", err, tc.want)
			}
			if got := nodeOf(g.Pods[0].Name); got != "" {
				t.Errorf("head bound to %s", got)
			}
			if nodeOf(g.Pods[1].Name) == "" || nodeOf(g.Pods[2].Name) == "" {
				t.Errorf("workers not bound")
			}
		})
	}

	t.Run("teardown of a gang whose head is unbound withdraws the record", func(t *testing.T) {
		g := gangOf(ctx, t, env, 5, 3)
		annotate(5, podgroup.AnnotStarted, string(g.Pods[0].UID))
		for _, p := range g.Pods[1:] {
			if err := env.Bind(ctx, ns, p.Name, "n9"); err != nil {
				t.Fatal(err)
			}
		}
		void, err := b.Teardown(ctx, cache.PartialGang{Rest: cache.PendingGang{ID: g.ID, Secret: g.Secret, Pods: g.Pods[:1]}, Bound: g.Pods[1:]})
		if err != nil || void != g.Pods[0].UID {
			t.Fatalf("Teardown = %q, %v; want the head's uid", void, err)
		}
		for _, p := range g.Pods {
			if _, err := core.Pods(ns).Get(ctx, p.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("pod %s not deleted: %v", p.Name, err)
			}
		}
		if got := mark(5); got != "" {
			t.Errorf("start record %q left after the head was deleted unbound", got)
		}
	})

	t.Run("teardown refuses a gang whose head was bound meanwhile", func(t *testing.T) {
		g := gangOf(ctx, t, env, 6, 3)
		if err := env.Bind(ctx, ns, g.Pods[0].Name, "n9"); err != nil { // after the cache saw it unbound
			t.Fatal(err)
		}
		_, err := b.Teardown(ctx, cache.PartialGang{Rest: cache.PendingGang{ID: g.ID, Secret: g.Secret, Pods: g.Pods}})
		if !errors.Is(err, binder.ErrHeadBound) {
			t.Fatalf("Teardown: %v, want ErrHeadBound", err)
		}
		for _, p := range g.Pods {
			if _, err := core.Pods(ns).Get(ctx, p.Name, metav1.GetOptions{}); err != nil {
				t.Errorf("pod %s of a gang whose head ran: %v", p.Name, err)
			}
		}
	})

	t.Run("teardown leaves a pod recreated under the same name", func(t *testing.T) {
		g := gangOf(ctx, t, env, 7, 2)
		if err := core.Pods(ns).Delete(ctx, g.Pods[1].Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
			t.Fatal(err)
		}
		if err := env.WaitGone(ctx, ns, g.Pods[1].Name); err != nil {
			t.Fatal(err)
		}
		old, err := core.Pods(ns).Get(ctx, g.Pods[0].Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fresh := old.DeepCopy()
		fresh.Name, fresh.UID, fresh.ResourceVersion, fresh.Labels[podgroup.LabelRank] = g.Pods[1].Name, "", "", "1"
		if _, err := core.Pods(ns).Create(ctx, fresh, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Teardown(ctx, cache.PartialGang{Rest: cache.PendingGang{ID: g.ID, Secret: g.Secret, Pods: g.Pods}}); err != nil {
			t.Fatal(err)
		}
		if _, err := core.Pods(ns).Get(ctx, g.Pods[1].Name, metav1.GetOptions{}); err != nil {
			t.Errorf("the recreated pod was deleted: %v", err)
		}
	})
}

// rvBefore compares resource versions as etcd revisions.
func rvBefore(a, b string) bool {
	var x, y uint64
	fmt.Sscan(a, &x)
	fmt.Sscan(b, &y)
	return x < y
}
