package fsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// fillAll sets every field reachable from v (a pointer to a struct) to a
// non-zero value that differs between fields.
func fillAll(t *testing.T, v reflect.Value, seed *int) {
	t.Helper()
	*seed++
	n := *seed
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(t, v.Elem(), seed)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, n, 123456789, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fillAll(t, v.Field(i), seed)
		}
	case reflect.String:
		v.SetString("s" + string(rune('a'+n%26)) + string(rune('A'+n/26)))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(-n * 1000))
	case reflect.Uint64:
		v.SetUint(uint64(n) << 40)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Float64:
		v.SetFloat(float64(n) + 0.25)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for k := range 2 {
			fillAll(t, s.Index(k), seed)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for k := range 3 {
			m.SetMapIndex(reflect.ValueOf(string(rune('z'-k))), reflect.ValueOf(string(rune('0'+n+k))))
		}
		v.Set(m)
	default:
		t.Fatalf("fillAll: field kind %s (%s) not handled: teach fillAll and the job codec", v.Kind(), v.Type())
	}
}

// TestJobCodecCoversEveryField fills every field of a job, the nested ones
// too, and requires the binary form to carry them all: a field added to
// structs.Job but not to the codec fails here instead of vanishing from the
// raft log.
func TestJobCodecCoversEveryField(t *testing.T) {
	var full JobSubmitArrayList
	seed := 0
	fillAll(t, reflect.ValueOf(&full.Job).Elem(), &seed)
	// An array spec is checked as it is read: every field of a valid list.
	list, err := structs.ParseArraySpec("1,3,7-30:3%2")
	if err != nil || list.Ranges[2].Step == 0 {
		t.Fatal(list, err)
	}
	full.Job.Array.Spec = list
	b := MustEncode(&full)
	if b[2] != jobBinaryV1 {
		t.Fatalf("JobSubmitArrayList body starts with %#x, want the binary marker", b[2])
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&full, got); diff != "" {
		t.Errorf("binary round trip lost fields (-want +got):\n%s", diff)
	}
	// JobSubmitExt carries every field but the list.
	ext := JobSubmitExt(full)
	ext.Job.Array = full.Job.Array.Copy()
	ext.Job.Array.Spec = structs.ArraySpec{Start: 1, End: 30, Step: 3, MaxRunning: 2}
	if got, err = Decode(MustEncode(&ext)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&ext, got); diff != "" {
		t.Errorf("JobSubmitExt round trip lost fields (-want +got):\n%s", diff)
	}
	// JobSubmit carries every field but JobSubmitExt's own.
	want := JobSubmit(ext)
	want.Job.Dependency, want.Job.Env, want.Job.Workdir = nil, nil, ""
	if got, err = Decode(MustEncode(&want)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("JobSubmit round trip lost fields (-want +got):\n%s", diff)
	}
	// The JSON body written before the binary form decodes the same.
	body, err := json.Marshal(&want)
	if err != nil {
		t.Fatal(err)
	}
	old, err := Decode(append([]byte{Version, byte(TypeOf(&JobSubmit{}))}, body...))
	if err != nil {
		t.Fatalf("JSON body: %v", err)
	}
	if diff := cmp.Diff(&want, old); diff != "" {
		t.Errorf("JSON body decodes differently (-want +got):\n%s", diff)
	}
}

// TestJobSubmitExtOnly: JobSubmit never carries a dependency, an
// environment or a working directory — neither written nor read, in the
// binary or the JSON form — since a replica on an older binary would
// refuse or drop them; JobSubmitExt carries them, and each of its fields
// alone round-trips, with every truncation refused.
func TestJobSubmitExtOnly(t *testing.T) {
	j := testJob("j")
	extend(&j)
	if _, err := Encode(&JobSubmit{Job: j}); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("Encode(JobSubmit with a dependency) = %v, want ErrInvalid", err)
	}
	ext := MustEncode(&JobSubmitExt{Job: j})
	plain := append([]byte{Version, byte(TypeOf(&JobSubmit{}))}, ext[2:]...)
	if _, err := Decode(plain); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("Decode(binary JobSubmit with JobSubmitExt's fields) = %v, want ErrInvalid", err)
	}
	body, _ := json.Marshal(&JobSubmit{Job: j})
	if _, err := Decode(append([]byte{Version, byte(TypeOf(&JobSubmit{}))}, body...)); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("Decode(JSON JobSubmit with JobSubmitExt's fields) = %v, want ErrInvalid", err)
	}
	if c := SubmitCommand(&j); TypeOf(c) != TypeOf(&JobSubmitExt{}) {
		t.Errorf("SubmitCommand of an extended job is %T", c)
	}
	if c := SubmitCommand(&structs.Job{ID: "x"}); TypeOf(c) != TypeOf(&JobSubmit{}) {
		t.Errorf("SubmitCommand of a plain job is %T", c)
	}
	base := testJob("j")
	v1 := MustEncode(&JobSubmit{Job: base})
	for name, set := range map[string]func(*structs.Job){
		"dependency": func(j *structs.Job) {
			j.Dependency = &structs.JobDependency{Any: true, Conditions: []structs.DependencyCondition{{Type: structs.DependAfter, Job: 9}}}
		},
		"env":     func(j *structs.Job) { j.Env = map[string]string{"A": "1"} },
		"workdir": func(j *structs.Job) { j.Workdir = "/w" },
	} {
		j := base
		set(&j)
		b := MustEncode(&JobSubmitExt{Job: j})
		if string(b[2:len(v1)]) != string(v1[2:]) {
			t.Errorf("%s: the body does not begin with the plain job's", name)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(&JobSubmitExt{Job: j}, got); diff != "" {
			t.Errorf("%s round trip (-want +got):\n%s", name, diff)
		}
		for n := len(v1) + 1; n < len(b); n++ {
			if _, err := Decode(b[:n]); !errors.Is(err, structs.ErrInvalid) {
				t.Errorf("%s truncated (%d of %d bytes): %v", name, n, len(b), err)
			}
		}
	}
}

