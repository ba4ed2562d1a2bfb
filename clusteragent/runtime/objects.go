package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/clusteragent/filer"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// errStartRecorded means the job Secret records a start or an end: the
// job's pods are not (re)created.
var errStartRecorded = errors.New("runtime: start or end recorded")

// render returns the job's objects, making the filer of an RWO vault exist
// first (it then counts as used until the job Secret, labelled with it,
// appears).
func (r *Reconciler) render(ctx context.Context, in Input, ns string) (*Objects, error) {
	if in.Random == nil {
		in.Random = r.Random
	}
	if in.Random == nil {
		in.Random = rand.Reader
	}
	if err := r.checkClaim(ctx, in.Vault, ns, in.Job.Tenant); err != nil {
		return nil, err
	}
	if r.Filer != nil && filer.Needed(in.Vault) {
		// Ensure lowers the namespace's Pod Security level first
		// (FilerComing, wired in by agent.NewCluster).
		nfs, name, err := r.Filer.Ensure(ctx, in.Vault, ns)
		if err != nil {
			return nil, err
		}
		in.VaultNFS = nfs
		in.Labels = map[string]string{filer.LabelFiler: name}
	}
	opts := r.Options
	opts.Namespace = ns
	return Render(in, opts)
}

// createObjects creates whatever of the job's objects is missing: the
// Secret first, then, owned by it, the rest in Objects.All order. It
// re-reads the Secret from the API server first and creates nothing if it
// records a start (one not known void) or an end: pods are never created
// for a job that may have run. ErrInvalid from rendering or from the API
// server means the job cannot run.
func (r *Reconciler) createObjects(ctx context.Context, in Input, ns string, void []string, have map[string]bool, t *tracked) error {
	if ns == "" || !r.ownsNamespace(ns) {
		return structs.Errorf(structs.ErrInvalid, "job %d: namespace %q is not one of this agent's", in.Job.Number, ns)
	}
	if err := r.ensureNamespace(ctx, ns, in.Job.Tenant); err != nil {
		return err
	}
	objs, err := r.render(ctx, in, ns)
	if err != nil {
		return err
	}
	sec, err := r.ensureSecret(ctx, objs.Secret)
	if apierrors.IsNotFound(err) { // the namespace went: make it again next time
		r.mu.Lock()
		delete(r.nsReady, ns)
		r.mu.Unlock()
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	if t.madeSecret != sec.UID {
		t.madeSecret, t.view.secretMade = sec.UID, r.Now()
	}
	r.mu.Unlock()
	if v := sec.Annotations[podgroup.AnnotStarted]; v != "" && !slices.Contains(void, v) {
		return fmt.Errorf("%w: job %d: its Secret records a start; its pods are not created again", errStartRecorded, in.Job.Number)
	}
	if sec.Annotations[podgroup.AnnotFinal] != "" {
		return fmt.Errorf("%w: job %d: its Secret records its end", errStartRecorded, in.Job.Number)
	}
	objs.SetOwner(sec.UID)
	all := objs.All()[1:]
	if r.Placer != nil {
		if slices.ContainsFunc(objs.Pods, func(p *corev1.Pod) bool { return have[p.Name] }) {
			// The informer may still show pods a rolled back create deleted:
			// ask the API server which exist.
			if have, err = r.podsOfJob(ctx, ns, in.Job.Number); err != nil {
				return err
			}
		}
		if !slices.ContainsFunc(objs.Pods, func(p *corev1.Pod) bool { return have[p.Name] }) {
			all = all[:len(all)-len(objs.Pods)]
		}
	}
	for _, o := range all {
		if p, ok := o.(*corev1.Pod); ok && have[p.Name] {
			continue
		}
		if err := cannotRun(r.create(ctx, ns, o, sec.UID)); err != nil {
			return err
		}
	}
	if len(all) == len(objs.All())-1 {
		return nil // pods created unbound, or some exist already
	}
	return r.createPlaced(ctx, sec, objs.Pods, t)
}

// createPlaced creates a new gang's pods pre-placed through the Placer, or
// unbound (for level 2 to bind) when it cannot be placed now. A
// pre-placed create that failed part way left nothing behind; a start
// token it proved void joins the job's void starts.
func (r *Reconciler) createPlaced(ctx context.Context, sec *corev1.Secret, pods []*corev1.Pod, t *tracked) error {
	placed, void, err := r.Placer.CreatePlaced(ctx, sec, pods)
	r.mu.Lock()
	if void != "" {
		t.view.voidStarts = append(t.view.voidStarts, string(void))
	}
	if placed && err == nil {
		t.view.placedAt = r.Now()
	}
	r.mu.Unlock()
	switch {
	case placed:
		return cannotRun(err)
	}
	for _, p := range pods {
		if err := cannotRun(r.create(ctx, sec.Namespace, p, sec.UID)); err != nil {
			return err
		}
	}
	return nil
}

// podsOfJob lists the names of job n's pods in ns from the API server.
func (r *Reconciler) podsOfJob(ctx context.Context, ns string, n uint64) (map[string]bool, error) {
	l, err := r.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
		LabelSelector: podgroup.LabelManaged + "=true," + podgroup.LabelJob + "=" + strconv.FormatUint(n, 10)})
	if err != nil {
		return nil, fmt.Errorf("list the pods of job %d: %w", n, err)
	}
	have := make(map[string]bool, len(l.Items))
	for _, p := range l.Items {
		have[p.Name] = true
	}
	return have, nil
}

