package fsm

import (
	"encoding/json"
	"fmt"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Version is the encoding version Encode writes and Decode accepts.
//
// An encoded command is: 1 byte version, 1 byte CommandType, then the
// command as JSON (JobSubmit: a compact binary form, see jobBinaryV1;
// JobAudited and JobStateUpdateBin: see their types). A new version is needed for any change old replicas
// would apply differently; adding a command type needs none (old replicas
// reject it, so roll replicas forward before writers use it). The CAS
// fields of upserts were added within version 1: a replica built before
// them ignores them and would apply a refused write, so likewise upgrade
// every replica before any replica serves the API that sets them. The
// same holds for the preconditions of JobAssignment and JobStateUpdate (the
// dispatcher sets them), for JobPurge's cutoff form (an older replica
// reads it as a purge of nothing) and for the Account flag of
// JobStateUpdate, JobCancel and JobPurge (an older replica writes no
// record, or the short one, where newer ones write the complete one).
// ClusterHeartbeat's Catalog (an agent's catalog report) was added within
// version 1 too: an older replica drops it, so its copy of the cluster
// lacks the report (placement there ignores the apps' architectures)
// until it is upgraded and the agent sends the report again (on a change,
// and every five minutes).
const Version byte = 1

// Encode returns the log entry bytes of cmd, a registered command.
func Encode(cmd Command) ([]byte, error) {
	reg := registry.of(cmd)
	if reg == nil {
		return nil, structs.Errorf(structs.ErrInvalid, "encode: %T is not a registered command", cmd)
	}
	if u, ok := cmd.(*JobStateUpdateBin); ok { // one buffer, of the right size
		out := make([]byte, 2, 2+stateUpdateSize(u))
		out[0], out[1] = Version, byte(reg.typ)
		out, err := appendStateUpdate(out, u)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", reg.typ, err)
		}
		return out, nil
	}
	var body []byte
	if js, ok := cmd.(*JobSubmit); ok {
		if err := checkPlainSubmit(reg.typ, js); err != nil {
			return nil, err
		}
		body = encodeJobSubmit(js) // see jobBinaryV1
	} else if jx, ok := cmd.(*JobSubmitExt); ok {
		if err := checkNoList(reg.typ, &jx.Job); err != nil {
			return nil, err
		}
		body = encodeJobSubmit((*JobSubmit)(jx))
	} else if jl, ok := cmd.(*JobSubmitArrayList); ok {
		body = encodeJobSubmit((*JobSubmit)(jl))
	} else if ja, ok := cmd.(*JobAudited); ok {
		var err error
		if body, err = encodeAudited(ja); err != nil {
			return nil, fmt.Errorf("encode %s: %w", reg.typ, err)
		}
	} else {
		var err error
		if body, err = json.Marshal(cmd); err != nil {
			return nil, fmt.Errorf("encode %s: %w", reg.typ, err)
		}
	}
	out := make([]byte, 2, 2+len(body))
	out[0], out[1] = Version, byte(reg.typ)
	return append(out, body...), nil
}

// MustEncode is Encode for commands built in code, e.g. in tests; it
// panics on error.
func MustEncode(cmd Command) []byte {
	b, err := Encode(cmd)
	if err != nil {
		panic(err)
	}
	return b
}

// Decode parses log entry bytes into a pointer to a command struct. Bad
// input yields an ErrInvalid error, never a panic.
func Decode(b []byte) (Command, error) { return decode(b, nil) }

// decode is Decode, interning the names of the binary forms in in (an
// FSM's table; nil: none).
func decode(b []byte, in *interner) (Command, error) {
	if len(b) < 2 {
		return nil, structs.Errorf(structs.ErrInvalid, "command: %d bytes, want a 2-byte header", len(b))
	}
	if b[0] != Version {
		return nil, structs.Errorf(structs.ErrInvalid, "command: version %d, want %d", b[0], Version)
	}
	t := CommandType(b[1])
	cmd := t.New()
	if cmd == nil {
		return nil, structs.Errorf(structs.ErrInvalid, "command: unknown type %d", b[1])
	}
	if js, ok := cmd.(*JobSubmit); ok && len(b) > 2 && b[2] == jobBinaryV1 {
		if err := decodeJobSubmit(b[2:], js, in); err != nil {
			return nil, structs.Errorf(structs.ErrInvalid, "command %s: %v", t, err)
		}
		if err := checkPlainSubmit(t, js); err != nil {
			return nil, err
		}
		return cmd, nil
	}
	if jx, ok := cmd.(*JobSubmitExt); ok {
		if err := decodeJobSubmit(b[2:], (*JobSubmit)(jx), in); err != nil {
			return nil, structs.Errorf(structs.ErrInvalid, "command %s: %v", t, err)
		}
		if err := checkNoList(t, &jx.Job); err != nil {
			return nil, err
		}
		return cmd, nil
	}
	if jl, ok := cmd.(*JobSubmitArrayList); ok {
		if err := decodeJobSubmit(b[2:], (*JobSubmit)(jl), in); err != nil {
			return nil, structs.Errorf(structs.ErrInvalid, "command %s: %v", t, err)
		}
		return cmd, nil
	}
	if u, ok := cmd.(*JobStateUpdateBin); ok {
		if err := decodeStateUpdate(b[2:], u, in); err != nil {
			return nil, structs.Errorf(structs.ErrInvalid, "command %s: %v", t, err)
		}
		return cmd, nil
	}
	if ja, ok := cmd.(*JobAudited); ok {
		if err := decodeAudited(b[2:], ja, in); err != nil {
			return nil, structs.Errorf(structs.ErrInvalid, "command %s: %v", t, err)
		}
		return cmd, nil
	}
	if err := json.Unmarshal(b[2:], cmd); err != nil {
		return nil, structs.Errorf(structs.ErrInvalid, "command %s: %v", t, err)
	}
	if js, ok := cmd.(*JobSubmit); ok {
		if err := checkPlainSubmit(t, js); err != nil {
			return nil, err
		}
	}
	return cmd, nil
}

// checkPlainSubmit refuses a JobSubmit carrying JobSubmitExt's fields, as
// a replica on an older binary refuses (binary) or drops (JSON) them, or
// an index list (see checkNoList): no writer makes one, and every replica
// must apply an entry alike.
func checkPlainSubmit(t CommandType, js *JobSubmit) error {
	if js.Job.HasSubmitExtensions() {
		return structs.Errorf(structs.ErrInvalid, "command %s: job %q carries fields of JobSubmitExt", t, js.Job.ID)
	}
	return checkNoList(t, &js.Job)
}

// checkNoList refuses a job whose array is an index list in a command
// other than JobSubmitArrayList: a replica on a binary from before lists
// refuses such a spec when it decodes the job, so no writer makes one.
func checkNoList(t CommandType, j *structs.Job) error {
	if j.HasArrayList() {
		return structs.Errorf(structs.ErrInvalid, "command %s: job %q has an array index list: JobSubmitArrayList carries it", t, j.ID)
	}
	return nil
}
