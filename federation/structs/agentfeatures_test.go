package structs

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJobNeedsFeatures(t *testing.T) {
	tests := map[string]struct {
		job  Job
		want []AgentFeature
	}{
		"plain":   {job: Job{}, want: nil},
		"env":     {job: Job{Env: map[string]string{"A": "1"}}, want: []AgentFeature{FeatureJobEnv}},
		"workdir": {job: Job{Workdir: "/w"}, want: []AgentFeature{FeatureJobWorkdir}},
		"array":   {job: Job{Array: &ArrayJob{Spec: ArraySpec{Start: 1, End: 4}}}, want: []AgentFeature{FeatureArrayJobs}},
		"all": {job: Job{Env: map[string]string{"A": "1"}, Workdir: "/w", Array: &ArrayJob{}},
			want: []AgentFeature{FeatureJobEnv, FeatureJobWorkdir, FeatureArrayJobs}},
		"dependency only": {job: Job{Dependency: &JobDependency{}}, want: nil}, // the hub's alone
		"CPU binding": {job: Job{Env: map[string]string{ArrayTaskCPUBindVar: "slots"}, Array: &ArrayJob{}},
			want: []AgentFeature{FeatureJobEnv, FeatureArrayJobs, FeatureArrayCPUBind}},
		"binding variable without an array": {job: Job{Env: map[string]string{ArrayTaskCPUBindVar: "slots"}},
			want: []AgentFeature{FeatureJobEnv}},
		"signal before the walltime": {job: Job{Env: map[string]string{JobSignalAtVar: "B:USR1@120"}},
			want: []AgentFeature{FeatureJobEnv, FeatureJobSignalAt}},
		"index list": {job: Job{Array: &ArrayJob{Spec: ArraySpec{Start: 1, End: 7, Ranges: []ArrayRange{{Start: 1, End: 1}, {Start: 3, End: 3}, {Start: 7, End: 7}}}}},
			want: []AgentFeature{FeatureArrayJobs, FeatureArrayIndexLists}},
	}
	for name, tc := range tests {
		if diff := cmp.Diff(tc.want, tc.job.NeedsFeatures()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func TestAgentInfoValidate(t *testing.T) {
	tests := map[string]struct {
		info    AgentInfo
		wantErr bool
	}{
		"ok":           {info: AgentInfo{Version: "v0.3.0-4-gabc1234", Features: []AgentFeature{"array-jobs", "job-env"}}},
		"none":         {info: AgentInfo{}},
		"unknown name": {info: AgentInfo{Features: []AgentFeature{"gpu-mig2"}}},
		"unsorted":     {info: AgentInfo{Features: []AgentFeature{"job-env", "array-jobs"}}, wantErr: true},
		"twice":        {info: AgentInfo{Features: []AgentFeature{"job-env", "job-env"}}, wantErr: true},
		"upper":        {info: AgentInfo{Features: []AgentFeature{"Job-Env"}}, wantErr: true},
		"space":        {info: AgentInfo{Features: []AgentFeature{"job env"}}, wantErr: true},
		"dash edge":    {info: AgentInfo{Features: []AgentFeature{"-env"}}, wantErr: true},
		"empty name":   {info: AgentInfo{Features: []AgentFeature{""}}, wantErr: true},
		"long name":    {info: AgentInfo{Features: []AgentFeature{AgentFeature(strings.Repeat("a", 64))}}, wantErr: true},
		"version ctl":  {info: AgentInfo{Version: "v1\n"}, wantErr: true},
		"version long": {info: AgentInfo{Version: strings.Repeat("1", 129)}, wantErr: true},
	}
	for name, tc := range tests {
		err := tc.info.Validate()
		if tc.wantErr != (err != nil) || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want error %v", name, err, tc.wantErr)
		}
	}
	many := AgentInfo{}
	for i := range MaxAgentFeatures + 1 {
		many.Features = append(many.Features, AgentFeature("f"+strings.Repeat("a", i%60)+string(rune('a'+i/60))))
	}
	many.Normalize()
	if err := many.Validate(); err == nil {
		t.Errorf("%d features accepted", len(many.Features))
	}
}

func TestAgentInfoNormalizeHasEqual(t *testing.T) {
	a := &AgentInfo{Version: "v1", Features: []AgentFeature{FeatureJobWorkdir, FeatureJobEnv, FeatureJobWorkdir, FeatureArrayJobs}}
	a.Normalize()
	if diff := cmp.Diff([]AgentFeature{FeatureArrayJobs, FeatureJobEnv, FeatureJobWorkdir}, a.Features); diff != "" {
		t.Errorf("normalized (-want +got):\n%s", diff)
	}
	if !a.Has(FeatureJobEnv) || a.Has(FeatureArrayIndexLists) || (*AgentInfo)(nil).Has(FeatureJobEnv) {
		t.Errorf("Has: wrong")
	}
	b := a.Copy()
	if !a.Equal(b) || a.Equal(nil) || !(*AgentInfo)(nil).Equal(nil) {
		t.Errorf("Equal: wrong")
	}
	b.Features[0] = "x"
	if a.Features[0] != FeatureArrayJobs || a.Equal(b) {
		t.Errorf("Copy shares its features")
	}
	b = a.Copy()
	b.Version = "v2"
	if a.Equal(b) {
		t.Errorf("Equal ignores the version")
	}
}
