package filer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Manager creates filers on demand and removes idle ones. One Manager runs
// per agent; Ensure and the removal in Reconcile are serialised, so a filer
// a job has just asked for is never removed under it.
type Manager struct {
	client kubernetes.Interface
	opts   Options
	now    func() time.Time
	log    *slog.Logger
	wake   chan struct{}

	mu      sync.Mutex
	ensured map[string]time.Time // namespace/filer → last Ensure: a job about to exist uses it
	// namespaces is told of namespaces getting and losing their filers
	// (namespaces.go); hosting are the namespaces it was told got one
	// and not yet that they lost the last.
	namespaces Namespaces
	hosting    map[string]bool
}

// New returns a Manager for the filers in opts.Namespace, or with
// opts.NamespacePrefix in the tenant namespaces.
func New(client kubernetes.Interface, opts Options, now func() time.Time, log *slog.Logger) *Manager {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Manager{
		client: client, opts: opts.withDefaults(), now: now, log: log,
		wake: make(chan struct{}, 1), ensured: map[string]time.Time{}, hosting: map[string]bool{},
	}
}

// Options returns the manager's options with defaults applied.
func (m *Manager) Options() Options { return m.opts }

// Ensure makes the vault's filer exist in namespace ns (the vault's
// tenant's; "" is Options.Namespace), with its NetworkPolicy, and returns what job pods mount (the
// Service's cluster IP and the export path) and the filer's name, which the
// caller puts in LabelFiler on the job's objects (the job Secret's label is
// the reference). Call it before creating the job Secret: the filer then
// counts as used for a grace period, long enough for the Secret to appear.
// Errors wrap structs.ErrInvalid (not an RWO vault with a claim),
// structs.ErrConflict (the filer serves another claim) or
// structs.ErrUnavailable (the filer is being removed; retry).
func (m *Manager) Ensure(ctx context.Context, v *structs.Vault, ns string) (*corev1.NFSVolumeSource, string, error) {
	if !Needed(v) {
		return nil, "", structs.Errorf(structs.ErrInvalid, "filer: the vault is not a ReadWriteOnce vault with a claim")
	}
	opts := m.opts
	if ns != "" {
		opts.Namespace = ns
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	want, wantPod := Objects(v, opts, "")
	name := want.Name
	if err := m.filerComing(ctx, opts.Namespace); err != nil {
		return nil, "", err
	}
	pol := NetworkPolicy(v, opts)
	if _, err := m.client.NetworkingV1().NetworkPolicies(opts.Namespace).Create(ctx, pol, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, "", fmt.Errorf("filer %s: network policy: %w", name, err)
	}
	svcs := m.client.CoreV1().Services(opts.Namespace)
	svc, err := svcs.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		svc, err = svcs.Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			svc, err = svcs.Get(ctx, name, metav1.GetOptions{})
		}
		if err == nil {
			m.log.Info("filer created", "filer", name, "vault", v.Name, "tenant", v.Tenant, "claim", v.ClaimName)
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("filer %s: service: %w", name, err)
	}
	switch {
	case svc.DeletionTimestamp != nil:
		return nil, "", structs.Errorf(structs.ErrUnavailable, "filer %s is being removed", name)
	case svc.Annotations[AnnotClaim] != v.ClaimName:
		return nil, "", structs.Errorf(structs.ErrConflict, "filer %s serves claim %q, not %q", name, svc.Annotations[AnnotClaim], v.ClaimName)
	case svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone:
		return nil, "", structs.Errorf(structs.ErrUnavailable, "filer %s has no cluster IP", name)
	}
	if err := m.ensurePod(ctx, wantPod, svc.UID); err != nil {
		return nil, "", err
	}
	m.ensured[opts.Namespace+"/"+name] = m.now()
	return &corev1.NFSVolumeSource{Server: svc.Spec.ClusterIP, Path: m.opts.ExportPath}, name, nil
}

// ensurePod creates the filer's pod unless it exists.
func (m *Manager) ensurePod(ctx context.Context, pod *corev1.Pod, owner types.UID) error {
	pods := m.client.CoreV1().Pods(pod.Namespace)
	got, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: pod.Name, UID: owner}}
		_, err = pods.Create(ctx, pod, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("filer %s: pod: %w", pod.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("filer %s: pod: %w", pod.Name, err)
	}
	if got.DeletionTimestamp != nil {
		return structs.Errorf(structs.ErrUnavailable, "filer %s: pod is being removed", pod.Name)
	}
	return nil
}

