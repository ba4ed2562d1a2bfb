package fsm

import (
	"fmt"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// submits returns n encoded JobSubmit commands with distinct IDs.
func submits(b *testing.B, n, offset int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = MustEncode(&JobSubmit{Job: testJob(fmt.Sprintf("bench-%09d", offset+i))})
	}
	return out
}

func benchmarkSubmit(b *testing.B, perEntry int) {
	f := newFSM(b)
	applyAll(b, f, baseLog(b))
	cmds := submits(b, b.N*perEntry, 0)
	b.ResetTimer()
	b.ReportAllocs()
	for i := range b.N {
		res := f.ApplyCommands(uint64(100+i), cmds[i*perEntry:(i+1)*perEntry])
		if _, ok := res[0].(*structs.Job); !ok {
			b.Fatal(res[0])
		}
	}
	b.ReportMetric(float64(b.N*perEntry)/b.Elapsed().Seconds(), "jobs/s")
}

func BenchmarkApplyJobSubmit(b *testing.B)        { benchmarkSubmit(b, 1) }
func BenchmarkApplyJobSubmitBatch64(b *testing.B) { benchmarkSubmit(b, 64) }

func BenchmarkApplyJobStateUpdate(b *testing.B) {
	f := newFSM(b)
	applyAll(b, f, baseLog(b))
	// A RUNNING job receiving progress updates.
	cmd := MustEncode(&JobStateUpdate{ID: "j-2", Cluster: "east", State: structs.JobRunning, Substatus: "step", Time: t0})
	b.ReportAllocs()
	for i := range b.N {
		if _, ok := f.ApplyCommands(uint64(100+i), [][]byte{cmd})[0].(*structs.Job); !ok {
			b.Fatal("update failed")
		}
	}
}

func BenchmarkEncodeJobSubmit(b *testing.B) {
	cmd := &JobSubmit{Job: testJob("j")}
	b.ReportAllocs()
	for range b.N {
		if _, err := Encode(cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyJobAuditedBatch22 is what each replica applies in the hub
// benchmark: REST submissions with their audit events (JobAudited), about
// 22 to a raft log entry. It reports allocations and time per submission.
// It applies with ApplyCommands, whose results are the caller's own
// copies, as on the leader, whose callers wait for them;
// BenchmarkApplyJobAuditedBatch22Follower applies with ApplyShared, as
// raftnode does on every replica, and drops the results, as a follower
// does.
func BenchmarkApplyJobAuditedBatch22(b *testing.B) { benchmarkAudited(b, false) }

func BenchmarkApplyJobAuditedBatch22Follower(b *testing.B) { benchmarkAudited(b, true) }

func benchmarkAudited(b *testing.B, follower bool) {
	const perEntry = 22
	f := newFSM(b)
	applyAll(b, f, baseLog(b))
	cmds := make([][]byte, b.N*perEntry)
	for i := range cmds {
		id := fmt.Sprintf("bench-%09d", i)
		cmds[i] = MustEncode(&JobAudited{Job: &JobSubmit{Job: testJob(id)}, Event: structs.AuditEvent{
			ID: structs.NewAuditID(), Time: t0, Actor: "alice", Tenant: "acme", Action: "job.submit",
			ObjectKind: "job", Outcome: "success", Status: 201, Source: "10.0.0.9"}})
	}
	b.ResetTimer()
	b.ReportAllocs()
	for i := range b.N {
		entry := cmds[i*perEntry : (i+1)*perEntry]
		if follower {
			if res := f.ApplyShared(uint64(100+i), entry); res[0] == nil {
				b.Fatal("no result")
			} else if _, ok := res[0].(error); ok {
				b.Fatal(res[0])
			}
			continue
		}
		res := f.ApplyCommands(uint64(100+i), entry)
		if _, ok := res[0].(*structs.Job); !ok {
			b.Fatal(res[0])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perEntry)/1000, "µs/job")
}
