package fsm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// JobSubmit is the hub's hottest command: every submission is decoded by
// every replica. Its body is a compact binary form of the job rather than
// JSON (about 5× cheaper to decode). A JSON body (first byte '{', written
// before this form existed) still decodes.
//
// Binary body: the marker byte jobBinaryV1, then the fields of structs.Job
// in declaration order: strings and the Parameters entries (sorted by key)
// as uvarint length + bytes, unsigned numbers as uvarints, signed ones as
// varints, times as a presence byte then varint Unix seconds and uvarint
// nanoseconds (read back in UTC), Identity as a presence byte then its
// fields. TestJobCodecCoversEveryField fails when Job gains a field this
// codec does not carry.
//
// Fields added after version 1 follow LogTail as optional trailing
// fields, in the order added, each written only when it or a later one is
// non-zero: a job without them encodes exactly as in version 1, and a
// version 1 body decodes with them zero. They are: PreviousCluster, Array
// (a JSON document, since it is rare and nested; "" when only later fields
// are set), CallbackURL, Trigger, ConnectURL, RequestID, PullSecret, and
// the fields of JobSubmitExt only (see there): Dependency and Env (JSON
// documents) and Workdir; then Signals and Shares (JSON documents), which
// no submission carries (Job.ValidateSubmit refuses them): they are here
// so that the codec carries every field, and never reach an older replica.
const jobBinaryV1 byte = 0x01

// Bounds that keep a hostile body from allocating much.
const (
	maxJobString = 1 << 20
	maxJobParams = 1 << 12
)

var errJobBody = errors.New("truncated or malformed binary job")

func encodeJobSubmit(c *JobSubmit) []byte {
	j := &c.Job
	b := make([]byte, 0, 256)
	b = append(b, jobBinaryV1)
	b = binary.AppendUvarint(b, j.CreateIndex)
	b = binary.AppendUvarint(b, j.ModifyIndex)
	b = appendString(b, j.ID)
	b = binary.AppendUvarint(b, j.Number)
	b = appendString(b, j.Name)
	b = appendString(b, j.Label)
	b = appendString(b, j.Project)
	b = appendString(b, j.Tenant)
	b = appendString(b, j.Team)
	b = appendString(b, j.Owner)
	b = appendString(b, j.App)
	b = appendString(b, j.Command)
	keys := make([]string, 0, len(j.Parameters))
	for k := range j.Parameters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, j.Parameters[k])
	}
	b = appendString(b, j.MachineType)
	b = binary.AppendVarint(b, int64(j.Nodes))
	b = appendString(b, j.Vault)
	b = binary.AppendVarint(b, int64(j.Walltime))
	b = appendString(b, string(j.Priority))
	if j.Identity == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, int64(j.Identity.UID))
		b = binary.AppendVarint(b, int64(j.Identity.GID))
		b = appendString(b, j.Identity.Group)
	}
	b = appendString(b, string(j.State))
	b = appendString(b, j.Substatus)
	b = binary.AppendVarint(b, int64(j.ExitCode))
	b = appendString(b, j.Cluster)
	b = appendString(b, j.AssignedMachineType)
	b = appendString(b, j.BurstRule)
	for _, t := range [...]time.Time{j.SubmitTime, j.AssignTime, j.StartTime, j.EndTime} {
		b = appendTime(b, t)
	}
	b = appendString(b, j.LogTail)
	// Trailing fields: written up to the last non-empty one.
	tail := [...]string{j.PreviousCluster, jsonDoc(j.Array != nil, j.Array), j.CallbackURL, j.Trigger, j.ConnectURL,
		j.RequestID, j.PullSecret, jsonDoc(j.Dependency != nil, j.Dependency), jsonDoc(len(j.Env) > 0, j.Env), j.Workdir,
		jsonDoc(len(j.Signals) > 0, j.Signals), jsonDoc(len(j.Shares) > 0, j.Shares)}
	last := -1
	for i, f := range tail {
		if f != "" {
			last = i
		}
	}
	for _, f := range tail[:last+1] {
		b = appendString(b, f)
	}
	return b
}

