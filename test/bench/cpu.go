package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of /proc/PID/stat's times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time of process pid and of its children it waited
// for (utime, stime, cutime, cstime of /proc/PID/stat); 0 when it is gone.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime..cstime are fields 14..17.
	if len(f) < 15 {
		return 0
	}
	var ticks int64
	for _, x := range f[11:15] {
		n, _ := strconv.ParseInt(x, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * clockTick
}

// selfCPU is this process's CPU time (the in-process hub and agent).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuOf sums procCPU over pids.
func cpuOf(pids ...int) time.Duration {
	var d time.Duration
	for _, p := range pids {
		d += procCPU(p)
	}
	return d
}

// loadAverage is the 1-minute load average, for the notes.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// forkExecFloor starts /bin/true n times, one after the other, and
// returns the CPU time per start (this process's side and the child's):
// what one task costs at the least on this machine, whatever runs it.
func forkExecFloor(n int) (time.Duration, error) {
	var c0, c1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c0)
	self0 := selfCPU()
	for range n {
		p, err := os.StartProcess("/bin/true", []string{"/bin/true"}, &os.ProcAttr{})
		if err != nil {
			return 0, err
		}
		if _, err := p.Wait(); err != nil {
			return 0, err
		}
	}
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c1)
	children := c1.Utime.Nano() + c1.Stime.Nano() - c0.Utime.Nano() - c0.Stime.Nano()
	return (time.Duration(children) + selfCPU() - self0) / time.Duration(n), nil
}

// writeMemProfile writes the allocation profile (every allocation since
// the start, sampled) to path.
func writeMemProfile(path string) {
	if err := writeAllocsProfile(path); err != nil {
		fmt.Fprintln(os.Stderr, "bench: memprofile:", err)
	}
}

// writeAllocsProfile writes the allocation profile so far to path. The
// profile's counts are those of the last completed garbage collection, so
// it collects first: a profile taken at a phase's end then holds the
// phase's allocations.
func writeAllocsProfile(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}
