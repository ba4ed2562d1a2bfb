package binder

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
)

// ErrHeadBound means a teardown found the gang's head bound after all: the
// job may have run, so its pods are left alone.
var ErrHeadBound = errors.New("binder: the head of the gang is bound")

func jobSelector(number uint64) string {
	return podgroup.LabelManaged + "=true," + podgroup.LabelJob + "=" + strconv.FormatUint(number, 10)
}

// Teardown deletes a partly bound gang whose head is unbound, so that level
// 1 rebuilds it whole. The head goes first, on condition that it is still
// unbound (its resource version as the cache saw it, reread on a
// conflict): if it was bound meanwhile, Teardown stops with ErrHeadBound
// and touches nothing. Then every other pod goes, each on condition that it
// is the pod the cache saw. Once the head is deleted unbound, the start
// record on the job Secret (if it names that head) is withdrawn: that head
// never ran. A head already missing leaves the record as it is. It returns
// the UID of the head it deleted unbound, if it did: a start record naming
// it is void.
func (b *Binder) Teardown(ctx context.Context, p cache.PartialGang) (types.UID, error) {
	var head *cache.PodRef
	var others []cache.PodRef
	for i := range p.Rest.Pods {
		if p.Rest.Pods[i].Rank == 0 {
			head = &p.Rest.Pods[i]
		} else {
			others = append(others, p.Rest.Pods[i])
		}
	}
	others = append(others, p.Bound...)
	headGone := false
	if head != nil {
		var err error
		if headGone, err = b.deleteUnboundHead(ctx, *head); err != nil {
			return "", fmt.Errorf("binder: tearing down gang %s: %w", p.Rest.ID, err)
		}
	}
	var void types.UID
	if headGone {
		void = head.UID
	}
	var errs []error
	for _, ref := range others {
		err := b.client.CoreV1().Pods(ref.Namespace).Delete(ctx, ref.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64(0)), Preconditions: &metav1.Preconditions{UID: &ref.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return void, fmt.Errorf("binder: tearing down gang %s: %w", p.Rest.ID, err)
	}
	if headGone && p.Rest.Secret != (cache.SecretRef{}) {
		if err := b.withdrawStart(ctx, p.Rest.ID.Namespace, p.Rest.Secret, head.UID); err != nil {
			return void, fmt.Errorf("binder: tearing down gang %s: %w", p.Rest.ID, err)
		}
	}
	return void, nil
}

// deleteUnboundHead deletes the head on condition that it is unchanged
// since it was seen unbound; it reports whether this call deleted it.
func (b *Binder) deleteUnboundHead(ctx context.Context, ref cache.PodRef) (bool, error) {
	pods := b.client.CoreV1().Pods(ref.Namespace)
	rv := ref.ResourceVersion
	for range 5 {
		err := pods.Delete(ctx, ref.Name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64(0)),
			Preconditions:      &metav1.Preconditions{UID: &ref.UID, ResourceVersion: &rv},
		})
		switch {
		case err == nil:
			return true, nil
		case apierrors.IsNotFound(err):
			return false, nil
		case !apierrors.IsConflict(err):
			return false, err
		}
		p, err := pods.Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return false, nil
		case err != nil:
			return false, err
		case p.UID != ref.UID:
			return false, nil // another pod now: the one seen is gone
		case p.Spec.NodeName != "":
			return false, ErrHeadBound
		}
		rv = p.ResourceVersion
	}
	return false, fmt.Errorf("binder: head %s/%s kept changing", ref.Namespace, ref.Name)
}
