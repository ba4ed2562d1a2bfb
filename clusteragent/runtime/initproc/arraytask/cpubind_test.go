package arraytask

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSlotCPUs: the CPU sets of a worker's slots: each slot its own CPUs
// while there are enough, shared round robin beyond, a 1-CPU pod, and a
// mask with holes (the CPUs as the kernel allows them, not 0..n-1).
func TestSlotCPUs(t *testing.T) {
	for name, tc := range map[string]struct {
		cpus  []int
		slots int
		want  [][]int
	}{
		"slots = CPUs":            {[]int{0, 1, 2, 3}, 4, [][]int{{0}, {1}, {2}, {3}}},
		"fewer slots, even":       {[]int{0, 1, 2, 3, 4, 5, 6, 7}, 4, [][]int{{0, 1}, {2, 3}, {4, 5}, {6, 7}}},
		"fewer slots, uneven":     {[]int{0, 1, 2, 3, 4, 5, 6, 7}, 3, [][]int{{0, 1, 2}, {3, 4, 5}, {6, 7}}},
		"one slot":                {[]int{0, 1, 2}, 1, [][]int{{0, 1, 2}}},
		"more slots, round robin": {[]int{0, 1}, 5, [][]int{{0}, {1}, {0}, {1}, {0}}},
		"1-CPU pod":               {[]int{3}, 4, [][]int{{3}, {3}, {3}, {3}}},
		"mask with holes":         {[]int{9, 2, 0, 7, 3}, 2, [][]int{{0, 2, 3}, {7, 9}}},
		"holes, more slots":       {[]int{4, 6}, 3, [][]int{{4}, {6}, {4}}},
		"no CPUs":                 {nil, 2, nil},
	} {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, SlotCPUs(tc.cpus, tc.slots)); diff != "" {
				t.Errorf("SlotCPUs(%v, %d) (-want +got):\n%s", tc.cpus, tc.slots, diff)
			}
		})
	}
}

func TestFormatCPUList(t *testing.T) {
	for in, want := range map[string]string{"": "", "0": "0", "0 1 2 3": "0-3", "0 2 3 7 9 10 11": "0,2-3,7,9-11", "1 3": "1,3"} {
		var cpus []int
		for _, f := range strings.Fields(in) {
			n, _ := strconv.Atoi(f)
			cpus = append(cpus, n)
		}
		if got := FormatCPUList(cpus); got != want {
			t.Errorf("FormatCPUList(%v) = %q, want %q", cpus, got, want)
		}
	}
	for _, s := range []string{"", "none", "slots"} {
		if _, err := ParseCPUBind(s); err != nil {
			t.Errorf("ParseCPUBind(%q): %v", s, err)
		}
	}
	if _, err := ParseCPUBind("cores"); err == nil {
		t.Error("ParseCPUBind(cores): no error")
	}
}

// TestTasksRunOnSlotCPUs runs tasks that print the CPUs the kernel lets
// them run on (/proc/self/status) and FLOTILLA_TASK_CPUS: bound, each
// task's list is one of its worker's slot sets and the variable says the
// same; with a subset of the CPUs given, every task runs inside it;
// unbound, tasks run on every CPU the worker may use and get no variable.
// After the worker ends no thread of this process is left bound.
func TestTasksRunOnSlotCPUs(t *testing.T) {
	all, err := AllowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	script := `sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status; echo "var=${FLOTILLA_TASK_CPUS-unset}"`
	last := all[len(all)-1:]
	for name, tc := range map[string]struct {
		bind  CPUBind
		cpus  []int
		slots int
	}{
		"slots over the allowed CPUs": {CPUBindSlots, nil, 2 * len(all)},
		"fewer slots than CPUs":       {CPUBindSlots, nil, max(len(all)/2, 1)},
		"a subset given":              {CPUBindSlots, last, 3},
		"unbound":                     {CPUBindNone, nil, 3},
	} {
		t.Run(name, func(t *testing.T) {
			spec, _ := structs.ParseArraySpec("1-24")
			srv := NewServer(NewDispatcher(spec, 0), nil, "", time.Now, slog.New(slog.DiscardHandler))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := RunWorker(ctx, WorkerConfig{Name: "head", Slots: tc.slots, Local: srv, Command: []string{"/bin/sh", "-c", script},
				Env: os.Environ(), Spec: spec, JobID: "7", StayUntilDone: true, Reach: 10 * time.Second, CPUBind: tc.bind, CPUs: tc.cpus,
				OutputDir: t.TempDir(), Now: time.Now, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			allowed := map[string]bool{}
			if tc.bind == CPUBindSlots {
				cpus := tc.cpus
				if cpus == nil {
					cpus = all
				}
				for _, s := range SlotCPUs(cpus, tc.slots) {
					allowed[FormatCPUList(s)] = true
				}
			}
			for i := 1; i <= 24; i++ {
				o, _ := srv.Output(i)
				lines := strings.Split(strings.TrimSpace(o.Tail), "\n")
				if o.State != structs.TaskSucceeded || len(lines) != 2 {
					t.Fatalf("task %d: %+v", i, o)
				}
				got, v := lines[0], strings.TrimPrefix(lines[1], "var=")
				switch {
				case tc.bind == CPUBindNone && (got != FormatCPUList(all) || v != "unset"):
					t.Errorf("unbound task %d ran on %s with FLOTILLA_TASK_CPUS %s, want %s and none", i, got, v, FormatCPUList(all))
				case tc.bind == CPUBindSlots && (!allowed[got] || v != got):
					t.Errorf("bound task %d ran on %s with FLOTILLA_TASK_CPUS %s, want one of the slot sets %v and the same",
						i, got, v, slices.Sorted(maps.Keys(allowed)))
				}
			}
			waitThreadsUnbound(t, FormatCPUList(all))
		})
	}
}

// waitThreadsUnbound waits until every thread of this process may run on
// want again (a bound slot's thread ends with its goroutine). The main
// thread is left out: when a slot goroutine that ran on it ends locked,
// the Go runtime cannot end the process's main thread and parks it for
// good instead ("wedged"), so it keeps its mask but never runs Go code
// again.
func waitThreadsUnbound(t *testing.T, want string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^Cpus_allowed_list:\s*(\S+)`)
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var bound []string
		tasks, _ := filepath.Glob("/proc/self/task/*/status")
		mainThread := fmt.Sprintf("/proc/self/task/%d/status", os.Getpid())
		for _, f := range tasks {
			if f == mainThread {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				continue // the thread ended
			}
			if m := re.FindSubmatch(b); m != nil && string(m[1]) != want {
				bound = append(bound, f+": "+string(m[1]))
			}
		}
		if len(bound) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("threads still bound after the worker ended: %v", bound)
		}
		<-tick.C
	}
}
