package fsm

import (
	"fmt"
	"runtime"
	"testing"
	"time"

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
	// A RUNNING job receiving progress updates.
	benchmarkStateUpdate(b, &JobStateUpdate{ID: "j-2", Cluster: "east", State: structs.JobRunning, Substatus: "step", Time: t0})
}

// benchmarkStateUpdate applies the encoded update cmd, one per entry, to
// the base state.
func benchmarkStateUpdate(b *testing.B, update Command) {
	f := newFSM(b)
	applyAll(b, f, baseLog(b))
	cmd := MustEncode(update)
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

// BenchmarkApplyJobStateUpdateBin is BenchmarkApplyJobStateUpdate with the
// binary form (JobStateUpdateBin) the hub writes once every replica
// applies it.
func BenchmarkApplyJobStateUpdateBin(b *testing.B) {
	benchmarkStateUpdate(b, &JobStateUpdateBin{ID: "j-2", Cluster: "east", State: structs.JobRunning, Substatus: "step", Time: t0})
}

// BenchmarkQueuedJobHeap measures the heap a queued job holds on a
// replica, as the hub benchmark leaves 20,000 of them: each an audited
// REST submission (JobAudited) and then the dispatcher's reason for it
// (a state update, JSON or binary), 22 to an entry. It reports the live
// heap after a collection, per job (heap-B/job). One iteration builds the
// whole state; run it with -benchtime 1x.
func BenchmarkQueuedJobHeap(b *testing.B) {
	for name, binary := range map[string]bool{"json": false, "binary": true} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				benchmarkQueuedHeap(b, binary)
			}
		})
	}
}

func benchmarkQueuedHeap(b *testing.B, binary bool) {
	const jobs, perEntry = 20000, 22
	var cmds [][]byte
	for i := range jobs {
		j := testJob(fmt.Sprintf("j-bench-%d-%d", i%64, i))
		j.Tenant, j.Team, j.Owner, j.Parameters, j.State = "acme", "", "alice", nil, structs.JobQueued
		j.Identity = &structs.Identity{UID: 1000, GID: 1000}
		cmds = append(cmds, MustEncode(&JobAudited{Job: &JobSubmit{Job: j}, Event: structs.AuditEvent{
			ID: structs.NewAuditID(), Time: t0, Actor: "alice", Tenant: "acme", Action: "job.submit",
			ObjectKind: "job", Outcome: "success", Status: 201, Source: "127.0.0.1"}}))
	}
	for i := range jobs {
		u := &JobStateUpdate{ID: fmt.Sprintf("j-bench-%d-%d", i%64, i), State: structs.JobQueued,
			Substatus: "no cluster has capacity for machine type n3 now", Time: t0.Add(time.Second)}
		var c Command = u
		if binary {
			c = (*JobStateUpdateBin)(u)
		}
		cmds = append(cmds, MustEncode(c))
	}
	f := newFSM(b)
	applyAll(b, f, baseLog(b))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < len(cmds); i += perEntry {
		res := f.ApplyShared(uint64(100+i), cmds[i:min(i+perEntry, len(cmds))])
		if err, ok := res[0].(error); ok {
			b.Fatal(err)
		}
	}
	cmds = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/jobs, "heap-B/job")
	runtime.KeepAlive(f)
}
