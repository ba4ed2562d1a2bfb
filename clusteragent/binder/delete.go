package binder

import (
	"context"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/cache"
	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
)

// DeleteJobPods deletes every pod of a gang at once.
func (b *Binder) DeleteJobPods(ctx context.Context, id cache.GangID) error {
	return b.client.CoreV1().Pods(id.Namespace).DeleteCollection(ctx,
		metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))},
		metav1.ListOptions{LabelSelector: podgroup.LabelJob + "=" + strconv.FormatUint(id.Number, 10)})
}