// decodeJobSubmit reads a binary job body into c, interning its names in
// in (nil: none).
func decodeJobSubmit(body []byte, c *JobSubmit, in *interner) error {
	r := jobReader{b: body, in: in}
	if r.byte() != jobBinaryV1 {
		return errJobBody
	}
	j := &c.Job
	j.CreateIndex = r.uvarint()
	j.ModifyIndex = r.uvarint()
	r.str(&j.ID)
	j.Number = r.uvarint()
	r.str(&j.Name)
	j.Label = r.name()
	j.Project = r.name()
	j.Tenant = r.name()
	j.Team = r.name()
	j.Owner = r.name()
	j.App = r.name()
	j.Command = r.name()
	if n := r.uvarint(); n > 0 && r.err == nil {
		if n > maxJobParams || n > uint64(len(r.b)) {
			return errJobBody
		}
		j.Parameters = make(map[string]string, n)
		r.params = j.Parameters
		var prev []byte
		for i := range n {
			k := r.bytes()
			v := r.bytes()
			if r.err != nil {
				break
			}
			if i > 0 && string(k) <= string(prev) { // sorted and unique, as encoded
				return errJobBody
			}
			key := r.in.intern(k)
			j.Parameters[key], prev = "", k
			r.later(v, nil, key)
		}
	}
	j.MachineType = r.name()
	j.Nodes = r.int()
	j.Vault = r.name()
	j.Walltime = structs.Duration(r.varint())
	j.Priority = structs.PriorityClass(r.name())
	switch r.byte() {
	case 0:
	case 1:
		j.Identity = &structs.Identity{UID: r.int(), GID: r.int(), Group: r.name()}
	default:
		r.fail()
	}
	j.State = structs.JobState(r.name())
	j.Substatus = r.name()
	j.ExitCode = r.int()
	j.Cluster = r.name()
	j.AssignedMachineType = r.name()
	j.BurstRule = r.name()
	j.SubmitTime = r.time()
	j.AssignTime = r.time()
	j.StartTime = r.time()
	j.EndTime = r.time()
	r.str(&j.LogTail)
	// The trailing fields, in order (see jobBinaryV1); the JSON documents
	// are views of the body, parsed below.
	var arrayDoc, depDoc, envDoc, sigDoc, shareDoc []byte
	for i := 0; i < 12 && r.err == nil && len(r.b) > 0; i++ {
		b := r.bytes()
		if r.err == nil && len(b) == 0 && len(r.b) == 0 {
			return errJobBody // an empty trailing field is never written last
		}
		switch i {
		case 0:
			j.PreviousCluster = r.in.intern(b)
		case 1:
			arrayDoc = b
		case 2:
			r.later(b, &j.CallbackURL, "")
		case 3:
			j.Trigger = r.in.intern(b)
		case 4:
			r.later(b, &j.ConnectURL, "")
		case 5:
			r.later(b, &j.RequestID, "")
		case 6:
			r.later(b, &j.PullSecret, "")
		case 7:
			depDoc = b
		case 8:
			envDoc = b
		case 9:
			r.later(b, &j.Workdir, "")
		case 10:
			sigDoc = b
		case 11:
			shareDoc = b
		}
	}
	if err := r.finish(); err != nil {
		return err
	}
	if arrayDoc != nil {
		j.Array = new(structs.ArrayJob)
		if json.Unmarshal(arrayDoc, j.Array) != nil {
			return errJobBody
		}
	}
	if depDoc != nil {
		j.Dependency = new(structs.JobDependency)
		if json.Unmarshal(depDoc, j.Dependency) != nil {
			return errJobBody
		}
	}
	if envDoc != nil {
		if json.Unmarshal(envDoc, &j.Env) != nil || len(j.Env) == 0 {
			return errJobBody
		}
	}
	if sigDoc != nil {
		if json.Unmarshal(sigDoc, &j.Signals) != nil || len(j.Signals) == 0 {
			return errJobBody
		}
	}
	if shareDoc != nil {
		if json.Unmarshal(shareDoc, &j.Shares) != nil || len(j.Shares) == 0 {
			return errJobBody
		}
	}
	return nil
}

// jsonDoc is v as a JSON document when present, else "". Its values are
// plain fields and maps of strings: encoding cannot fail.
func jsonDoc(present bool, v any) string {
	if !present {
		return ""
	}
	d, _ := json.Marshal(v)
	return string(d)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}
