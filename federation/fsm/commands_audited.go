package fsm

import (
	"encoding/binary"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// JobAudited is a job command of an audited API call (a JobSubmit or a
// JobCancel) together with the call's audit event, in one log entry, so
// that the call costs one raft write instead of two. When the job command
// succeeds the event is stored with it, its object named after the job if
// it names none; when it fails nothing is stored and the caller records
// the event (with the failure) on its own, under the same ID. An event
// whose ID is stored already (an earlier attempt of the same call was
// applied) is not stored again: the job command then applies alone, and
// fails as a repeat, which the writer resolves as it does for the bare
// command. Result: *structs.Job.
//
// Encoding (after the 2-byte header): the marker auditedV1, the event in
// binary (appendAuditEvent) behind its uvarint length, then the job
// command encoded whole (header included); no job command for the zero
// value.
type JobAudited struct {
	Job   Command // *JobSubmit or *JobCancel
	Event structs.AuditEvent
}

const auditedV1 byte = 0x01

// jobAuditedType is JobAudited's number (from the range 80-84 given to
// performance work).
const jobAuditedType CommandType = 80

func (c *JobAudited) apply(w *state.WriteTxn) (any, error) {
	switch c.Job.(type) {
	case *JobSubmit, *JobCancel:
	default:
		return nil, structs.Errorf(structs.ErrInvalid, "audited command: %T is not a job submission or cancel", c.Job)
	}
	// A command is decoded for one apply: the store keeps its event
	// itself (no copy).
	ev := &c.Event
	if ev.ObjectName == "" {
		ev.ObjectName = c.jobID()
	}
	fresh, err := w.AuditAbsent(ev)
	if err != nil {
		return nil, err
	}
	v, err := c.Job.apply(w)
	if err != nil || !fresh {
		return v, err
	}
	if err := w.AppendAbsentAudit(ev); err != nil {
		return nil, err
	}
	return v, nil
}

// jobID is the ID of the job the command acts on.
func (c *JobAudited) jobID() string {
	switch j := c.Job.(type) {
	case *JobSubmit:
		return j.Job.ID
	case *JobCancel:
		return j.ID
	}
	return ""
}

func encodeAudited(c *JobAudited) ([]byte, error) {
	var inner []byte
	if c.Job != nil {
		if _, ok := c.Job.(*JobAudited); ok {
			return nil, structs.Errorf(structs.ErrInvalid, "audited command: nested")
		}
		var err error
		if inner, err = Encode(c.Job); err != nil {
			return nil, err
		}
	}
	ev := appendAuditEvent(make([]byte, 0, 160), &c.Event)
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(ev)+len(inner))
	b = append(b, auditedV1)
	b = binary.AppendUvarint(b, uint64(len(ev)))
	b = append(b, ev...)
	return append(b, inner...), nil
}

// appendAuditEvent writes e's fields in declaration order, in the forms
// of the binary job (see jobBinaryV1). TestJobAuditedCodec fails when
// AuditEvent gains a field this does not carry.
func appendAuditEvent(b []byte, e *structs.AuditEvent) []byte {
	b = binary.AppendUvarint(b, e.CreateIndex)
	b = binary.AppendUvarint(b, e.ModifyIndex)
	b = appendString(b, e.ID)
	b = binary.AppendUvarint(b, e.Seq)
	b = appendTime(b, e.Time)
	for _, s := range [...]string{e.Actor, e.Tenant, e.Action, e.ObjectKind, e.ObjectName, e.Outcome, e.Detail, e.Source} {
		b = appendString(b, s)
	}
	return binary.AppendVarint(b, int64(e.Status))
}

func readAuditEvent(body []byte, e *structs.AuditEvent, in *interner) error {
	r := jobReader{b: body, in: in}
	e.CreateIndex = r.uvarint()
	e.ModifyIndex = r.uvarint()
	r.str(&e.ID)
	e.Seq = r.uvarint()
	e.Time = r.time()
	e.Actor = r.name()
	e.Tenant = r.name()
	e.Action = r.name()
	e.ObjectKind = r.name()
	r.str(&e.ObjectName)
	e.Outcome = r.name()
	r.str(&e.Detail)
	e.Source = r.name()
	e.Status = r.int()
	return r.finish()
}

func decodeAudited(body []byte, c *JobAudited, in *interner) error {
	if len(body) < 1 || body[0] != auditedV1 {
		return structs.Errorf(structs.ErrInvalid, "audited command: unknown form")
	}
	n, k := binary.Uvarint(body[1:])
	if k <= 0 || n > uint64(len(body)-1-k) {
		return structs.Errorf(structs.ErrInvalid, "audited command: truncated event")
	}
	rest := body[1+k:]
	if err := readAuditEvent(rest[:n], &c.Event, in); err != nil {
		return structs.Errorf(structs.ErrInvalid, "audited command: event: %v", err)
	}
	if inner := rest[n:]; len(inner) > 0 {
		if len(inner) >= 2 && CommandType(inner[1]) == jobAuditedType {
			return structs.Errorf(structs.ErrInvalid, "audited command: nested")
		}
		cmd, err := decode(inner, in)
		if err != nil {
			return err
		}
		c.Job = cmd
	}
	return nil
}
