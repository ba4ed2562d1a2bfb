package elastic

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	opts := Options{IdleTime: 10 * time.Minute}
	cpu := func(size, busy int, idle time.Time) Group {
		return Group{Name: "mt-cpu", MachineType: "cpu", Size: size, Min: 0, Max: 8, Busy: busy, IdleSince: idle}
	}
	cases := map[string]struct {
		groups  []Group
		pending []Gang
		now     time.Time
		want    Decision
	}{
		"at zero, a gang grows the group by the whole gang": {
			groups: []Group{cpu(0, 0, t0)}, pending: []Gang{{Job: "j1", MachineType: "cpu", Nodes: 4}}, now: t0,
			want: Decision{Sizes: map[string]int{"mt-cpu": 4}, Reasons: map[string]string{}}},
		"free nodes count: only the missing part is added": {
			groups: []Group{cpu(3, 1, time.Time{})}, pending: []Gang{{Job: "j1", MachineType: "cpu", Nodes: 4}}, now: t0,
			want: Decision{Sizes: map[string]int{"mt-cpu": 5}, Reasons: map[string]string{}}},
		"a gang that fits in free nodes changes nothing": {
			groups: []Group{cpu(4, 0, t0)}, pending: []Gang{{Job: "j1", MachineType: "cpu", Nodes: 4}}, now: t0,
			want: Decision{Sizes: map[string]int{}, Reasons: map[string]string{}}},
		"two gangs, both whole": {
			groups: []Group{cpu(0, 0, t0)}, pending: []Gang{{Job: "j1", MachineType: "cpu", Nodes: 3}, {Job: "j2", MachineType: "cpu", Nodes: 5}}, now: t0,
			want: Decision{Sizes: map[string]int{"mt-cpu": 8}, Reasons: map[string]string{}}},
		"never a partial gang beyond the maximum": {
			groups: []Group{cpu(0, 0, t0)}, pending: []Gang{{Job: "j1", MachineType: "cpu", Nodes: 6}, {Job: "j2", MachineType: "cpu", Nodes: 4}}, now: t0,
			want: Decision{Sizes: map[string]int{"mt-cpu": 6}, Reasons: map[string]string{
				"j2": "waiting for 4 nodes of cpu: node group mt-cpu is at 6 of at most 8, 0 free"}}},
		"a gang larger than the maximum never grows the group": {
			groups: []Group{cpu(0, 0, t0)}, pending: []Gang{{Job: "big", MachineType: "cpu", Nodes: 9}}, now: t0,
			want: Decision{Sizes: map[string]int{}, Reasons: map[string]string{
				"big": "needs 9 nodes of cpu: its node group mt-cpu grows to at most 8"}}},
		"other machine types are not this group's": {
			groups: []Group{cpu(0, 0, t0)}, pending: []Gang{{Job: "g", MachineType: "gpu", Nodes: 2}}, now: t0,
			want: Decision{Sizes: map[string]int{}, Reasons: map[string]string{}}},
		"idle for the idle time: back to the minimum": {
			groups: []Group{cpu(4, 0, t0)}, now: t0.Add(10 * time.Minute),
			want: Decision{Sizes: map[string]int{"mt-cpu": 0}, Reasons: map[string]string{}}},
		"idle, not long enough": {
			groups: []Group{cpu(4, 0, t0)}, now: t0.Add(9 * time.Minute),
			want: Decision{Sizes: map[string]int{}, Reasons: map[string]string{}}},
		"busy never shrinks": {
			groups: []Group{cpu(4, 2, time.Time{})}, now: t0.Add(time.Hour),
			want: Decision{Sizes: map[string]int{}, Reasons: map[string]string{}}},
		"idle but a gang waits: no shrink": {
			groups: []Group{cpu(4, 0, t0)}, pending: []Gang{{Job: "j1", MachineType: "cpu", Nodes: 2}}, now: t0.Add(time.Hour),
			want: Decision{Sizes: map[string]int{}, Reasons: map[string]string{}}},
		"minimum kept": {
			groups: []Group{{Name: "mt-cpu", MachineType: "cpu", Size: 4, Min: 1, Max: 8, IdleSince: t0}}, now: t0.Add(time.Hour),
			want: Decision{Sizes: map[string]int{"mt-cpu": 1}, Reasons: map[string]string{}}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := Decide(c.groups, c.pending, c.now, opts)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecideNeverPartialNorBeyondMax: over every small combination, no
// group is asked beyond its maximum, and a group grows only when the
// growth serves whole gangs (the sum of the served gangs' missing nodes).
func TestDecideNeverPartialNorBeyondMax(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for size := 0; size <= 4; size++ {
		for busy := 0; busy <= size; busy++ {
			for a := 1; a <= 6; a++ {
				for b := 1; b <= 6; b++ {
					g := Group{Name: "g", MachineType: "m", Size: size, Max: 6, Busy: busy}
					d := Decide([]Group{g}, []Gang{{Job: "a", MachineType: "m", Nodes: a}, {Job: "b", MachineType: "m", Nodes: b}}, t0, Options{})
					n, changed := d.Sizes["g"]
					if !changed {
						n = size
					}
					if n > 6 {
						t.Fatalf("size %d busy %d gangs %d,%d: asked %d beyond max", size, busy, a, b, n)
					}
					served := 0
					for _, j := range []struct {
						id    string
						nodes int
					}{{"a", a}, {"b", b}} {
						if _, waits := d.Reasons[j.id]; !waits {
							served += j.nodes
						}
					}
					if want := max(size, busy+served); n != want {
						t.Fatalf("size %d busy %d gangs %d,%d: asked %d, whole gangs need %d", size, busy, a, b, n, want)
					}
				}
			}
		}
	}
}
