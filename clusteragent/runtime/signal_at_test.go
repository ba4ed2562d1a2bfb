package runtime

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestRenderSignalAt: every pod of a job with a signal before the
// walltime ends gives flotilla-init the walltime and the file of the
// pods' start, shown by the signals volume from the annotation
// flotilla.io/job-start; a job without one renders neither.
func TestRenderSignalAt(t *testing.T) {
	tc := goldenCases()["multinode"]
	for name, c := range map[string]struct {
		env      map[string]string
		walltime time.Duration
		want     bool
	}{
		"with a signal": {map[string]string{structs.JobSignalAtVar: "B:USR1@120"}, time.Hour, true},
		"without":       {map[string]string{"A": "1"}, time.Hour, false},
		"no walltime":   {map[string]string{structs.JobSignalAtVar: "USR1"}, 0, false},
	} {
		in := tc.in
		in.Random = fixedRandom()
		job := *in.Job
		job.Env, job.Walltime = c.env, structs.Duration(c.walltime)
		in.Job = &job
		objs, err := Render(in, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		for rank, p := range objs.Pods {
			args := p.Spec.Containers[0].Args
			i, k := slices.Index(args, "--walltime"), slices.Index(args, "--job-start-file")
			has := i >= 0 && args[i+1] == "1h0m0s" && k >= 0 && args[k+1] == JobStartPath
			if has != c.want || (!c.want && (i >= 0 || k >= 0)) {
				t.Errorf("%s: pod %d args %q", name, rank, args)
			}
			var items []string
			for _, v := range p.Spec.Volumes {
				if v.Name == volSignals {
					for _, it := range v.DownwardAPI.Items {
						items = append(items, it.Path+"="+it.FieldRef.FieldPath)
					}
				}
			}
			want := []string{"requests=metadata.annotations['flotilla.io/signals']"}
			if c.want {
				want = append(want, "job-start=metadata.annotations['flotilla.io/job-start']")
			}
			if !slices.Equal(items, want) {
				t.Errorf("%s: pod %d signals volume %q, want %q", name, rank, items, want)
			}
		}
	}
}

func TestPodsStart(t *testing.T) {
	at := func(s int) *corev1.Pod {
		p := &corev1.Pod{}
		if s > 0 {
			p.Status.StartTime = &metav1.Time{Time: time.Date(2026, 12, 6, 21, 0, s, 0, time.FixedZone("x", 3600))}
		}
		return p
	}
	if got := podsStart([]*corev1.Pod{at(0), at(9), at(7), at(8)}); got != "2026-12-06T20:00:07Z" {
		t.Errorf("podsStart = %q, want the earliest in UTC", got)
	}
	if got := podsStart([]*corev1.Pod{at(0)}); got != "" {
		t.Errorf("podsStart of pods not started = %q", got)
	}
}
