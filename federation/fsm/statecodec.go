package fsm

import (
	"encoding/binary"
	"encoding/json"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// JobStateUpdateBin is JobStateUpdate in a binary form: the same fields,
// the same apply, the same result (*structs.Job, or a
// *structs.TransitionError). The hub writes every job's reasons and
// progress with it (the dispatcher's reason for each job it cannot place
// yet, the agents' reports): every replica decodes each of them, and the
// JSON form cost about as much to decode as the binary job of the
// submission before it. It is gated (known.go): a leader writes it only
// when every replica lists it, JobStateUpdate otherwise.
//
// Body: the marker stateUpdateV1, then in the forms of the binary job
// (see jobBinaryV1) ID, Cluster, Number (uvarint), State, Substatus,
// ExitCode (varint), LogTail, Array and Outputs (JSON documents, "" when
// absent: they are rare and nested), ConnectURL, Time (read back in UTC,
// as the binary job's times), ExpectModifyIndex (uvarint), and a flags
// byte: 1 ExpectAbsent, 2 Account; no other bit is set.
// TestStateUpdateCodecCoversEveryField fails when structs.JobStateUpdate
// gains a field this form does not carry. Fields added later follow the
// flags byte, as the binary job's trailing fields do.
type JobStateUpdateBin structs.JobStateUpdate

func (c *JobStateUpdateBin) apply(w *state.WriteTxn) (any, error) {
	return w.UpdateJobState((*structs.JobStateUpdate)(c))
}

const stateUpdateV1 byte = 0x01

// The flags byte's bits.
const (
	flagExpectAbsent byte = 1 << iota
	flagAccount
	stateUpdateFlags = flagExpectAbsent | flagAccount
)

// stateUpdateSize bounds the size of u's body but for its JSON
// documents: the marker, six strings with their length prefixes, the two
// documents' prefixes, three varints, the time and the flags byte.
func stateUpdateSize(u *JobStateUpdateBin) int {
	const v = binary.MaxVarintLen64
	return 1 + 6*v + len(u.ID) + len(u.Cluster) + len(u.State) + len(u.Substatus) + len(u.LogTail) + len(u.ConnectURL) +
		2 + 3*v + (1 + 2*v) + 1
}

// appendStateUpdate appends u's body to b. It fails only when a JSON
// document does not encode (a time JSON cannot write, a float that is
// not a number), as the JSON form of the command would.
func appendStateUpdate(b []byte, u *JobStateUpdateBin) ([]byte, error) {
	var arrayDoc, outDoc []byte
	var err error
	if u.Array != nil {
		if arrayDoc, err = json.Marshal(u.Array); err != nil {
			return nil, err
		}
	}
	if len(u.Outputs) > 0 {
		if outDoc, err = json.Marshal(u.Outputs); err != nil {
			return nil, err
		}
	}
	b = append(b, stateUpdateV1)
	b = appendString(b, u.ID)
	b = appendString(b, u.Cluster)
	b = binary.AppendUvarint(b, u.Number)
	b = appendString(b, string(u.State))
	b = appendString(b, u.Substatus)
	b = binary.AppendVarint(b, int64(u.ExitCode))
	b = appendString(b, u.LogTail)
	b = appendBytes(b, arrayDoc)
	b = appendBytes(b, outDoc)
	b = appendString(b, u.ConnectURL)
	b = appendTime(b, u.Time)
	b = binary.AppendUvarint(b, u.ExpectModifyIndex)
	var flags byte
	if u.ExpectAbsent {
		flags |= flagExpectAbsent
	}
	if u.Account {
		flags |= flagAccount
	}
	return append(b, flags), nil
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeStateUpdate reads a body of appendStateUpdate into u, interning
// its names in in (nil: none).
func decodeStateUpdate(body []byte, u *JobStateUpdateBin, in *interner) error {
	r := jobReader{b: body, in: in}
	if r.byte() != stateUpdateV1 {
		return errJobBody
	}
	r.str(&u.ID)
	u.Cluster = r.name()
	u.Number = r.uvarint()
	u.State = structs.JobState(r.name())
	u.Substatus = r.name()
	u.ExitCode = r.int()
	r.str(&u.LogTail)
	arrayDoc, outDoc := r.bytes(), r.bytes()
	r.str(&u.ConnectURL)
	u.Time = r.time()
	u.ExpectModifyIndex = r.uvarint()
	flags := r.byte()
	if flags&^stateUpdateFlags != 0 {
		r.fail()
	}
	u.ExpectAbsent, u.Account = flags&flagExpectAbsent != 0, flags&flagAccount != 0
	if err := r.finish(); err != nil {
		return err
	}
	if arrayDoc != nil {
		u.Array = new(structs.ArrayProgress)
		if json.Unmarshal(arrayDoc, u.Array) != nil {
			return errJobBody
		}
	}
	if outDoc != nil {
		if json.Unmarshal(outDoc, &u.Outputs) != nil || len(u.Outputs) == 0 {
			return errJobBody
		}
	}
	return nil
}
