package fsm

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// TestStateUpdateCodecCoversEveryField fills every field of a state
// update, the nested ones too, and requires the binary form to carry
// them all, and to mean what the JSON form (JobStateUpdate) of the same
// update means: a field added to structs.JobStateUpdate but not to the
// codec fails here instead of vanishing from the raft log.
func TestStateUpdateCodecCoversEveryField(t *testing.T) {
	var full JobStateUpdateBin
	seed := 0
	fillAll(t, reflect.ValueOf(&full).Elem(), &seed)
	b := MustEncode(&full)
	if CommandType(b[1]) != 105 || b[2] != stateUpdateV1 {
		t.Fatalf("header and marker % x, want type 105 and the binary marker", b[:3])
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&full, got); diff != "" {
		t.Errorf("binary round trip lost fields (-want +got):\n%s", diff)
	}
	asJSON, err := Decode(MustEncode((*JobStateUpdate)(&full)))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff((*JobStateUpdate)(&full), asJSON); diff != "" {
		t.Errorf("the JSON form carries something else (-want +got):\n%s", diff)
	}
	// Each bool alone: the flags byte's bits are not crossed.
	for name, set := range map[string]func(*JobStateUpdateBin){
		"expect absent": func(u *JobStateUpdateBin) { u.ExpectAbsent = true },
		"account":       func(u *JobStateUpdateBin) { u.Account = true },
	} {
		u := JobStateUpdateBin{ID: "j", State: structs.JobRunning, Time: t0}
		set(&u)
		got, err := Decode(MustEncode(&u))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(&u, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

// randomUpdate draws a state update: strings empty, short, repeated or
// long (multi-byte too), numbers at their extremes, optional parts absent
// or present.
func randomUpdate(r *rand.Rand) JobStateUpdateBin {
	str := func() string {
		switch r.IntN(6) {
		case 0:
			return ""
		case 1:
			return []string{"east", "QUEUED", "no capacity on n1", "RUNNING"}[r.IntN(4)]
		case 2:
			return strings.Repeat("é\x00x", 1+r.IntN(100))
		default:
			b := make([]byte, r.IntN(40))
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			return string(b)
		}
	}
	num := func() int {
		return []int{0, 1, -1, math.MaxInt, math.MinInt, int(r.Int64()) - math.MaxInt64/2}[r.IntN(6)]
	}
	// Strings in the JSON documents are valid UTF-8: JSON replaces any
	// other byte, in the JSON form of the command as in these documents.
	text := func() string { return strings.ToValidUTF8(str(), "?") }
	u := JobStateUpdateBin{ID: str(), Cluster: str(), State: structs.JobState(str()), Substatus: str(),
		ExitCode: num(), LogTail: str(), ConnectURL: str()}
	if r.IntN(2) == 0 {
		u.Number = r.Uint64()
	}
	if r.IntN(5) > 0 {
		u.Time = time.Unix(r.Int64N(1<<40)-1<<39, r.Int64N(int64(time.Second))).UTC()
	}
	if r.IntN(2) == 0 {
		u.ExpectModifyIndex = r.Uint64() >> r.IntN(64)
	}
	u.ExpectAbsent, u.Account = r.IntN(2) == 0, r.IntN(2) == 0
	if r.IntN(4) == 0 {
		u.Array = &structs.ArrayProgress{Total: num(), Running: r.IntN(9), SlotSeconds: r.Float64() * 1e6, Done: "1-5",
			RunningTasks: []int{r.IntN(99)}, Failures: []structs.TaskResult{{Index: 3, State: structs.TaskFailed, Tail: text()}}}
	}
	if r.IntN(4) == 0 {
		u.Outputs = []structs.TaskOutput{{Index: r.IntN(99), State: structs.TaskSucceeded, Tail: text(), Seq: r.Uint64(),
			Time: time.Unix(r.Int64N(1<<31), 0).UTC()}}
	}
	return u
}

// TestStateUpdateCodecProperty: decode(encode(u)) == u over random
// updates, with and without an interning table (the table's strings are
// equal to the body's), and the table shares the names it hands out.
func TestStateUpdateCodecProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 105))
	in := newInterner()
	for i := range 3000 {
		u := randomUpdate(r)
		b, err := Encode(&u)
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		for _, table := range []*interner{nil, in} {
			got, err := decode(b, table)
			if err != nil {
				t.Fatalf("update %d: %v\n%+v", i, err, u)
			}
			if diff := cmp.Diff(&u, got); diff != "" {
				t.Fatalf("update %d round trip (-want +got):\n%s", i, diff)
			}
		}
	}
	a, _ := decode(MustEncode(&JobStateUpdateBin{ID: "a", Substatus: "waits for capacity", Time: t0}), in)
	b, _ := decode(MustEncode(&JobStateUpdateBin{ID: "b", Substatus: "waits for capacity", Time: t0}), in)
	if sa, sb := a.(*JobStateUpdateBin).Substatus, b.(*JobStateUpdateBin).Substatus; !sameString(sa, sb) {
		t.Error("two updates' equal substatus are two strings: not interned")
	}
}

