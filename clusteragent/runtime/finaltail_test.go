package runtime

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestFinalTailReadTriedAgain: the final tail of a job is kept for good,
// so a read that ran out of time (a loaded kubelet) is tried once more
// with twice the time; a read refused at once (no kubelet) is not.
func TestFinalTailReadTriedAgain(t *testing.T) {
	head := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "j1-head", Namespace: "ns"},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "app"}}},
	}
	tests := map[string]struct {
		first    error // nil: the first read waits out its time
		want     string
		wantRead int32
	}{
		"slow first read, second answers":  {first: nil, want: "hello from rank 0\n", wantRead: 2},
		"refused at once, not tried again": {first: errors.New("no kubelet"), want: "", wantRead: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var reads atomic.Int32
			var limits []time.Duration
			r := &Reconciler{LogTailTimeout: 50 * time.Millisecond}
			r.Logs = func(ctx context.Context, _ *corev1.Pod, container string, _, _ int64) ([]byte, error) {
				n := reads.Add(1)
				if dl, ok := ctx.Deadline(); ok {
					limits = append(limits, time.Until(dl))
				}
				if container != "app" {
					t.Errorf("read container %q, want app", container)
				}
				if n == 1 {
					if tc.first != nil {
						return nil, tc.first
					}
					<-ctx.Done()
					return nil, ctx.Err()
				}
				return []byte("hello from rank 0\n"), nil
			}
			if got := r.logTail(context.Background(), head, false); got != tc.want {
				t.Errorf("tail %q, want %q", got, tc.want)
			}
			if got := reads.Load(); got != tc.wantRead {
				t.Errorf("%d reads, want %d", got, tc.wantRead)
			}
			if len(limits) == 2 && limits[1] <= limits[0] {
				t.Errorf("second read's time %v is not longer than the first's %v", limits[1], limits[0])
			}
		})
	}
}
