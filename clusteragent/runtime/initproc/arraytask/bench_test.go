package arraytask

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
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
	if p, _ := srv.Snapshot(); p.Succeeded != b.N {
		b.Fatalf("%d of %d succeeded", p.Succeeded, b.N)
	}
}
