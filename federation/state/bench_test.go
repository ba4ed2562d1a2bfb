package state

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func benchJobs(n int) []*structs.Job {
	jobs := make([]*structs.Job, n)
	for i := range jobs {
		jobs[i] = &structs.Job{ID: fmt.Sprintf("bench-%09d", i), Tenant: "acme", Owner: "alice", App: "solver",
			MachineType: "n3", Nodes: 2, SubmitTime: t0, Parameters: map[string]string{"np": "32"}}
	}
	return jobs
}

func benchmarkSubmitJob(b *testing.B, perTxn int) {
	s := newStore(b)
	seed(b, s)
	jobs := benchJobs(b.N * perTxn)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		w := s.Write(uint64(10 + i))
		for _, j := range jobs[i*perTxn : (i+1)*perTxn] {
			if _, err := w.SubmitJob(j); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*perTxn)/b.Elapsed().Seconds(), "jobs/s")
}

func BenchmarkSubmitJob(b *testing.B)        { benchmarkSubmitJob(b, 1) }
func BenchmarkSubmitJobBatch64(b *testing.B) { benchmarkSubmitJob(b, 64) }

func BenchmarkListJobsByOwner(b *testing.B) {
	s := newStore(b)
	seed(b, s)
	w := s.Write(10)
	for _, j := range benchJobs(10000) {
		if _, err := w.SubmitJob(j); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if jobs, _, err := s.Read().ListJobs(JobFilter{Owner: "alice", After: 5000, Limit: 50}); err != nil || len(jobs) != 50 {
			b.Fatal(err, len(jobs))
		}
	}
}

// BenchmarkListActiveJobs: what dispatch lists every pass, 200 active jobs
// among 20,000 finished ones, through the state index ("active") and by
// scanning every job ("scan", how it listed them before).
func BenchmarkListActiveJobs(b *testing.B) {
	s := newStore(b)
	seed(b, s)
	w := s.Write(10)
	jobs := benchJobs(20200)
	for _, j := range jobs {
		if _, err := w.SubmitJob(j); err != nil {
			b.Fatal(err)
		}
	}
	for _, j := range jobs[:20000] {
		if _, err := w.CancelJob(&structs.JobCancel{ID: j.ID, Time: t0}); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		b.Fatal(err)
	}
	for name, f := range map[string]JobFilter{
		"active": {Active: true},
		"scan":   {Match: func(j *structs.Job) bool { return !j.State.IsTerminal() }},
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if got, _, err := s.Read().ListJobs(f); err != nil || len(got) != 200 {
					b.Fatal(err, len(got))
				}
			}
		})
	}
}

// BenchmarkJobRefMissing is admission's question for every submission:
// is the request's job ID free? (a not-found lookup).
func BenchmarkJobRefMissing(b *testing.B) {
	s := newStore(b)
	seed(b, s)
	r := s.Read()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.JobRef("j-bench-12345"); !errors.Is(err, structs.ErrNotFound) {
			b.Fatal(err)
		}
	}
}

// BenchmarkRestoreFinished restores a snapshot of 20,000 finished jobs
// with their accounting records (what a replica does at start or on
// InstallSnapshot); the scale row of the hub table does it at 100,000.
func BenchmarkRestoreFinished(b *testing.B) {
	s := newStore(b)
	seed(b, s)
	jobs := benchJobs(20000)
	write(b, s, 10, func(w *WriteTxn) error {
		for _, j := range jobs {
			if _, err := w.SubmitJob(j); err != nil {
				return err
			}
			if _, err := w.CancelJob(&structs.JobCancel{ID: j.ID, Time: t0, Account: true}); err != nil {
				return err
			}
		}
		return nil
	})
	snap := persist(b, s)
	b.ReportAllocs()
	b.SetBytes(int64(len(snap)))
	for b.Loop() {
		r, err := New()
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Restore(bytes.NewReader(snap)); err != nil {
			b.Fatal(err)
		}
	}
}
