package client

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// checkJobDecoders decodes body with decodeJob and with json.Unmarshal,
// each into a copy of start, and fails unless both give the same job or
// both fail with the same message. It reports whether the fast path took
// the body.
func checkJobDecoders(t testing.TB, body []byte, start structs.Job) (fast bool) {
	got, want := start, start
	gerr := decodeJob(body, &got)
	werr := json.Unmarshal(body, &want)
	switch {
	case (gerr == nil) != (werr == nil):
		t.Fatalf("%s: decodeJob %v, json.Unmarshal %v", body, gerr, werr)
	case gerr != nil && gerr.Error() != werr.Error():
		t.Fatalf("%s: decodeJob %v, json.Unmarshal %v", body, gerr, werr)
	case !reflect.DeepEqual(got, want):
		t.Fatalf("%s:\ndecodeJob      %+v\njson.Unmarshal %+v", body, got, want)
	}
	var zero structs.Job
	return decodeJobFast(body, &zero)
}

// decodeStrings are plain strings; escapedStrings are ones encoding/json
// escapes (which the fast path leaves to json.Unmarshal), drawn rarely.
var (
	decodeStrings  = []string{"", "x", "j-bench-1", "QUEUED", "café", "日本語", "a b", "/scratch"}
	escapedStrings = []string{"<&>", "https://x/y?a=1&b=2", "new\nline", `q"uote`}
)

// randomReply is a job as the hub would reply with it (or with fields the
// fast path leaves to json.Unmarshal when nested).
func randomReply(rng *rand.Rand, nested bool) *structs.Job {
	s := func() string {
		if rng.IntN(60) == 0 {
			return escapedStrings[rng.IntN(len(escapedStrings))]
		}
		return decodeStrings[rng.IntN(len(decodeStrings))]
	}
	tm := func() time.Time {
		if rng.IntN(3) == 0 {
			return time.Time{}
		}
		zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("", -7*3600)}
		return time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)*int64(rng.IntN(2))).In(zones[rng.IntN(len(zones))])
	}
	j := &structs.Job{RaftIndex: structs.RaftIndex{CreateIndex: rng.Uint64N(1e18), ModifyIndex: rng.Uint64()},
		ID: s(), Number: rng.Uint64(), Name: s(), Label: s(), Project: s(), Tenant: s(), Team: s(), Owner: s(),
		App: s(), Command: s(), MachineType: s(), Nodes: rng.IntN(1e6) - 1000, Vault: s(),
		Walltime: structs.Duration(rng.Int64N(int64(48*time.Hour)) * int64(rng.IntN(2))),
		Priority: structs.PriorityClass(s()), State: structs.JobState(s()), Substatus: s(), ExitCode: rng.IntN(300) - 150,
		Cluster: s(), PreviousCluster: s(), AssignedMachineType: s(), BurstRule: s(), SubmitTime: tm(),
		AssignTime: tm(), StartTime: tm(), EndTime: tm(), LogTail: s(), CallbackURL: s(), Trigger: s(),
		ConnectURL: s(), RequestID: s(), PullSecret: s(), Workdir: s()}
	if nested {
		switch rng.IntN(4) {
		case 0:
			j.Parameters = map[string]string{s(): s()}
		case 1:
			j.Env = map[string]string{s(): s()}
		case 2:
			j.Identity = &structs.Identity{UID: rng.IntN(5000), GID: rng.IntN(5000), Group: s()}
		default:
			j.Dependency = &structs.JobDependency{}
		}
	}
	return j
}

