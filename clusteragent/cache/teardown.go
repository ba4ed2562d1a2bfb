package cache

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
)

// DeleteJobPods deletes every pod of a gang ("namespace/job-number") at once.
func (c *Cache) DeleteJobPods(ctx context.Context, gangID string) error {
	ns, job, ok := strings.Cut(gangID, "/")
	if !ok || job == "" {
		return fmt.Errorf("cache: bad gang id %q", gangID)
	}
	return c.client.CoreV1().Pods(ns).DeleteCollection(ctx,
		metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))},
		metav1.ListOptions{LabelSelector: podgroup.LabelJob + "=" + job})
}
