package arraytask

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// BenchmarkArrayTrue runs b.N tasks of /bin/true through a journaled
// dispatcher and four workers of eight slots on loopback: the array path
// without Kubernetes. It reports tasks/s.
func BenchmarkArrayTrue(b *testing.B) {
	spec := structs.ArraySpec{Start: 1, End: b.N}
	d := NewDispatcher(spec, 0)
	d.LeaseTTL = 10 * time.Second
	j, _, err := OpenJournal(filepath.Join(b.TempDir(), "journal"), d)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	log := slog.New(slog.DiscardHandler)
	srv := NewServer(d, j, "t", time.Now, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			err := RunWorker(ctx, WorkerConfig{Name: fmt.Sprint("w", i), Slots: 8, URL: "http://" + ln.Addr().String(),
				Token: "t", Command: []string{"/bin/true"}, Spec: spec, StayUntilDone: i == 0, Reach: 10 * time.Second,
				Heartbeat: time.Second, Fence: 5 * time.Second, Now: time.Now, Log: log})
			if err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tasks/s")
	cpu0.report(b)
	b.ReportMetric(float64(srv.Pulls())/float64(b.N), "pulls/task")
	if p, _ := srv.Snapshot(); p.Succeeded != b.N {
		b.Fatalf("%d of %d succeeded", p.Succeeded, b.N)
	}
}

// cpuUse is the CPU time of this process (the dispatcher, the workers
// and the parent's side of starting processes) and of its waited-for
// children (the tasks).
type cpuUse struct{ self, children time.Duration }

func cpuTime() cpuUse {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	return cpuUse{time.Duration(self.Utime.Nano() + self.Stime.Nano()), time.Duration(children.Utime.Nano() + children.Stime.Nano())}
}

// report adds the CPU per task since c0: ours, the tasks', and the sum.
func (c0 cpuUse) report(b *testing.B) {
	c := cpuTime()
	n := float64(b.N) * 1e6
	b.ReportMetric(float64(c.self-c0.self)/n, "self-cpu-ms/task")
	b.ReportMetric(float64(c.children-c0.children)/n, "task-cpu-ms/task")
	b.ReportMetric(float64(c.self-c0.self+c.children-c0.children)/n, "cpu-ms/task")
}

// BenchmarkForkExecFloor starts /bin/true and waits for it, one at a
// time, as a worker's slot does: the floor of a task's cost on this
// machine (cpu-ms/task counts the parent and the child).
func BenchmarkForkExecFloor(b *testing.B) {
	cpu0 := cpuTime()
	start := time.Now()
	for range b.N {
		p, err := os.StartProcess("/bin/true", []string{"/bin/true"}, &os.ProcAttr{})
		if err != nil {
			b.Fatal(err)
		}
		p.Wait()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tasks/s")
	cpu0.report(b)
}
