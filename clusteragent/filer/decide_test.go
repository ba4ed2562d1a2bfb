package filer

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	grace := 90 * time.Second
	cases := map[string]struct {
		refs     int
		lastUsed time.Time
		want     Decision
	}{
		"in use":                        {refs: 2, lastUsed: now.Add(-time.Hour), want: Decision{}},
		"in use, never idle":            {refs: 1, want: Decision{}},
		"unused, never seen idle":       {refs: 0, want: Decision{Recheck: grace}},
		"unused within grace":           {refs: 0, lastUsed: now.Add(-30 * time.Second), want: Decision{Recheck: 60 * time.Second}},
		"unused exactly at grace":       {refs: 0, lastUsed: now.Add(-grace), want: Decision{Delete: true}},
		"unused past grace":             {refs: 0, lastUsed: now.Add(-time.Hour), want: Decision{Delete: true}},
		"last use in the future (skew)": {refs: 0, lastUsed: now.Add(time.Minute), want: Decision{Recheck: grace + time.Minute}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := Decide(tc.refs, tc.lastUsed, now, grace)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}