// Poke asks Run for a reconcile pass soon (e.g. after a job ended).
func (m *Manager) Poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx ends: after every Poke, when a grace period
// runs out, and at least every Options.Resync.
func (m *Manager) Run(ctx context.Context) error {
	for {
		next, err := m.Reconcile(ctx)
		if err != nil && ctx.Err() == nil {
			m.log.Warn("filer reconcile", "err", err)
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-m.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Reconcile is one pass over the filers: it counts each filer's references
// from the job Secrets' LabelFiler labels, records when an unused filer was
// first seen unused (AnnotLastUsed, so restarts keep the clock), removes
// filers idle past the grace period, and recreates the pod of a filer in use
// that lost it. Then it tells the wired Namespaces which namespaces lost
// their last filer (namespaces.go). It returns how soon the next pass is
// due.
func (m *Manager) Reconcile(ctx context.Context) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ns := m.opts.Namespace
	if m.opts.NamespacePrefix != "" {
		ns = metav1.NamespaceAll // filtered by owns below
	}
	secrets, err := m.client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelFiler})
	if err != nil {
		return m.opts.Resync, fmt.Errorf("list job secrets: %w", err)
	}
	refs := map[string]int{} // namespace/filer → jobs
	for _, s := range secrets.Items {
		refs[s.Namespace+"/"+s.Labels[LabelFiler]]++
	}
	sel := LabelComponent + "=" + ComponentFiler
	svcs, err := m.client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return m.opts.Resync, fmt.Errorf("list filers: %w", err)
	}
	pods, err := m.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return m.opts.Resync, fmt.Errorf("list filer pods: %w", err)
	}
	hasPod := map[string]bool{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			hasPod[p.Namespace+"/"+p.Labels[LabelFiler]] = true
		}
	}
	now := m.now()
	next := m.opts.Resync
	var errs []error
	removed := map[string]bool{} // namespace/filer
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		if svc.DeletionTimestamp != nil || !m.owns(svc.Namespace) {
			continue
		}
		name := svc.Namespace + "/" + svc.Labels[LabelFiler]
		lastUsed, err := m.lastUsed(ctx, svc, refs[name], now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d := Decide(refs[name], lastUsed, now, m.opts.Grace)
		switch {
		case d.Delete:
			if err := m.remove(ctx, svc); err != nil {
				errs = append(errs, err)
			} else {
				removed[name] = true
			}
		case refs[name] > 0 && !hasPod[name]:
			if err := m.repairPod(ctx, svc); err != nil {
				errs = append(errs, err)
			}
		}
		if d.Recheck > 0 && d.Recheck < next {
			next = d.Recheck
		}
	}
	errs = append(errs, m.settleNamespaces(ctx, svcs.Items, pods.Items, removed)...)
	if len(errs) > 0 {
		return next, fmt.Errorf("filers: %v", errs)
	}
	return next, nil
}

// lastUsed returns when the filer was last in use, keeping AnnotLastUsed in
// step: set when first seen unused, removed while in use. A recent Ensure
// counts as a use.
func (m *Manager) lastUsed(ctx context.Context, svc *corev1.Service, refs int, now time.Time) (time.Time, error) {
	name := svc.Namespace + "/" + svc.Labels[LabelFiler]
	raw, marked := svc.Annotations[AnnotLastUsed]
	if refs > 0 {
		if marked {
			return time.Time{}, m.annotate(ctx, svc.Namespace, svc.Name, nil)
		}
		return time.Time{}, nil
	}
	var last time.Time
	if marked {
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err == nil {
			last = t
		}
	}
	if last.IsZero() {
		last = now
		v := now.UTC().Format(time.RFC3339Nano)
		if err := m.annotate(ctx, svc.Namespace, svc.Name, &v); err != nil {
			return time.Time{}, err
		}
	}
	if e := m.ensured[name]; e.After(last) {
		last = e
	}
	return last, nil
}

// annotate sets (or with nil removes) a filer Service's AnnotLastUsed.
func (m *Manager) annotate(ctx context.Context, ns, name string, value *string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]*string{AnnotLastUsed: value}}})
	if err != nil {
		return err
	}
	_, err = m.client.CoreV1().Services(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("filer %s: mark last use: %w", name, err)
	}
	return nil
}

// remove deletes an idle filer: its Service (which owns the pod), the pod
// itself, so it goes even without a garbage collector, and its policy.
func (m *Manager) remove(ctx context.Context, svc *corev1.Service) error {
	name, ns := svc.Name, svc.Namespace
	bg := metav1.DeletePropagationBackground
	err := m.client.CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &svc.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove filer %s: %w", name, err)
	}
	err = m.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove filer %s pod: %w", name, err)
	}
	err = m.client.NetworkingV1().NetworkPolicies(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove filer %s policy: %w", name, err)
	}
	delete(m.ensured, ns+"/"+svc.Labels[LabelFiler])
	m.log.Info("filer removed after idle grace", "filer", name, "grace", m.opts.Grace)
	return nil
}

// repairPod recreates the pod of a filer in use from its Service.
func (m *Manager) repairPod(ctx context.Context, svc *corev1.Service) error {
	v := &structs.Vault{
		Tenant: svc.Annotations[AnnotTenant], Name: svc.Annotations[AnnotVault],
		ClaimName: svc.Annotations[AnnotClaim], AccessMode: structs.AccessRWO,
	}
	if !Needed(v) || Name(v) != svc.Name {
		return fmt.Errorf("filer %s: annotations do not describe its vault", svc.Name)
	}
	opts := m.opts
	opts.Namespace = svc.Namespace
	_, pod := Objects(v, opts, "")
	m.log.Warn("filer in use lost its pod; recreating", "filer", svc.Name)
	return m.ensurePod(ctx, pod, svc.UID)
}

// owns says whether the manager looks after filers in namespace ns.
func (m *Manager) owns(ns string) bool {
	if m.opts.NamespacePrefix == "" {
		return ns == m.opts.Namespace
	}
	return strings.HasPrefix(ns, m.opts.NamespacePrefix+"-")
}
