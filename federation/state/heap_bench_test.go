package state

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// fillFinishedJobs carries n jobs through their lives as the hub table's
// scale row does (test/bench/hubscale.go): submit, assign, RUNNING,
// COMPLETED with accounting, perTxn jobs to a transaction per step.
func fillFinishedJobs(t testing.TB, s *Store, index uint64, n, perTxn int) uint64 {
	t.Helper()
	at := t0.Add(-time.Hour)
	for lo := 0; lo < n; lo += perTxn {
		hi := min(lo+perTxn, n)
		steps := []func(w *WriteTxn, id string) error{
			func(w *WriteTxn, id string) error {
				_, err := w.SubmitOwnedJob(&structs.Job{ID: id, Tenant: "acme", Owner: "alice", App: "solver", Command: "Run",
					MachineType: "n3", Nodes: 1, State: structs.JobQueued, SubmitTime: at})
				return err
			},
			func(w *WriteTxn, id string) error {
				_, err := w.AssignJob(&structs.JobAssignment{ID: id, Cluster: "east", Time: at})
				return err
			},
			func(w *WriteTxn, id string) error {
				_, err := w.UpdateJobState(&structs.JobStateUpdate{ID: id, Cluster: "east", State: structs.JobRunning, Time: at.Add(time.Second)})
				return err
			},
			func(w *WriteTxn, id string) error {
				_, err := w.UpdateJobState(&structs.JobStateUpdate{ID: id, Cluster: "east", State: structs.JobCompleted,
					Time: at.Add(time.Minute), Account: true, Number: 0})
				return err
			},
		}
		for _, step := range steps {
			write(t, s, index, func(w *WriteTxn) error {
				for k := lo; k < hi; k++ {
					if err := step(w, "j-done-"+strconv.Itoa(k)); err != nil {
						return err
					}
				}
				return nil
			})
			index++
		}
	}
	return index
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkFinishedJobHeap is what a finished job (with its accounting
// record) costs one replica's heap: after the fill through write
// transactions, and after a restore from the state's snapshot; and the
// snapshot's save and restore times. FLOTILLA_FINISHED sets the jobs
// (default 100,000). Run it once: -benchtime=1x.
func BenchmarkFinishedJobHeap(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("FLOTILLA_FINISHED")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		h0 := liveHeap()
		s := newStore(b)
		seed(b, s)
		fillFinishedJobs(b, s, 10, n, 2000)
		filled := liveHeap() - h0
		start := time.Now()
		var buf bytes.Buffer
		if err := s.Snapshot().Persist(&buf); err != nil {
			b.Fatal(err)
		}
		save := time.Since(start)
		s = nil
		h1 := liveHeap()
		r := newStore(b)
		start = time.Now()
		if err := r.Restore(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
		restore := time.Since(start)
		restored := liveHeap() - h1
		if jobs, _, err := r.Read().ListJobs(JobFilter{State: structs.JobCompleted, Limit: 1}); err != nil || len(jobs) != 1 {
			b.Fatal(err, len(jobs))
		}
		b.ReportMetric(float64(filled)/float64(n), "B/job-filled")
		b.ReportMetric(float64(restored)/float64(n), "B/job-restored")
		b.ReportMetric(float64(save.Milliseconds()), "ms-save")
		b.ReportMetric(float64(restore.Milliseconds()), "ms-restore")
		b.ReportMetric(float64(buf.Len())/float64(n), "snapB/job")
		fmt.Fprintf(os.Stderr, "finished jobs %d: heap %.1f MB filled, %.1f MB restored; snapshot %.1f MB, save %v, restore %v\n",
			n, float64(filled)/(1<<20), float64(restored)/(1<<20), float64(buf.Len())/(1<<20), save, restore)
		runtime.KeepAlive(r)
	}
}
