package fsm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
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

func decodeJobSubmit(body []byte, c *JobSubmit) error {
	r := jobReader{b: body}
	if r.byte() != jobBinaryV1 {
		return errJobBody
	}
	j := &c.Job
	j.CreateIndex = r.uvarint()
	j.ModifyIndex = r.uvarint()
	j.ID = r.string()
	j.Number = r.uvarint()
	j.Name = r.string()
	j.Label = r.string()
	j.Project = r.string()
	j.Tenant = r.string()
	j.Team = r.string()
	j.Owner = r.string()
	j.App = r.string()
	j.Command = r.string()
	if n := r.uvarint(); n > 0 && r.err == nil {
		if n > maxJobParams {
			return errJobBody
		}
		j.Parameters = make(map[string]string, n)
		prev := ""
		for i := range n {
			k, v := r.string(), r.string()
			if r.err != nil {
				break
			}
			if i > 0 && k <= prev { // sorted and unique, as encoded
				return errJobBody
			}
			j.Parameters[k], prev = v, k
		}
	}
	j.MachineType = r.string()
	j.Nodes = r.int()
	j.Vault = r.string()
	j.Walltime = structs.Duration(r.varint())
	j.Priority = structs.PriorityClass(r.string())
	switch r.byte() {
	case 0:
	case 1:
		j.Identity = &structs.Identity{UID: r.int(), GID: r.int(), Group: r.string()}
	default:
		r.fail()
	}
	j.State = structs.JobState(r.string())
	j.Substatus = r.string()
	j.ExitCode = r.int()
	j.Cluster = r.string()
	j.AssignedMachineType = r.string()
	j.BurstRule = r.string()
	j.SubmitTime = r.time()
	j.AssignTime = r.time()
	j.StartTime = r.time()
	j.EndTime = r.time()
	j.LogTail = r.string()
	var arrayDoc, depDoc, envDoc, sigDoc, shareDoc string
	for _, f := range [...]*string{&j.PreviousCluster, &arrayDoc, &j.CallbackURL, &j.Trigger, &j.ConnectURL,
		&j.RequestID, &j.PullSecret, &depDoc, &envDoc, &j.Workdir, &sigDoc, &shareDoc} {
		if r.err != nil || len(r.b) == 0 {
			break
		}
		*f = r.string()
		if r.err == nil && *f == "" && len(r.b) == 0 {
			return errJobBody // an empty trailing field is never written last
		}
	}
	if r.err == nil && arrayDoc != "" {
		j.Array = new(structs.ArrayJob)
		if json.Unmarshal([]byte(arrayDoc), j.Array) != nil {
			return errJobBody
		}
	}
	if r.err == nil && depDoc != "" {
		j.Dependency = new(structs.JobDependency)
		if json.Unmarshal([]byte(depDoc), j.Dependency) != nil {
			return errJobBody
		}
	}
	if r.err == nil && envDoc != "" {
		if json.Unmarshal([]byte(envDoc), &j.Env) != nil || len(j.Env) == 0 {
			return errJobBody
		}
	}
	if r.err == nil && sigDoc != "" {
		if json.Unmarshal([]byte(sigDoc), &j.Signals) != nil || len(j.Signals) == 0 {
			return errJobBody
		}
	}
	if r.err == nil && shareDoc != "" {
		if json.Unmarshal([]byte(shareDoc), &j.Shares) != nil || len(j.Shares) == 0 {
			return errJobBody
		}
	}
	if r.err == nil && len(r.b) != 0 {
		return errJobBody // trailing bytes
	}
	return r.err
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

// jobReader reads the binary job form; the first error sticks and every
// later read returns a zero value.
type jobReader struct {
	b   []byte
	err error
	// s is the rest of the body as it was at the first non-empty string,
	// copied once: the strings read are slices of it (one allocation per
	// body instead of one per string; r.b is always a suffix of s).
	s string
}

func (r *jobReader) fail() { r.err, r.b = errJobBody, nil }

func (r *jobReader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *jobReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *jobReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// int reads a varint that must fit a Go int.
func (r *jobReader) int() int {
	v := r.varint()
	if v < math.MinInt || v > math.MaxInt {
		r.fail()
		return 0
	}
	return int(v)
}

func (r *jobReader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > maxJobString || n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	if n == 0 {
		return ""
	}
	if r.s == "" {
		r.s = string(r.b)
	}
	off := len(r.s) - len(r.b)
	r.b = r.b[n:]
	return r.s[off : off+int(n)]
}

func (r *jobReader) time() time.Time {
	switch r.byte() {
	case 0:
		return time.Time{}
	case 1:
	default:
		r.fail()
		return time.Time{}
	}
	sec, nsec := r.varint(), r.uvarint()
	if r.err != nil || nsec >= uint64(time.Second) {
		r.fail()
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if t.IsZero() { // the zero instant has its own presence byte
		r.fail()
		return time.Time{}
	}
	return t
}
