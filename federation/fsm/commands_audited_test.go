package fsm

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// auditedEvent is the event an API call hands to its job command.
func auditedEvent(id string) structs.AuditEvent {
	return structs.AuditEvent{ID: id, Time: t0, Actor: "alice", Tenant: "acme", Action: "job.submit",
		ObjectKind: "job", Outcome: "ok", Status: 200, Source: "10.1.2.3"}
}

// jobAndAudit reads a job's state and an audit event.
func jobAndAudit(jobID, eventID string) func(r *state.ReadTxn) any {
	return func(r *state.ReadTxn) any {
		var st structs.JobState
		if j, err := r.Job(jobID); err == nil {
			st = j.State
		}
		ev, _ := r.AuditEvent(eventID)
		return []any{st, ev}
	}
}

// auditedApplyCases is JobAudited's case of TestApplyRoundTrip.
func auditedApplyCases() map[string]applyCase {
	return map[string]applyCase{
		"audited submit": {cmd: &JobAudited{Job: &JobSubmit{Job: testJob("j-9")}, Event: auditedEvent("ev-9")},
			read: jobRead("j-9"), want: func() *structs.Job {
				j := testJob("j-9")
				j.RaftIndex, j.Number, j.Name = created, 4, structs.JobName("alice", t0, 4)
				j.State, j.Priority = structs.JobSubmitted, structs.PriorityNormal
				return &j
			}()},
	}
}

// TestJobAuditedApply: a job command and its call's audit event in one
// entry are stored together or not at all, and an event stored before
// is not stored again.
func TestJobAuditedApply(t *testing.T) {
	for name, tc := range auditedEffectCases() {
		t.Run(name, func(t *testing.T) {
			f := newFSM(t)
			applyAll(t, f, baseLog(t))
			if tc.before != nil {
				applyAll(t, f, []entry{{99, enc(t, tc.before...)}})
			}
			raw := tc.raw
			if tc.cmd != nil {
				raw = MustEncode(tc.cmd)
			}
			res := f.ApplyCommands(100, [][]byte{raw})[0]
			err, _ := res.(error)
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) || tc.wantErr == nil && err != nil {
				t.Fatalf("result %v, want error %v", res, tc.wantErr)
			}
			if tc.read == nil {
				return
			}
			if diff := cmp.Diff(tc.want, tc.read(f.Store().Read())); diff != "" {
				t.Errorf("after apply (-want +got):\n%s", diff)
			}
		})
	}
}

func auditedEffectCases() map[string]applyCase {
	stored := func(id, object string, idx uint64) *structs.AuditEvent {
		e := auditedEvent(id)
		e.ObjectName, e.Seq, e.RaftIndex = object, 1, structs.RaftIndex{CreateIndex: idx, ModifyIndex: idx}
		return &e
	}
	cancel := auditedEvent("ev-c")
	cancel.Action = "job.cancel"
	return map[string]applyCase{
		"audited submit: job and event": {cmd: &JobAudited{Job: &JobSubmit{Job: testJob("j-9")}, Event: auditedEvent("ev-9")},
			read: jobAndAudit("j-9", "ev-9"), want: []any{structs.JobSubmitted, stored("ev-9", "j-9", 100)}},
		"audited submit refused: neither": {cmd: &JobAudited{Job: &JobSubmit{Job: testJob("j-1")}, Event: auditedEvent("ev-9")},
			wantErr: structs.ErrConflict, read: jobAndAudit("j-1", "ev-9"), want: []any{structs.JobSubmitted, (*structs.AuditEvent)(nil)}},
		"audited cancel: job and event": {cmd: &JobAudited{Job: &JobCancel{ID: "j-2", Reason: "user", Time: t0.Add(time.Hour)}, Event: cancel},
			read: jobAndAudit("j-2", "ev-c"), want: []any{structs.JobTerminated, func() *structs.AuditEvent {
				e := stored("ev-c", "j-2", 100)
				e.Action = "job.cancel"
				return e
			}()}},
		"audited submit, event stored by an earlier attempt: the job alone": {
			before: []Command{&AuditAppend{Event: func() structs.AuditEvent { e := auditedEvent("ev-9"); e.ObjectName = "j-9"; return e }()}},
			cmd:    &JobAudited{Job: &JobSubmit{Job: testJob("j-9")}, Event: auditedEvent("ev-9")},
			read:   jobAndAudit("j-9", "ev-9"), want: []any{structs.JobSubmitted, stored("ev-9", "j-9", 99)}},
		"audited submit, invalid event: neither": {cmd: &JobAudited{Job: &JobSubmit{Job: testJob("j-9")},
			Event: structs.AuditEvent{ID: "ev-9", Time: t0, Action: "job.submit"}},
			wantErr: structs.ErrInvalid, read: jobAndAudit("j-9", "ev-9"), want: []any{structs.JobState(""), (*structs.AuditEvent)(nil)}},
		"audited, not a job command": {cmd: &JobAudited{Job: &TenantUpsert{Tenant: structs.Tenant{Name: "x"}}, Event: auditedEvent("ev-9")},
			wantErr: structs.ErrInvalid, read: jobAndAudit("", "ev-9"), want: []any{structs.JobState(""), (*structs.AuditEvent)(nil)}},
		"audited, nested": {raw: append([]byte{Version, byte(jobAuditedType), auditedV1, 2, '{', '}'},
			MustEncode(&JobAudited{Job: &JobSubmit{Job: testJob("j-9")}, Event: auditedEvent("ev-9")})...),
			wantErr: structs.ErrInvalid},
		"audited, truncated event": {raw: []byte{Version, byte(jobAuditedType), auditedV1, 50, '{', '}'}, wantErr: structs.ErrInvalid},
	}
}

// TestJobAuditedCodec: the command decodes to what was encoded, and its
// result type is the job command's.
func TestJobAuditedCodec(t *testing.T) {
	in := &JobAudited{Job: &JobSubmit{Job: testJob("j-9")}, Event: auditedEvent("ev-9")}
	b := MustEncode(in)
	out, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-in +out):\n%s", diff)
	}
	if again := MustEncode(out); !bytes.Equal(b, again) {
		t.Error("re-encoding differs")
	}
	v, err := DecodeResult(jobAuditedType, []byte(`{"id":"j-9","number":4}`))
	if j, ok := v.(*structs.Job); err != nil || !ok || j.Number != 4 {
		t.Errorf("result: %#v, %v", v, err)
	}
	if _, err := Encode(&JobAudited{Job: in}); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("nested: %v", err)
	}
	// Every field of the event survives the binary form.
	full := &JobAudited{Job: &JobCancel{ID: "j-1", Time: t0}}
	seed := 0
	fillAll(t, reflect.ValueOf(&full.Event).Elem(), &seed)
	back, err := Decode(MustEncode(full))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(full, back); diff != "" {
		t.Errorf("event fields lost (-want +got):\n%s", diff)
	}
	// Malformed events are refused, never a panic.
	enc := MustEncode(full)
	for n := 3; n < len(enc); n++ {
		if _, err := Decode(enc[:n]); err == nil && n < len(enc)-len(MustEncode(full.Job)) {
			t.Errorf("truncated at %d of %d: decoded", n, len(enc))
		}
	}
}
