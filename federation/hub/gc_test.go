package hub

import "testing"

// TestGCSettings: the hub's collector defaults apply only where the
// operator set nothing; the memory limit follows the smaller of the
// cgroup's limit and the machine's memory.
func TestGCSettings(t *testing.T) {
	const gib = int64(1) << 30
	share := func(n int64) int64 { return int64(float64(n) * gcMemoryShare) }
	for _, tc := range []struct {
		name                 string
		gogc, limit, cgroup  string
		machine              int64
		want                 GCSettings
		setPercent, setLimit bool
	}{
		{"nothing set, cgroup limit", "", "", "4294967296\n", 16 * gib, GCSettings{DefaultGCPercent, share(4 * gib)}, true, true},
		{"nothing set, no cgroup limit", "", "", "max\n", 16 * gib, GCSettings{DefaultGCPercent, share(16 * gib)}, true, true},
		{"cgroup above the machine", "", "", "68719476736", 16 * gib, GCSettings{DefaultGCPercent, share(16 * gib)}, true, true},
		{"operator's GOGC", "100", "", "max", 8 * gib, GCSettings{0, share(8 * gib)}, false, true},
		{"operator's GOMEMLIMIT", "", "2GiB", "max", 8 * gib, GCSettings{DefaultGCPercent, 0}, true, false},
		{"memory unknown", "", "", "", 0, GCSettings{DefaultGCPercent, 0}, true, false},
		{"both set", "off", "1GiB", "max", 8 * gib, GCSettings{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, p, l := gcSettings(tc.gogc, tc.limit, tc.cgroup, tc.machine)
			if s != tc.want || p != tc.setPercent || l != tc.setLimit {
				t.Errorf("got %+v set percent %v limit %v, want %+v %v %v", s, p, l, tc.want, tc.setPercent, tc.setLimit)
			}
		})
	}
}
