package raftnode

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestLeaseDefaultsToHeartbeat: an unset leader lease is the heartbeat
// timeout (raft's own default, or the one configured); a set one stays.
func TestLeaseDefaultsToHeartbeat(t *testing.T) {
	tests := map[string]struct {
		heartbeat, lease time.Duration
		want             [2]time.Duration // heartbeat, lease
	}{
		"raft's heartbeat":       {want: [2]time.Duration{time.Second, time.Second}},
		"a longer heartbeat":     {heartbeat: 3 * time.Second, want: [2]time.Duration{3 * time.Second, 3 * time.Second}},
		"a lease set explicitly": {heartbeat: 2 * time.Second, lease: 300 * time.Millisecond, want: [2]time.Duration{2 * time.Second, 300 * time.Millisecond}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := Config{ID: "a", InMemory: true, BindAddr: "127.0.0.1:0",
				HeartbeatTimeout: tc.heartbeat, ElectionTimeout: max(tc.heartbeat, time.Second), LeaderLeaseTimeout: tc.lease}
			cfg, err := cfg.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			rc, err := cfg.raftConfig()
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, [2]time.Duration{rc.HeartbeatTimeout, rc.LeaderLeaseTimeout}); d != "" {
				t.Errorf("heartbeat, lease (-want +got):\n%s", d)
			}
		})
	}
}