// TestJobCodecDeterministic: map order never shows in the bytes.
func TestJobCodecDeterministic(t *testing.T) {
	j := testJob("j")
	j.Parameters = map[string]string{}
	for k := range 50 {
		j.Parameters[string(rune('A'+k))] = "v"
	}
	first := MustEncode(&JobSubmit{Job: j})
	for range 20 {
		if b := MustEncode(&JobSubmit{Job: j}); string(b) != string(first) {
			t.Fatal("two encodings of one job differ")
		}
	}
}

// TestJobCodecRejectsMalformed: every truncation of a valid body, trailing
// bytes, unsorted parameters and bad presence bytes are ErrInvalid.
func TestJobCodecRejectsMalformed(t *testing.T) {
	j := testJob("j")
	j.Parameters = map[string]string{"a": "1", "b": "2"}
	j.Identity = &structs.Identity{UID: 1000, GID: 100, Group: "hpc"}
	good := MustEncode(&JobSubmit{Job: j})
	var bad [][]byte
	for n := 3; n < len(good); n++ {
		bad = append(bad, good[:n])
	}
	bad = append(bad, append(append([]byte{}, good...), 0))
	swapped := MustEncode(&JobSubmit{Job: j})
	// Parameters follow Command; swap the two keys' first bytes in place.
	if i, k := indexOf(swapped, "\x01a\x011"), indexOf(swapped, "\x01b\x012"); i < 0 || k < 0 {
		t.Fatal("parameters not found in the encoding")
	} else {
		swapped[i+1], swapped[k+1] = 'b', 'a'
	}
	bad = append(bad, swapped)
	huge := append([]byte{Version, byte(TypeOf(&JobSubmit{})), jobBinaryV1}, 0xff, 0xff, 0xff, 0xff, 0x0f)
	bad = append(bad, huge)
	for _, b := range bad {
		if _, err := Decode(b); !errors.Is(err, structs.ErrInvalid) {
			t.Errorf("Decode(% x) = %v, want ErrInvalid", b, err)
		}
	}
}

func indexOf(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}

