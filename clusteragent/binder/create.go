package binder

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
)

// rollbackTimeout bounds the deletes of a failed pre-placed create.
const rollbackTimeout = 30 * time.Second

// ErrNodeGone means a node a gang was placed on left the cluster before
// the gang's head was created: the gang was rolled back.
var ErrNodeGone = errors.New("binder: a node of the placement is gone")

// ErrGangExists means a pod of the gang exists already: the gang is not
// created anew (what this call created was rolled back).
var ErrGangExists = errors.New("binder: a pod of the gang exists already")

// CreateGang creates a new gang pre-placed: pods[i] with spec.nodeName
// nodes[i], one write per pod instead of a create and a bind. Every pod is
// created in parallel. When a job Secret sec records the start (the
// agent's own jobs), the head (rank 0) is created unbound beside the
// others, and once they all exist and every node of the placement is still
// in the cluster (nodeExists; nil: not checked) the start record names the
// head's UID and the head is bound, as BindGang does: so a crash at any
// point leaves a gang whose head is unbound, which level 2 completes or
// tears down, and a job whose head may have run is never created again.
// Without sec (no record to keep) the head is created placed too.
//
// A create that fails part way (a node gone, an admission refusal, an
// existing pod) deletes every pod this call created, so the gang is
// re-queued whole; void is then the head's UID if the start record may
// have named it (that head was deleted unbound: it never ran). pods are
// not modified.
//
// Once the start record may have been written, the head goes only after
// the record is known not to name it: a start record failed with its reply
// lost (a cancelled ctx, a timeout) may be stored, and a record naming a
// head that is gone is, to a runner after a restart, a job that may have
// run: it ends COMPLETED_WITH_ERROR and is never created again. So the
// record is withdrawn first, with a ctx that outlives a cancelled one, and
// a head whose bind reply was lost is read again: bound, the create
// succeeded. When that cannot be settled, the gang is left whole, head
// unbound, the state a crash at that point leaves (level 2 completes it
// or tears it down), and the error wraps ErrLeftToLevel2.
func (b *Binder) CreateGang(ctx context.Context, pods []*corev1.Pod, nodes []string, sec *corev1.Secret, nodeExists func(string) bool) (void types.UID, err error) {
	if len(pods) != len(nodes) {
		return "", fmt.Errorf("binder: %d pods, %d nodes", len(pods), len(nodes))
	}
	head := -1
	placed := make([]*corev1.Pod, len(pods))
	for i, p := range pods {
		cp := *p
		cp.Spec.NodeName = nodes[i]
		if p.Labels[podgroup.LabelRank] == "0" {
			head = i
			if sec != nil {
				cp.Spec.NodeName = "" // bound once the start is recorded
			}
		}
		placed[i] = &cp
	}
	if head < 0 {
		return "", fmt.Errorf("binder: gang of %s has no head", pods[0].Name)
	}
	created := make([]*corev1.Pod, len(pods))
	errs := b.each(ctx, len(placed), func(i int) (err error) {
		created[i], err = b.createPod(ctx, placed[i])
		return err
	})
	fail := func(cause error) (types.UID, error) {
		// The rollback outlives a cancelled ctx: it must not leave half a gang.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		if rerr := b.rollback(rctx, created); rerr != nil {
			cause = errors.Join(cause, rerr)
		}
		return void, fmt.Errorf("binder: creating gang %s pre-placed: %w", pods[head].Name, cause)
	}
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	if nodeExists != nil {
		for _, n := range nodes {
			if !nodeExists(n) {
				return fail(fmt.Errorf("%w: %s", ErrNodeGone, n))
			}
		}
	}
	if sec == nil {
		return "", nil
	}
	hc := created[head]
	ref := cache.PodRef{Namespace: hc.Namespace, Name: hc.Name, UID: hc.UID}
	// undo withdraws a start record naming the head (it may be stored
	// though its reply was lost), then rolls the gang back; a record it
	// cannot withdraw leaves the gang whole for level 2.
	undo := func(cause error) (types.UID, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		if werr := b.withdrawStart(rctx, sec.Namespace, refOf(sec), hc.UID); werr != nil {
			return "", fmt.Errorf("%w: gang %s: %w", ErrLeftToLevel2, pods[head].Name, errors.Join(cause, werr))
		}
		void = hc.UID
		return fail(cause)
	}
	if err := b.recordStart(ctx, sec, hc.UID); err != nil {
		return undo(fmt.Errorf("recording the start: %w", err))
	}
	if err := b.bindHead(ctx, ref, nodes[head]); err != nil {
		// The bind may be stored though its reply was lost (bindHead's own
		// read shares the cancelled ctx): read the head again before
		// deleting it.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		p, gerr := b.client.CoreV1().Pods(hc.Namespace).Get(rctx, hc.Name, metav1.GetOptions{})
		cancel()
		switch {
		case gerr == nil && p.UID == hc.UID && p.Spec.NodeName != "":
			return "", nil // bound: the job started
		case gerr != nil && !apierrors.IsNotFound(gerr):
			return "", fmt.Errorf("%w: gang %s: head: %w", ErrLeftToLevel2, pods[head].Name, errors.Join(err, gerr))
		}
		return undo(fmt.Errorf("head: %w", err))
	}
	return "", nil
}

// ErrLeftToLevel2 means a pre-placed create stopped once the start record
// may have been written and could not settle it: every pod of the gang
// exists, the head unbound (or bound, if a bind whose reply was lost
// could not be read back), and level 2 completes the gang or tears it
// down; it is not re-queued.
var ErrLeftToLevel2 = errors.New("binder: gang created, its head left to level 2")

// createPod creates one pod; an existing one is ErrGangExists.
func (b *Binder) createPod(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
	got, err := b.postPod(ctx, p)
	switch {
	case apierrors.IsAlreadyExists(err):
		return nil, fmt.Errorf("%w: %s/%s", ErrGangExists, p.Namespace, p.Name)
	case err != nil:
		return nil, err
	}
	return got, nil
}

// rollback deletes the pods a failed CreateGang created (nil entries were
// not created), each on condition that it is the pod created.
func (b *Binder) rollback(ctx context.Context, created []*corev1.Pod) error {
	var errs []error
	for _, p := range created {
		if p == nil {
			continue
		}
		err := b.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64(0)), Preconditions: &metav1.Preconditions{UID: &p.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("rolling back pod %s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// recordStart writes the start record with one conditional patch against
// the Secret as the caller has it, and falls back to reading it on a
// conflict.
func (b *Binder) recordStart(ctx context.Context, sec *corev1.Secret, token types.UID) error {
	switch {
	case sec.Annotations[podgroup.AnnotFinal] != "":
		return fmt.Errorf("%w: secret %s records the job's end", ErrJobGone, sec.Name)
	case sec.Annotations[podgroup.AnnotStarted] == "":
		err := b.patchStarted(ctx, sec.Namespace, sec.Name, sec.ResourceVersion, string(token))
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	return b.markStarted(ctx, sec.Namespace, refOf(sec), token)
}

func refOf(sec *corev1.Secret) cache.SecretRef { return cache.SecretRef{Name: sec.Name, UID: sec.UID} }
