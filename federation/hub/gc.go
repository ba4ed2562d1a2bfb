package hub

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultGCPercent is the GOGC the hub binary runs with unless the
// environment sets GOGC. Every submission allocates (radix-tree paths of
// the state's indexes on every replica, HTTP, JSON) while the live heap
// of a small hub is a few tens of MB, so at Go's default of 100 the
// collector ran often: 400 took about 15 % of the CPU per submission off
// (docs/performance.md). The memory limit below bounds what it costs.
const DefaultGCPercent = 400

// gcMemoryShare is the share of the memory available to the hub (its
// cgroup's limit, else the machine's) that TuneGC makes the Go runtime's
// soft memory limit: near it the collector runs as often as needed,
// whatever GOGC says.
const gcMemoryShare = 0.8

// GCSettings are what TuneGC applies: GOGC, and the soft memory limit in
// bytes (0: none).
type GCSettings struct {
	Percent     int
	MemoryLimit int64
}

// gcSettings decides the settings from the GOGC and GOMEMLIMIT variables
// (an operator's values win: the runtime has read them, nothing is
// changed), the cgroup memory limit ("max" or empty: none) and the
// machine's memory in bytes (0: unknown); setPercent and setLimit say
// which of the two to apply.
func gcSettings(gogc, gomemlimit, cgroupMax string, machine int64) (s GCSettings, setPercent, setLimit bool) {
	if gogc == "" {
		s.Percent, setPercent = DefaultGCPercent, true
	}
	if gomemlimit == "" {
		avail := machine
		if v, err := strconv.ParseInt(strings.TrimSpace(cgroupMax), 10, 64); err == nil && v > 0 && (avail == 0 || v < avail) {
			avail = v
		}
		if avail > 0 {
			s.MemoryLimit, setLimit = int64(float64(avail)*gcMemoryShare), true
		}
	}
	return s, setPercent, setLimit
}

// TuneGC applies the hub binary's collector settings (see
// DefaultGCPercent) unless GOGC and GOMEMLIMIT say otherwise, and returns
// them. The flotilla-hub binary calls it once at start, and so does the
// benchmark that runs replicas as the binary does.
func TuneGC() GCSettings {
	cg, _ := os.ReadFile("/sys/fs/cgroup/memory.max")
	s, setPercent, setLimit := gcSettings(os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"), string(cg), machineMemory())
	if setPercent {
		debug.SetGCPercent(s.Percent)
	}
	if setLimit {
		debug.SetMemoryLimit(s.MemoryLimit)
	}
	return s
}

// machineMemory is MemTotal of /proc/meminfo in bytes, 0 if unknown.
func machineMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}
