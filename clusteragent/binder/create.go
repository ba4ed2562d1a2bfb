package binder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
)

// AnnotStartToken, on a head pod created pre-placed, repeats the start
// record its job Secret carries (podgroup.AnnotStarted): a token chosen
// before the head exists, since its UID is not known yet.
const AnnotStartToken = "flotilla.io/start-token"

// rollbackTimeout bounds the deletes of a failed pre-placed create.
const rollbackTimeout = 30 * time.Second

// ErrNodeGone means a node a gang was placed on left the cluster before
// the gang's head was created: the gang was rolled back.
var ErrNodeGone = errors.New("binder: a node of the placement is gone")

// ErrGangExists means a pod of the gang exists already: the gang is not
// created anew (what this call created was rolled back).
var ErrGangExists = errors.New("binder: a pod of the gang exists already")

// CreateGang creates one of the agent's own gangs pre-placed: pods[i] with
// spec.nodeName nodes[i], one write per pod instead of a create and a
// bind. Every pod but the head (rank 0) is created in parallel; once they
// all exist and every node of the placement is still in the cluster
// (nodeExists, nil: not checked), the start record goes on the job Secret
// sec (nil: none) and then the head is created. A create that fails part
// way (a node gone, an admission refusal, a conflict) deletes every pod
// this call created, so the gang is re-queued whole; when the head was
// proven not created, void is the start token it recorded (void: that
// head never ran). The pods are not modified.
func (b *Binder) CreateGang(ctx context.Context, pods []*corev1.Pod, nodes []string, sec *corev1.Secret, nodeExists func(string) bool) (void types.UID, err error) {
	if len(pods) != len(nodes) {
		return "", fmt.Errorf("binder: %d pods, %d nodes", len(pods), len(nodes))
	}
	head := -1
	placed := make([]*corev1.Pod, len(pods))
	for i, p := range pods {
		cp := *p
		cp.Spec.NodeName = nodes[i]
		placed[i] = &cp
		if p.Labels[podgroup.LabelRank] == "0" {
			head = i
		}
	}
	if head < 0 {
		return "", fmt.Errorf("binder: gang of %s has no head", pods[0].Name)
	}
	created := make([]*corev1.Pod, len(pods))
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i := range placed {
		if i == head {
			continue
		}
		select {
		case b.sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-b.sem }()
			created[i], errs[i] = b.createPod(ctx, placed[i])
		}()
	}
	wg.Wait()
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
	hp := placed[head]
	if sec != nil {
		token, err := newStartToken()
		if err != nil {
			return fail(err)
		}
		if err := b.recordStart(ctx, sec, token); err != nil {
			return fail(fmt.Errorf("recording the start: %w", err))
		}
		hp.Annotations = copyWith(hp.Annotations, AnnotStartToken, string(token))
		hc, err := b.createPod(ctx, hp)
		if err == nil {
			created[head] = hc
			return "", nil
		}
		if b.headExists(ctx, hp, token) {
			return "", nil // created; the reply was lost
		}
		void = token
		if werr := b.withdrawStart(ctx, sec.Namespace, refOf(sec), token); werr != nil {
			err = errors.Join(err, werr)
		}
		return fail(fmt.Errorf("head: %w", err))
	}
	hc, err := b.createPod(ctx, hp)
	if err != nil {
		return fail(fmt.Errorf("head: %w", err))
	}
	created[head] = hc
	return "", nil
}

// createPod creates one pod; an existing one is ErrGangExists.
func (b *Binder) createPod(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
	got, err := b.client.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
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

// headExists reports whether the head was created after all (its create's
// reply lost): a pod of its name carrying the start token.
func (b *Binder) headExists(ctx context.Context, hp *corev1.Pod, token types.UID) bool {
	p, err := b.client.CoreV1().Pods(hp.Namespace).Get(ctx, hp.Name, metav1.GetOptions{})
	return err == nil && p.Annotations[AnnotStartToken] == string(token)
}

func newStartToken() (types.UID, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return types.UID("pre-" + hex.EncodeToString(b[:])), nil
}

func copyWith(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	maps.Copy(out, m)
	out[k] = v
	return out
}

func refOf(sec *corev1.Secret) cache.SecretRef { return cache.SecretRef{Name: sec.Name, UID: sec.UID} }
