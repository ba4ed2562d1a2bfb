package binder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
)

// ErrJobGone means the job Secret owning a gang is gone, being deleted,
// replaced by another one, or records the job's end: the gang must not
// start.
var ErrJobGone = errors.New("binder: the job is gone or ended")

// ErrStartedOtherHead means the job Secret records a start with another
// head pod: that head may have run, so this one must not.
var ErrStartedOtherHead = errors.New("binder: the job started with another head")

// markStarted records on the job Secret that the job starts with head pod
// headUID; it returns once the API server has stored it (or had it).
func (b *Binder) markStarted(ctx context.Context, ns string, sec cache.SecretRef, headUID types.UID) error {
	for range 5 {
		s, err := b.client.CoreV1().Secrets(ns).Get(ctx, sec.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return fmt.Errorf("%w: secret %s not found", ErrJobGone, sec.Name)
		case err != nil:
			return err
		case s.UID != sec.UID || s.DeletionTimestamp != nil:
			return fmt.Errorf("%w: secret %s replaced or being deleted", ErrJobGone, sec.Name)
		case s.Annotations[podgroup.AnnotFinal] != "":
			return fmt.Errorf("%w: secret %s records the job's end", ErrJobGone, sec.Name)
		}
		switch v := s.Annotations[podgroup.AnnotStarted]; v {
		case string(headUID):
			return nil
		case "":
		default:
			return fmt.Errorf("%w: secret %s names head %s", ErrStartedOtherHead, sec.Name, v)
		}
		err = b.patchStarted(ctx, ns, sec.Name, s.ResourceVersion, string(headUID))
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	return fmt.Errorf("binder: secret %s kept changing", sec.Name)
}

// withdrawStart removes the start record naming headUID, once that head
// was deleted unbound.
func (b *Binder) withdrawStart(ctx context.Context, ns string, sec cache.SecretRef, headUID types.UID) error {
	for range 5 {
		s, err := b.client.CoreV1().Secrets(ns).Get(ctx, sec.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return err
		case s.UID != sec.UID || s.Annotations[podgroup.AnnotStarted] != string(headUID):
			return nil
		}
		err = b.patchStarted(ctx, ns, sec.Name, s.ResourceVersion, "")
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	return fmt.Errorf("binder: secret %s kept changing", sec.Name)
}

// patchStarted sets (or, with "", removes) the start record on condition
// that the Secret is at resource version rv.
func (b *Binder) patchStarted(ctx context.Context, ns, name, rv, value string) error {
	var v any
	if value != "" {
		v = value
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": rv,
		"annotations":     map[string]any{podgroup.AnnotStarted: v},
	}})
	if err != nil {
		return err
	}
	_, err = b.client.CoreV1().Secrets(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}
