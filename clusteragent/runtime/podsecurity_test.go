package runtime

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func TestPodSecurityLabels(t *testing.T) {
	full := func(enforce string) map[string]string {
		return map[string]string{
			LabelPodSecurityEnforce: enforce, LabelPodSecurityEnforceVersion: "latest",
			LabelPodSecurityWarn: "restricted", LabelPodSecurityWarnVersion: "latest",
			LabelPodSecurityAudit: "restricted", LabelPodSecurityAuditVersion: "latest",
		}
	}
	for name, tc := range map[string]struct {
		level string
		want  map[string]string
		bad   bool
	}{
		"default is restricted":          {level: "", want: full("restricted")},
		"restricted":                     {level: "restricted", want: full("restricted")},
		"baseline warns at restricted":   {level: "baseline", want: full("baseline")},
		"privileged warns at restricted": {level: "privileged", want: full("privileged")},
		"off labels nothing":             {level: "off"},
		"unknown refused":                {level: "strict", bad: true},
	} {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, PodSecurityLabels(tc.level)); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			err := CheckPodSecurity(tc.level)
			if tc.bad != (err != nil) || (err != nil && !errors.Is(err, structs.ErrInvalid)) {
				t.Errorf("CheckPodSecurity(%q) = %v", tc.level, err)
			}
		})
	}
}
