package arraytask

import (
	"fmt"
	"runtime"
	"slices"
	"syscall"
	"unsafe"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// CPU binding per slot, as Slurm's task/affinity binds tasks to cores:
// with CPUBindSlots every slot of a worker gets a fixed set of the CPUs
// the worker may run on (its affinity mask, which a container's cpuset
// cgroup narrows) and its tasks run only there. The slot's goroutine is
// locked to its OS thread and that thread's affinity set once; a task
// started from it (the vfork clone of syscall.ForkExec) inherits the mask
// before it executes anything, so the whole task runs on its slot's CPUs.
// Nothing is done per task.

// CPUBind says how a worker binds its tasks to CPUs.
type CPUBind string

const (
	// CPUBindNone: tasks run on every CPU the worker may use.
	CPUBindNone CPUBind = "none"
	// CPUBindSlots: each slot's tasks run on the slot's own CPUs
	// (SlotCPUs).
	CPUBindSlots CPUBind = "slots"
)

// DefaultCPUBind is a worker's binding when none is asked for.
const DefaultCPUBind = CPUBindNone

// TaskCPUsVar names the variable that tells a bound task its CPUs (a
// list such as "0-3,8"); it is set only when the task is bound.
const TaskCPUsVar = "FLOTILLA_TASK_CPUS"

// CPUBindVar names the variable of a pod's environment that asks for a
// binding when flotilla-init's --task-cpu-bind is not given: the hub
// carries a job's task_cpu_bind as this variable of the job's own
// environment (see structs.ArrayTaskCPUBindVar).
const CPUBindVar = structs.ArrayTaskCPUBindVar

// ParseCPUBind reads a binding: "none" or "slots" ("" is the default).
func ParseCPUBind(s string) (CPUBind, error) {
	switch b := CPUBind(s); b {
	case "":
		return DefaultCPUBind, nil
	case CPUBindNone, CPUBindSlots:
		return b, nil
	}
	return "", fmt.Errorf("task CPU binding %q: want none or slots", s)
}

// SlotCPUs spreads cpus (the CPUs a worker may use, in any order, each
// once) over slots slots. With no more slots than CPUs each slot gets
// CPUs of its own, neighbours in cpus' sorted order, the first
// len(cpus)%slots slots one more than the others; with more slots than
// CPUs each slot gets one CPU, round robin (slot i the i%len(cpus)-th).
// Pure: the same inputs give the same sets.
func SlotCPUs(cpus []int, slots int) [][]int {
	if slots < 1 || len(cpus) == 0 {
		return nil
	}
	sorted := slices.Sorted(slices.Values(cpus))
	out := make([][]int, slots)
	if slots > len(sorted) {
		for i := range out {
			out[i] = []int{sorted[i%len(sorted)]}
		}
		return out
	}
	per, extra := len(sorted)/slots, len(sorted)%slots
	at := 0
	for i := range out {
		n := per
		if i < extra {
			n++
		}
		out[i] = sorted[at : at+n : at+n]
		at += n
	}
	return out
}

// FormatCPUList writes sorted CPUs as the kernel's lists do
// (Cpus_allowed_list, cpuset.cpus): "0-3,8,10-11", the form of
// structs.FormatRanges.
func FormatCPUList(cpus []int) string { return structs.FormatRanges(cpus) }

// cpuMask is a kernel cpu_set_t of 1024 CPUs (glibc's CPU_SETSIZE).
type cpuMask [16]uint64

func maskOf(cpus []int) (cpuMask, error) {
	var m cpuMask
	for _, c := range cpus {
		if c < 0 || c >= len(m)*64 {
			return m, fmt.Errorf("CPU %d beyond the %d a mask holds", c, len(m)*64)
		}
		m[c/64] |= 1 << (c % 64)
	}
	return m, nil
}

func (m *cpuMask) cpus() []int {
	var out []int
	for i, w := range m {
		for b := range 64 {
			if w&(1<<b) != 0 {
				out = append(out, i*64+b)
			}
		}
	}
	return out
}

// AllowedCPUs returns the CPUs this thread may run on, sorted
// (sched_getaffinity: what the container's cpuset allows, less what the
// process was restricted to).
func AllowedCPUs() ([]int, error) {
	var m cpuMask
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	if e != 0 {
		return nil, fmt.Errorf("sched_getaffinity: %w", e)
	}
	return m.cpus(), nil
}

// bindThread locks the calling goroutine to its OS thread and restricts
// that thread to cpus; what it starts from now on inherits the mask. The
// goroutine stays locked until it returns: the runtime then ends the
// thread rather than hand a thread with this mask to other goroutines.
// On an error the goroutine is not locked and nothing changed.
func bindThread(cpus []int) error {
	m, err := maskOf(cpus)
	if err != nil {
		return err
	}
	runtime.LockOSThread()
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	if e != 0 {
		runtime.UnlockOSThread()
		return fmt.Errorf("sched_setaffinity %s: %w", FormatCPUList(cpus), e)
	}
	return nil
}

// slotBinding is the CPUs of each of cfg's slots, nil when its tasks are
// not bound (CPUBindNone, or the CPUs cannot be read: logged).
func slotBinding(cfg WorkerConfig) [][]int {
	if b := cfg.CPUBind; b != CPUBindSlots && (b != "" || DefaultCPUBind != CPUBindSlots) {
		return nil
	}
	cpus := cfg.CPUs
	if cpus == nil {
		var err error
		if cpus, err = AllowedCPUs(); err != nil {
			cfg.Log.Warn("tasks not bound to CPUs", "err", err)
			return nil
		}
	}
	return SlotCPUs(cpus, cfg.Slots)
}
