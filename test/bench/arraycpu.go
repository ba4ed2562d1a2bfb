package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Where an array task's CPU goes. The local nodes' CPU (procCPU of the
// node process, its pods counted once waited for) is split by sampling
// every flotilla-init process while it runs: its own CPU (dispatcher,
// worker, starting and waiting for the tasks) and its waited children's
// (the task processes themselves). What is left is the node process and
// its per-container helpers. The floors are the same split for a bare
// start of /bin/true: one at a time, and as many at once as the array
// runs tasks (its slots), which is what the task processes compete with.

// initSampler records, for every flotilla-init process seen, its last
// CPU figures: its own and its waited children's.
type initSampler struct {
	mu   sync.Mutex
	self map[int]time.Duration
	kids map[int]time.Duration
}

// sampleInits samples /proc every interval until ctx ends.
func sampleInits(ctx context.Context, every time.Duration) *initSampler {
	s := &initSampler{self: map[int]time.Duration{}, kids: map[int]time.Duration{}}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.scan()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *initSampler) scan() {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		st := string(b)
		open, end := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
		if open < 0 || end < open || st[open+1:end] != "flotilla-init" {
			continue
		}
		f := strings.Fields(st[end+1:])
		if len(f) < 15 {
			continue
		}
		tick := func(i int) time.Duration {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			return time.Duration(n) * clockTick
		}
		s.mu.Lock()
		s.self[pid] = tick(11) + tick(12)
		s.kids[pid] = tick(13) + tick(14)
		s.mu.Unlock()
	}
}

// totals returns the CPU of the flotilla-init processes seen: their own,
// and their waited children's.
func (s *initSampler) totals() (self, kids time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for pid, d := range s.self {
		self += d
		kids += s.kids[pid]
	}
	return self, kids
}

// forkExecFloorSplit starts /bin/true n times, from par goroutines at
// once, and returns the CPU per start of this process (parent side) and of
// the children.
func forkExecFloorSplit(n, par int) (parent, child time.Duration, err error) {
	var c0, c1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c0)
	self0 := selfCPU()
	var wg sync.WaitGroup
	errs := make(chan error, par)
	for range par {
		wg.Go(func() {
			for range n / par {
				p, err := os.StartProcess("/bin/true", []string{"/bin/true"}, &os.ProcAttr{})
				if err != nil {
					errs <- err
					return
				}
				if _, err := p.Wait(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, err
	}
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c1)
	starts := time.Duration(n / par * par)
	kids := time.Duration(c1.Utime.Nano() + c1.Stime.Nano() - c0.Utime.Nano() - c0.Stime.Nano())
	return (selfCPU() - self0) / starts, kids / starts, nil
}