// TestJobDecoderMatchesUnmarshal: decodeJob gives json.Unmarshal's job
// or error on replies the hub writes (random jobs encoded by
// encoding/json, with and without the members the fast path leaves to
// json.Unmarshal), on bodies that differ from them in every way JSON
// allows, and into a job already holding values.
func TestJobDecoderMatchesUnmarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 19))
	var fast, slow int
	for i := range 5000 {
		body, err := json.Marshal(randomReply(rng, i%3 == 0))
		if err != nil {
			t.Fatal(err)
		}
		if checkJobDecoders(t, body, structs.Job{}) {
			fast++
		} else {
			slow++
		}
	}
	if fast < 2000 || slow < 1000 {
		t.Fatalf("corpus too narrow: %d fast, %d left to json.Unmarshal", fast, slow)
	}
	plain := `{"create_index":12,"modify_index":12,"id":"j-1","number":7,"name":"u-1","tenant":"t","owner":"u",` +
		`"app":"solver","machine_type":"n1","nodes":1,"state":"QUEUED","submit_time":"2026-12-06T14:00:00.123456789Z",` +
		`"request_id":"r"}`
	if !checkJobDecoders(t, []byte(plain), structs.Job{}) {
		t.Fatal("the fast path left the hub's plain reply to json.Unmarshal")
	}
	odd := []string{
		`{}`, ` { } `, "{\"id\":\"x\"}\n", `{"id":"x","id":"y"}`, `{"ID":"x"}`, `{"Id":"x"}`, `{"machineType":"x"}`,
		`{"id":"a\"b"}`, `{"id":"a\\b"}`, `{"id":"\u00e9"}`, "{\"id\":\"\xff\"}", "{\"id\":\"a\tb\"}", `{"id":null}`,
		`{"nodes":null}`, `{"nodes":1.0}`, `{"nodes":1e2}`, `{"nodes":-0}`, `{"nodes":01}`, `{"nodes":-1}`,
		`{"number":-1}`, `{"number":18446744073709551615}`, `{"number":18446744073709551616}`,
		`{"nodes":99999999999999999999}`, `{"nodes":"1"}`, `{"id":1}`, `{"submit_time":"2026-12-06T14:00:00Z"}`,
		`{"submit_time":"2026-12-06 14:00:00Z"}`, `{"submit_time":"10000-01-01T00:00:00Z"}`, `{"submit_time":null}`,
		`{"submit_time":""}`, `{"walltime":"1h"}`, `{"walltime":"bogus"}`, `{"walltime":3600}`, `{"bogus":1}`,
		`{"parameters":{"a":"b"}}`, `{"identity":{"uid":1}}`, `{"array":null}`, `{"id":"x"`, `{"id":"x",}`, `{,}`,
		`{"id" "x"}`, `{"id":"x"} x`, `{"id":"x"}{}`, ``, `null`, `[]`, `"x"`, `{"state":"RUNNING","exit_code":-2}`,
		`{"log_tail":"` + strings.Repeat("y", 3000) + `"}`, "\ufeff{}",
	}
	for _, b := range odd {
		checkJobDecoders(t, []byte(b), structs.Job{})
		checkJobDecoders(t, []byte(b), structs.Job{ID: "before", Nodes: 3, Parameters: map[string]string{"k": "v"},
			SubmitTime: time.Unix(5, 0).UTC()})
	}
}

// TestDecodeJobAllocations: the hub's plain reply decodes with 2
// allocations (the body's string copy and the submit time's zone-free
// value need none more), where json.Unmarshal makes one per string.
func TestDecodeJobAllocations(t *testing.T) {
	body := []byte(`{"create_index":12,"modify_index":12,"id":"j-1","number":7,"name":"u-1","tenant":"t","owner":"u",` +
		`"app":"solver","machine_type":"n1","nodes":1,"state":"QUEUED","submit_time":"2026-12-06T14:00:00.123456789Z"}` + "\n")
	var j structs.Job
	allocs := testing.AllocsPerRun(200, func() {
		j = structs.Job{}
		if err := decodeJob(body, &j); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 || j.ID != "j-1" || j.Nodes != 1 || j.SubmitTime.Nanosecond() != 123456789 {
		t.Fatalf("%.1f allocations, job %+v", allocs, j)
	}
}

// FuzzJobDecoder: decodeJob and json.Unmarshal agree on any body.
func FuzzJobDecoder(f *testing.F) {
	f.Add([]byte(`{"id":"j-1","number":7,"nodes":1,"state":"QUEUED","submit_time":"2026-12-06T14:00:00Z"}`))
	f.Add([]byte(`{"ID":"x","nodes":-0,"walltime":"1h"}`))
	f.Add([]byte(fmt.Sprintf(`{"exit_code":%d,"create_index":%d}`, -12, uint64(1)<<63)))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkJobDecoders(t, body, structs.Job{})
	})
}
