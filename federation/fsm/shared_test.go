package fsm

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSharedResults: ApplyShared hands back a submission's job shared with
// the store (a Detach method, no copy made), for each of the submission
// commands and audited; ApplyCommands hands back the caller's own copy,
// which it may change without changing the store; an error stays an
// error in both.
func TestSharedResults(t *testing.T) {
	f := newFSM(t)
	applyAll(t, f, baseLog(t))
	ext, list := testJob("ext"), testJob("list")
	extend(&ext)
	withList(&list)
	audited := &JobAudited{Job: &JobSubmit{Job: testJob("audited")}, Event: structs.AuditEvent{
		ID: structs.NewAuditID(), Time: t0, Actor: "alice", Tenant: "acme", Action: "job.submit",
		ObjectKind: "job", Outcome: "success", Status: 201}}
	cmds := enc(t, &JobSubmit{Job: testJob("plain")}, (*JobSubmitExt)(&JobSubmit{Job: ext}),
		(*JobSubmitArrayList)(&JobSubmit{Job: list}), audited, &JobSubmit{Job: testJob("plain")})
	res := f.ApplyShared(100, cmds)
	for i, id := range []string{"plain", "ext", "list", "audited"} {
		s, ok := res[i].(sharedResult)
		if !ok {
			t.Fatalf("%s: ApplyShared result %T, want a shared job", id, res[i])
		}
		stored, err := f.Store().Read().Job(id)
		if err != nil {
			t.Fatal(err)
		}
		own := s.Detach().(*structs.Job)
		if own == s.job {
			t.Errorf("%s: Detach returned the stored job itself", id)
		}
		if d := cmp.Diff(stored, own); d != "" {
			t.Errorf("%s: detached job differs from the stored one:\n%s", id, d)
		}
	}
	if _, ok := res[4].(error); !ok {
		t.Fatalf("duplicate submission: %T, want an error", res[4])
	}
	if ev, _, err := f.Store().Read().ListAudit(state.RecordFilter{}); err != nil || len(ev) != 1 || ev[0].ObjectName != "audited" {
		t.Fatalf("audit trail: %+v, %v", ev, err)
	}

	res = f.ApplyCommands(101, enc(t, &JobSubmit{Job: testJob("own")}))
	j, ok := res[0].(*structs.Job)
	if !ok {
		t.Fatalf("ApplyCommands result %T, want *structs.Job", res[0])
	}
	j.Name, j.Parameters["np"] = "changed", "1"
	stored, err := f.Store().Read().Job("own")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Name == "changed" || stored.Parameters["np"] != "32" {
		t.Fatalf("changing ApplyCommands' job changed the store: %+v", stored)
	}
}
