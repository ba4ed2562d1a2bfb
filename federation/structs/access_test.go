package structs

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAccessRuleValidate(t *testing.T) {
	tests := map[string]struct {
		r  AccessRule
		ok bool
	}{
		"app for group":     {AccessRule{Name: "r", Object: AccessObjectApp, Match: "cfd*", Groups: []string{"us-persons"}}, true},
		"vault labels":      {AccessRule{Name: "r", Object: AccessObjectVault, Match: "acme/itar", ClusterLabels: map[string]string{"region": "us"}}, true},
		"no name":           {AccessRule{Object: AccessObjectApp, Match: "a", Groups: []string{"g"}}, false},
		"bad object":        {AccessRule{Name: "r", Object: "node", Match: "a", Groups: []string{"g"}}, false},
		"bad pattern":       {AccessRule{Name: "r", Object: AccessObjectApp, Match: "[", Groups: []string{"g"}}, false},
		"no match":          {AccessRule{Name: "r", Object: AccessObjectApp, Groups: []string{"g"}}, false},
		"restricts nothing": {AccessRule{Name: "r", Object: AccessObjectApp, Match: "a"}, false},
		"cluster labels on cluster": {AccessRule{Name: "r", Object: AccessObjectCluster, Match: "east",
			Groups: []string{"g"}, ClusterLabels: map[string]string{"a": "b"}}, false},
		"empty group": {AccessRule{Name: "r", Object: AccessObjectApp, Match: "a", Groups: []string{""}}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.r.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
}

func TestAccessRuleCopyIsDeep(t *testing.T) {
	r := &AccessRule{Name: "r", Groups: []string{"g"}, Tenants: []string{"t"}, ClusterLabels: map[string]string{"a": "b"}}
	want := r.Copy()
	c := r.Copy()
	c.Groups[0], c.Tenants[0], c.ClusterLabels["a"] = "x", "x", "x"
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("mutating a copy changed the original (-want +got):\n%s", diff)
	}
}
