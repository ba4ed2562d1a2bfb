package arraytask

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTaskEnv: the Slurm variables of a range and of index lists, as
// Slurm sets them (STEP: the number after the spec's first ':', else 1).
func TestTaskEnv(t *testing.T) {
	cases := map[string]struct {
		spec  string
		index int
		want  []string
	}{
		"range": {"0-99:5%4", 10, []string{"FLOTILLA_ARRAY_TASK_ID=10", "FLOTILLA_ARRAY_TASK_ATTEMPT=2", "SLURM_ARRAY_TASK_ID=10", "SLURM_ARRAY_JOB_ID=42",
			"SLURM_ARRAY_TASK_COUNT=20", "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_MAX=95", "SLURM_ARRAY_TASK_STEP=5"}},
		"indices": {"7,1,3", 3, []string{"FLOTILLA_ARRAY_TASK_ID=3", "FLOTILLA_ARRAY_TASK_ATTEMPT=2", "SLURM_ARRAY_TASK_ID=3", "SLURM_ARRAY_JOB_ID=42",
			"SLURM_ARRAY_TASK_COUNT=3", "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_MAX=7", "SLURM_ARRAY_TASK_STEP=1"}},
		"slurm's example": {"0-15,20,40-100:10%4", 20, []string{"FLOTILLA_ARRAY_TASK_ID=20", "FLOTILLA_ARRAY_TASK_ATTEMPT=2", "SLURM_ARRAY_TASK_ID=20", "SLURM_ARRAY_JOB_ID=42",
			"SLURM_ARRAY_TASK_COUNT=24", "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_MAX=100", "SLURM_ARRAY_TASK_STEP=10"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, TaskEnv(spec(tc.spec), "42", tc.index, 2)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
