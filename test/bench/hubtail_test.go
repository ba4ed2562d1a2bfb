package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTailOf: slow calls that overlap are one stretch (with the clients
// that made them), a slow call overlapping none is alone, fast calls
// count for the max only.
func TestTailOf(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for name, c := range map[string]struct {
		calls [][]callTime
		want  latencyTail
	}{
		"none":      {nil, latencyTail{}},
		"fast only": {[][]callTime{{{0, ms(5)}, {ms(5), ms(99)}}}, latencyTail{max: ms(99)}},
		"a stall of three clients and one alone": {
			[][]callTime{
				{{ms(0), ms(300)}, {ms(300), ms(2)}, {ms(900), ms(150)}},
				{{ms(10), ms(290)}},
				{{ms(250), ms(120)}, {ms(370), ms(1)}},
				{{ms(5), ms(20)}},
			},
			latencyTail{max: ms(300), slow: 4, stalls: 2, crowd: 3, crowdClients: 3, alone: 1},
		},
		"one client's calls in a row": {
			[][]callTime{{{ms(0), ms(200)}, {ms(200), ms(200)}}},
			latencyTail{max: ms(200), slow: 2, stalls: 2, alone: 2},
		},
	} {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, tailOf(c.calls), cmp.AllowUnexported(latencyTail{})); diff != "" {
				t.Errorf("tailOf (-want +got):\n%s", diff)
			}
		})
	}
}