// TestJobCodecTrailingFields: a job without the fields added after
// version 1 encodes exactly as version 1 did (it ends with LogTail); one
// with them round-trips, and every truncation of it is refused.
func TestJobCodecTrailingFields(t *testing.T) {
	j := testJob("j")
	j.LogTail = "tail"
	v1 := MustEncode(&JobSubmit{Job: j})
	if !strings.HasSuffix(string(v1), "\x04tail") {
		t.Fatalf("a job without trailing fields does not end with LogTail: % x", v1)
	}
	j.PreviousCluster = "east"
	b := MustEncode(&JobSubmit{Job: j})
	if string(b) != string(v1)+"\x04east" {
		t.Fatalf("PreviousCluster not appended after LogTail: % x", b)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&JobSubmit{Job: j}, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for n := len(v1) + 1; n < len(b); n++ {
		if _, err := Decode(b[:n]); !errors.Is(err, structs.ErrInvalid) {
			t.Errorf("truncated trailing field (%d of %d bytes): %v", n, len(b), err)
		}
	}

	// RequestID is the last trailing field: after ConnectURL, with the
	// fields between it and PreviousCluster written empty. A body of the
	// encoding before it (ending with ConnectURL) still decodes.
	j.ConnectURL = "https://j1.example/?t=x"
	withURL := MustEncode(&JobSubmit{Job: j})
	j.RequestID = "req-1"
	withID := MustEncode(&JobSubmit{Job: j})
	if string(withID) != string(withURL)+"\x05req-1" {
		t.Fatalf("RequestID not appended after ConnectURL: % x", withID)
	}
	if got, err := Decode(withURL); err != nil || got.(*JobSubmit).Job.RequestID != "" || got.(*JobSubmit).Job.ConnectURL != j.ConnectURL {
		t.Errorf("a body ending with ConnectURL: %+v, %v", got, err)
	}
	j.ConnectURL, j.PreviousCluster = "", ""
	only := MustEncode(&JobSubmit{Job: j})
	got, err = Decode(only)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&JobSubmit{Job: j}, got); diff != "" {
		t.Errorf("RequestID alone round trip (-want +got):\n%s", diff)
	}
	if want := string(v1) + "\x00\x00\x00\x00\x00\x05req-1"; string(only) != want {
		t.Errorf("RequestID alone: % x, want % x", only, want)
	}
	for n := len(v1) + 1; n < len(only); n++ {
		if _, err := Decode(only[:n]); !errors.Is(err, structs.ErrInvalid) {
			t.Errorf("truncated RequestID body (%d of %d bytes): %v", n, len(only), err)
		}
	}

	// PullSecret follows RequestID; a body ending with RequestID decodes
	// without one.
	j.PullSecret = `{"auths":{"r.example":{"auth":"dTpw"}}}`
	withSecret := MustEncode(&JobSubmit{Job: j})
	if want := string(only) + "\x27" + j.PullSecret; string(withSecret) != want {
		t.Fatalf("PullSecret not appended after RequestID: % x", withSecret)
	}
	if got, err := Decode(withSecret); err != nil || got.(*JobSubmit).Job.PullSecret != j.PullSecret {
		t.Errorf("PullSecret round trip: %+v, %v", got, err)
	}
	j.RequestID = ""
	secretOnly := MustEncode(&JobSubmit{Job: j})
	if got, err := Decode(secretOnly); err != nil || got.(*JobSubmit).Job.PullSecret != j.PullSecret || got.(*JobSubmit).Job.RequestID != "" {
		t.Errorf("PullSecret alone: %+v, %v", got, err)
	}
	for n := len(v1) + 1; n < len(secretOnly); n++ {
		if _, err := Decode(secretOnly[:n]); !errors.Is(err, structs.ErrInvalid) {
			t.Errorf("truncated PullSecret body (%d of %d bytes): %v", n, len(secretOnly), err)
		}
	}
}

// TestJobSubmitArrayListOnly: an index list travels only in
// JobSubmitArrayList — JobSubmit and JobSubmitExt neither write nor read
// one, in the binary or the JSON form, since a replica from before lists
// refuses the spec — and SubmitCommand picks it for a list whatever else
// the job has; a single range stays in the older commands.
func TestJobSubmitArrayListOnly(t *testing.T) {
	j := testJob("j")
	withList(&j)
	if _, err := Encode(&JobSubmit{Job: j}); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("Encode(JobSubmit with a list) = %v, want ErrInvalid", err)
	}
	if _, err := Encode(&JobSubmitExt{Job: j}); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("Encode(JobSubmitExt with a list) = %v, want ErrInvalid", err)
	}
	list := MustEncode(&JobSubmitArrayList{Job: j})
	got, err := Decode(list)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&JobSubmitArrayList{Job: j}, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for _, older := range []Command{&JobSubmit{}, &JobSubmitExt{}} {
		b := append([]byte{Version, byte(TypeOf(older))}, list[2:]...)
		if _, err := Decode(b); !errors.Is(err, structs.ErrInvalid) {
			t.Errorf("Decode(binary %s with a list) = %v, want ErrInvalid", TypeOf(older), err)
		}
	}
	body, _ := json.Marshal(&JobSubmit{Job: j})
	if _, err := Decode(append([]byte{Version, byte(TypeOf(&JobSubmit{}))}, body...)); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("Decode(JSON JobSubmit with a list) = %v, want ErrInvalid", err)
	}
	ext := j
	extend(&ext)
	for name, job := range map[string]structs.Job{"list": j, "list and env": ext} {
		if c := SubmitCommand(&job); TypeOf(c) != TypeOf(&JobSubmitArrayList{}) {
			t.Errorf("SubmitCommand of %s is %T", name, c)
		}
	}
	single := testJob("s")
	single.Array = &structs.ArrayJob{Spec: structs.ArraySpec{Start: 1, End: 9}}
	if c := SubmitCommand(&single); TypeOf(c) != TypeOf(&JobSubmit{}) {
		t.Errorf("SubmitCommand of a single range is %T", c)
	}
	// A list's bytes in the job body: what an older replica would meet.
	if !bytes.Contains(list, []byte(`"ranges":[`)) {
		t.Error("the list is not in the body as ranges")
	}
}
