package state

import (
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
