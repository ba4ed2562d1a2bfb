package filer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeClient is a fake clientset that allocates cluster IPs as an API
// server does.
func fakeClient() *fake.Clientset {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		svc := a.(k8stesting.CreateAction).GetObject().(*corev1.Service)
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = "10.0.0.42"
		}
		svc.UID = types.UID("svc-uid-" + svc.Name)
		return false, nil, nil
	})
	return cs
}

func vault(name string) *structs.Vault {
	return &structs.Vault{Tenant: "acme", Name: name, Kind: structs.VaultBlock, ClaimName: "vault-" + name, AccessMode: structs.AccessRWO}
}

func jobSecret(number, filer string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "j" + number, Namespace: "hpc",
		Labels: map[string]string{"flotilla.io/managed": "true", LabelFiler: filer}}}
}

func TestName(t *testing.T) {
	long := &structs.Vault{Tenant: "Acme Corp", Name: strings.Repeat("very-long_vault.name", 6)}
	for _, v := range []*structs.Vault{vault("home"), long, {Tenant: "---", Name: "!!"}} {
		n := Name(v)
		if errs := validation.IsDNS1035Label(n); len(errs) > 0 {
			t.Errorf("Name(%q/%q) = %q: %v", v.Tenant, v.Name, n, errs)
		}
	}
	a, b := Name(&structs.Vault{Tenant: "a-b", Name: "c"}), Name(&structs.Vault{Tenant: "a", Name: "b-c"})
	if a == b {
		t.Errorf("distinct vaults share filer %q", a)
	}
	if Name(vault("home")) != Name(vault("home")) {
		t.Error("Name is not stable")
	}
}

func TestManagerLifecycle(t *testing.T) {
	ctx := context.Background()
	cs := fakeClient()
	clk := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := Options{Namespace: "hpc", Grace: 90 * time.Second, Resync: time.Hour}
	m := New(cs, opts, clk.Now, log)
	v := vault("scratch")

	nfs, name, err := m.Ensure(ctx, v, "")
	if err != nil {
		t.Fatal(err)
	}
	if nfs.Server != "10.0.0.42" || nfs.Path != DefaultExportPath || name != Name(v) {
		t.Fatalf("Ensure = %+v, %q", nfs, name)
	}
	// Idempotent: a second job on the vault gets the same filer.
	if _, again, err := m.Ensure(ctx, v, ""); err != nil || again != name {
		t.Fatalf("second Ensure: %q, %v", again, err)
	}
	pod, err := cs.CoreV1().Pods("hpc").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != v.ClaimName || len(pod.OwnerReferences) != 1 {
		t.Errorf("filer pod volumes %+v owners %+v", pod.Spec.Volumes, pod.OwnerReferences)
	}
	if _, err := cs.CoreV1().Secrets("hpc").Create(ctx, jobSecret("1", name), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// A new manager (an agent restart) counts the reference from the Secret.
	m = New(cs, opts, clk.Now, log)
	clk.Add(time.Hour)
	if _, err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	assertFiler(t, cs, name, true)

	// Lost pod of a filer in use: recreated.
	if err := cs.CoreV1().Pods("hpc").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	assertFiler(t, cs, name, true)

	// The job ends: the filer stays through the grace period, then goes.
	if err := cs.CoreV1().Secrets("hpc").Delete(ctx, "j1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	next, err := m.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next != opts.Grace {
		t.Errorf("next pass in %v, want the grace %v", next, opts.Grace)
	}
	assertFiler(t, cs, name, true)

	// An agent restart within the grace keeps the clock (annotation).
	m = New(cs, opts, clk.Now, log)
	clk.Add(60 * time.Second)
	if next, err = m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if next != 30*time.Second {
		t.Errorf("next pass in %v, want the 30 s left of the grace", next)
	}
	assertFiler(t, cs, name, true)
	clk.Add(30 * time.Second)
	if _, err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	assertFiler(t, cs, name, false)
}

func TestManagerReuseResetsGrace(t *testing.T) {
	ctx := context.Background()
	cs := fakeClient()
	clk := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	m := New(cs, Options{Namespace: "hpc", Grace: 10 * time.Second}, clk.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	v := vault("home")
	_, name, err := m.Ensure(ctx, v, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reconcile(ctx); err != nil { // unused: marked
		t.Fatal(err)
	}
	clk.Add(9 * time.Second)
	if _, _, err := m.Ensure(ctx, v, ""); err != nil { // a job is about to use it
		t.Fatal(err)
	}
	clk.Add(2 * time.Second)
	if _, err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	assertFiler(t, cs, name, true)
	// The job's Secret appears, then goes; a new grace starts then.
	if _, err := cs.CoreV1().Secrets("hpc").Create(ctx, jobSecret("2", name), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	svc, _ := cs.CoreV1().Services("hpc").Get(ctx, name, metav1.GetOptions{})
	if _, ok := svc.Annotations[AnnotLastUsed]; ok {
		t.Error("last-used mark kept while in use")
	}
	if err := cs.CoreV1().Secrets("hpc").Delete(ctx, "j2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if _, err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	assertFiler(t, cs, name, true)
	clk.Add(10 * time.Second)
	if _, err := m.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	assertFiler(t, cs, name, false)
}

func TestEnsureErrors(t *testing.T) {
	ctx := context.Background()
	cs := fakeClient()
	m := New(cs, Options{Namespace: "hpc"}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rwx := vault("shared")
	rwx.AccessMode = structs.AccessRWX
	if _, _, err := m.Ensure(ctx, rwx, ""); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("RWX vault: %v, want ErrInvalid", err)
	}
	v := vault("x")
	if _, _, err := m.Ensure(ctx, v, ""); err != nil {
		t.Fatal(err)
	}
	moved := vault("x")
	moved.ClaimName = "other-claim"
	if _, _, err := m.Ensure(ctx, moved, ""); !errors.Is(err, structs.ErrConflict) {
		t.Errorf("claim changed: %v, want ErrConflict", err)
	}
}

func assertFiler(t *testing.T, cs *fake.Clientset, name string, want bool) {
	t.Helper()
	ctx := context.Background()
	_, errS := cs.CoreV1().Services("hpc").Get(ctx, name, metav1.GetOptions{})
	_, errP := cs.CoreV1().Pods("hpc").Get(ctx, name, metav1.GetOptions{})
	for what, err := range map[string]error{"service": errS, "pod": errP} {
		switch {
		case want && err != nil:
			t.Errorf("filer %s %s: %v, want it present", name, what, err)
		case !want && !apierrors.IsNotFound(err):
			t.Errorf("filer %s %s: %v, want it gone", name, what, err)
		}
	}
}