// ensureSecret creates the job Secret unless it exists and returns it as
// the API server has it now.
func (r *Reconciler) ensureSecret(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error) {
	api := r.Client.CoreV1().Secrets(s.Namespace)
	got, err := api.Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		got, err = api.Get(ctx, s.Name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("job secret %s: %w", s.Name, err)
	}
	if got.DeletionTimestamp != nil {
		return nil, structs.Errorf(structs.ErrUnavailable, "job secret %s is being deleted", s.Name)
	}
	return got, nil
}

// create creates one object of a job. One that exists already is fine if
// the job Secret (owner) owns it; one owned by an earlier Secret is left
// over from an earlier run, waiting for the garbage collector, and must go
// before this run's copy can be made.
func (r *Reconciler) create(ctx context.Context, ns string, o metav1.Object, owner types.UID) error {
	var err error
	var get func() (metav1.Object, error)
	c, opts, gopts := r.Client, metav1.CreateOptions{}, metav1.GetOptions{}
	name := o.GetName()
	switch x := o.(type) {
	case *corev1.Secret:
		_, err = c.CoreV1().Secrets(ns).Create(ctx, x, opts)
		get = func() (metav1.Object, error) { return c.CoreV1().Secrets(ns).Get(ctx, name, gopts) }
	case *corev1.ConfigMap:
		_, err = c.CoreV1().ConfigMaps(ns).Create(ctx, x, opts)
		get = func() (metav1.Object, error) { return c.CoreV1().ConfigMaps(ns).Get(ctx, name, gopts) }
	case *corev1.Service:
		_, err = c.CoreV1().Services(ns).Create(ctx, x, opts)
		get = func() (metav1.Object, error) { return c.CoreV1().Services(ns).Get(ctx, name, gopts) }
	case *networkingv1.NetworkPolicy:
		_, err = c.NetworkingV1().NetworkPolicies(ns).Create(ctx, x, opts)
		get = func() (metav1.Object, error) { return c.NetworkingV1().NetworkPolicies(ns).Get(ctx, name, gopts) }
	case *networkingv1.Ingress:
		_, err = c.NetworkingV1().Ingresses(ns).Create(ctx, x, opts)
		get = func() (metav1.Object, error) { return c.NetworkingV1().Ingresses(ns).Get(ctx, name, gopts) }
	case *corev1.Pod:
		_, err = c.CoreV1().Pods(ns).Create(ctx, x, opts)
		get = func() (metav1.Object, error) { return c.CoreV1().Pods(ns).Get(ctx, name, gopts) }
	default:
		return fmt.Errorf("create: unexpected object %T", o)
	}
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("create %T %s: %w", o, name, err)
		}
		return nil
	}
	got, err := get()
	if err != nil {
		return fmt.Errorf("get %T %s: %w", o, name, err)
	}
	for _, ref := range got.GetOwnerReferences() {
		if ref.UID == owner {
			return nil
		}
	}
	return structs.Errorf(structs.ErrUnavailable, "%T %s is left from an earlier run of the job; waiting for its removal", o, name)
}