// TestStateUpdateCodecRejectsMalformed: every truncation, trailing bytes,
// unknown flag bits, a bad marker, a bad JSON document and lengths past
// the body are ErrInvalid, and allocate nothing near the lengths claimed.
func TestStateUpdateCodecRejectsMalformed(t *testing.T) {
	u := JobStateUpdateBin{ID: "j-1", Cluster: "east", Number: 7, State: structs.JobRunning, Substatus: "step", ExitCode: -2,
		LogTail: "tail", ConnectURL: "https://x", Time: t0, CAS: structs.CAS{ExpectModifyIndex: 9}, Account: true,
		Array: &structs.ArrayProgress{Total: 4}, Outputs: []structs.TaskOutput{{Index: 1, Time: t0}}}
	good := MustEncode(&u)
	var bad [][]byte
	for n := 2; n < len(good); n++ {
		bad = append(bad, good[:n])
	}
	bad = append(bad, append(append([]byte{}, good...), 0))
	flags := append([]byte{}, good...)
	flags[len(flags)-1] |= 4
	bad = append(bad, flags)
	marker := append([]byte{}, good...)
	marker[2] = 2
	bad = append(bad, marker)
	head := []byte{Version, 105, stateUpdateV1}
	bad = append(bad, append(head, 0xff, 0xff, 0xff, 0xff, 0x0f), // an ID of 4 GB
		append(head, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)) // a length past 64 bits
	bad = append(bad, rawUpdate(`[1]`, ""), rawUpdate("", "null"), rawUpdate("", "[]"), rawUpdate("", `{"index":1}`))
	if _, err := Decode(rawUpdate(`{"total":4}`, `[{"index":1}]`)); err != nil {
		t.Fatalf("the hand-built body does not decode: %v", err)
	}
	for _, b := range bad {
		var err error
		allocs := testing.AllocsPerRun(1, func() { _, err = decode(b, newInterner()) })
		if !errors.Is(err, structs.ErrInvalid) {
			t.Errorf("Decode(% x) = %v, want ErrInvalid", b, err)
		}
		if allocs > 40 {
			t.Errorf("Decode(% x) made %.0f allocations", b, allocs)
		}
	}
	if _, err := Encode(&JobStateUpdateBin{ID: "j", Time: t0, Array: &structs.ArrayProgress{SlotSeconds: math.NaN()}}); err == nil {
		t.Error("an update whose array progress JSON cannot write encoded")
	}
}

// rawUpdate is the body of an update of job "j" at t0 with the given
// JSON documents, built by hand.
func rawUpdate(arrayDoc, outDoc string) []byte {
	b := appendString([]byte{Version, 105, stateUpdateV1}, "j")
	b = append(b, 0, 0, 0, 0, 0, 0) // cluster, number, state, substatus, exit code, log tail
	b = appendString(appendString(b, arrayDoc), outDoc)
	b = appendTime(append(b, 0), t0) // connect URL, time
	return append(b, 0, 0)           // expect modify index, flags
}

// TestStateUpdateBinAppliesAsJSON: the log the replay tests build, with
// every state update in the binary form instead, gives every command the
// same result and the state the same bytes.
func TestStateUpdateBinAppliesAsJSON(t *testing.T) {
	log := buildLog(t, 42, 400)
	bin := make([]entry, len(log))
	converted := 0
	for i, e := range log {
		bin[i] = entry{index: e.index, cmds: make([][]byte, len(e.cmds))}
		for k, b := range e.cmds {
			bin[i].cmds[k] = b
			if c, err := Decode(b); err == nil {
				if u, ok := c.(*JobStateUpdate); ok {
					bin[i].cmds[k] = MustEncode((*JobStateUpdateBin)(u))
					converted++
				}
			}
		}
	}
	if converted < 50 {
		t.Fatalf("only %d state updates in the log", converted)
	}
	a, b := newFSM(t), newFSM(t)
	applied := 0
	for i := range log {
		ra, rb := a.ApplyCommands(log[i].index, log[i].cmds), b.ApplyCommands(bin[i].index, bin[i].cmds)
		for k := range ra {
			if resultString(ra[k]) != resultString(rb[k]) {
				t.Fatalf("entry %d command %d: JSON %s, binary %s", log[i].index, k, resultString(ra[k]), resultString(rb[k]))
			}
			if _, isErr := rb[k].(error); !isErr && CommandType(bin[i].cmds[k][1]) == 105 {
				applied++
			}
		}
	}
	if applied < 5 {
		t.Errorf("only %d binary state updates applied", applied)
	}
	if sa, sb := snapshotBytes(t, a), snapshotBytes(t, b); string(sa) != string(sb) {
		t.Fatalf("the states differ (-JSON +binary):\n%s", cmp.Diff(string(sa), string(sb)))
	}
	t.Logf("%d state updates converted, %d applied", converted, applied)
}

// TestStateUpdateBinGated: the binary form is a gated command (a replica
// on an older binary never meets it) whose result decodes as the JSON
// form's does.
func TestStateUpdateBinGated(t *testing.T) {
	typ := TypeOf(&JobStateUpdateBin{})
	if typ != 105 || !Gated(typ) {
		t.Fatalf("JobStateUpdateBin is %d, gated %v", typ, Gated(typ))
	}
	if ReplicaApplies("1-33,41-42,60-71,80,95-96,100-103,106-107", typ) {
		t.Error("a replica that does not list 105 applies it")
	}
	raw, _ := json.Marshal(&structs.Job{ID: "j", State: structs.JobRunning})
	v, err := DecodeResult(typ, raw)
	if j, ok := v.(*structs.Job); err != nil || !ok || j.ID != "j" {
		t.Errorf("DecodeResult = %#v, %v", v, err)
	}
}
