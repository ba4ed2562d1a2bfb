package fsm

import (
	"fmt"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// TestJobEndAccounted: an update or cancel that ends a job with Account set
// writes its complete accounting record in the same entry, priced at the
// machine type's price then; replaying it, or purging the job later, keeps
// the first record; without Account (entries of older hubs) nothing is
// written until the purge.
func TestJobEndAccounted(t *testing.T) {
	priced := &MachineTypeUpsert{MachineType: structs.MachineType{Name: "n3", Cores: 16, GPUs: 2, Slots: 16, RAM: 64, Cluster: "east", Price: 1.5}}
	repriced := &MachineTypeUpsert{MachineType: structs.MachineType{Name: "n3", Cores: 16, GPUs: 2, Slots: 16, RAM: 64, Cluster: "east", Price: 9}}
	end := &JobStateUpdate{ID: "j-2", Cluster: "east", State: structs.JobCompletedWithError, ExitCode: 3,
		Time: t0.Add(92 * time.Minute), Account: true}
	want := &structs.AccountingRecord{RaftIndex: structs.RaftIndex{CreateIndex: 11, ModifyIndex: 11}, ID: "job-2", Seq: 1,
		JobID: "j-2", JobNumber: 2, JobName: structs.JobName("alice", t0, 2), Tenant: "acme", Team: "cfd", User: "alice",
		App: "solver", MachineType: "n3", Cluster: "east", Nodes: 2, Cores: 32, GPUs: 4, State: structs.JobCompletedWithError,
		Start: t0.Add(2 * time.Minute), End: t0.Add(92 * time.Minute), Price: 1.5, Cost: 4.5,
		Command: "run", Submit: t0, ExitCode: 3, NodeHours: 3, CoreHours: 48, GPUHours: 6}
	tests := map[string]struct {
		log     []entry
		record  string
		want    *structs.AccountingRecord
		wantErr error
	}{
		"accounted at the end": {log: []entry{{10, enc(t, priced)}, {11, enc(t, end)}, {12, enc(t, repriced)}},
			record: "job-2", want: want},
		"replayed end keeps the first": {log: []entry{{10, enc(t, priced)}, {11, enc(t, end)}, {12, enc(t, repriced)},
			{13, enc(t, end)}, {14, enc(t, &JobPurge{IDs: []string{"j-2"}, Account: true})}},
			record: "job-2", want: want},
		"not accounted without the flag": {log: []entry{{10, enc(t, priced)},
			{11, enc(t, &JobStateUpdate{ID: "j-2", Cluster: "east", State: structs.JobCompleted, Time: t0.Add(92 * time.Minute)})}},
			record: "job-2", wantErr: structs.ErrNotFound},
		"purge writes the complete record": {log: []entry{{10, enc(t, priced)},
			{11, enc(t, &JobStateUpdate{ID: "j-2", Cluster: "east", State: structs.JobCompletedWithError, ExitCode: 3, Time: t0.Add(92 * time.Minute)})},
			{12, enc(t, &JobPurge{IDs: []string{"j-2"}, Account: true})}},
			record: "job-2", want: func() *structs.AccountingRecord {
				w := *want
				w.RaftIndex = structs.RaftIndex{CreateIndex: 12, ModifyIndex: 12}
				return &w
			}()},
		"cancel accounts": {log: []entry{{10, enc(t, &JobCancel{ID: "j-1", Time: t0.Add(time.Hour), Account: true})}},
			record: "job-1", want: &structs.AccountingRecord{RaftIndex: structs.RaftIndex{CreateIndex: 10, ModifyIndex: 10},
				ID: "job-1", Seq: 1, JobID: "j-1", JobNumber: 1, JobName: structs.JobName("alice", t0, 1), Tenant: "acme",
				Team: "cfd", User: "alice", App: "solver", MachineType: "n3", Nodes: 2, Cores: 32,
				State: structs.JobCanceled, End: t0.Add(time.Hour), Command: "run", Submit: t0}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFSM(t)
			applyAll(t, f, baseLog(t))
			for _, e := range tc.log {
				f.ApplyCommands(e.index, e.cmds)
			}
			got, err := f.Store().Read().Accounting(tc.record)
			if tc.wantErr != nil {
				if structs.KindOf(err) != tc.wantErr {
					t.Fatalf("record %v, %v; want %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
			if u := got.Usage(); u.Cost != got.Cost || u.NodeHours != got.NodeHours {
				t.Errorf("usage %+v disagrees with the record", u)
			}
		})
	}
}

// TestArrayTasksAccounted: an array job's record has its tasks and the
// time they ran (node-hours by slot, slot-hours) from the final progress
// its end carries; a progress update keeps the tasks users canceled.
func TestArrayTasksAccounted(t *testing.T) {
	f := newFSM(t)
	applyAll(t, f, baseLog(t))
	job := testJob("j-9")
	job.Array = &structs.ArrayJob{Spec: structs.ArraySpec{Start: 1, End: 100}}
	final := &structs.ArrayProgress{Total: 100, Succeeded: 98, Failed: 2, SlotSeconds: 7200, NodeSeconds: 450}
	for i, c := range []Command{
		&JobSubmit{Job: job},
		&JobAssignment{ID: "j-9", Cluster: "east", Time: t0.Add(time.Minute)},
		&JobStateUpdate{ID: "j-9", Cluster: "east", State: structs.JobRunning, Time: t0.Add(2 * time.Minute)},
		&JobCancelTasks{ID: "j-9", Tasks: "7", Time: t0.Add(150 * time.Second)},
		&JobStateUpdate{ID: "j-9", Cluster: "east", State: structs.JobRunning, Time: t0.Add(3 * time.Minute),
			Array: &structs.ArrayProgress{Total: 100, Running: 10, Pending: 90}},
		&JobStateUpdate{ID: "j-9", Cluster: "east", State: structs.JobCompletedWithError, ExitCode: 1,
			Time: t0.Add(62 * time.Minute), Array: final, Account: true},
	} {
		for _, res := range f.ApplyCommands(uint64(20+i), enc(t, c)) {
			if err, bad := res.(error); bad {
				t.Fatalf("command %d: %v", i, err)
			}
		}
	}
	j, err := f.Store().Read().Job("j-9")
	if err != nil {
		t.Fatal(err)
	}
	if j.Array == nil || j.Array.CancelTasks != "7" {
		t.Errorf("the progress updates lost the canceled tasks: %+v", j.Array)
	}
	rec, err := f.Store().Read().Accounting(fmt.Sprintf("job-%d", j.Number))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Tasks != 100 || rec.TaskSlotHours != 2 || rec.TaskNodeHours != 0.125 || rec.NodeHours != 2 {
		t.Errorf("record %+v: want 100 tasks, 2 slot-hours, 0.125 node-hours of tasks, 2 node-hours held", rec)
	}
}
