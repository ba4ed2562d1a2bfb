package api

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jobStrings are string values with every kind of byte encoding/json
// escapes or keeps.
var jobStrings = []string{
	"", "x", "j-bench-1", "solver", "QUEUED", "a b", `quote"`, `back\slash`, "<script>", "a&b", "tab\there",
	"new\nline", "\r\b\f\x00\x01\x1f\x7f", "café", "日本語", "\u2028\u2029", "bad\xffutf8", "\xc3", "\xe2\x80",
	"emoji 🚀", "\ufffd", "https://cb.example/x?a=1&b=2", "/scratch/dir", "1h0m0s",
}

// fillRandom sets every field of the value v points to, recursively, to a
// random value (zero in about a fifth of the cases), so that a field the
// encoder forgets shows.
func fillRandom(rng *rand.Rand, v reflect.Value) {
	if rng.IntN(5) == 0 {
		v.SetZero()
		return
	}
	if v.Type() == reflect.TypeFor[time.Time]() {
		zones := []*time.Location{time.UTC, time.FixedZone("", 2*3600), time.FixedZone("", -(5*3600 + 30*60)),
			time.FixedZone("", 24*3600), time.FixedZone("", 3600+17)}
		secs := rng.Int64N(4e9)
		if rng.IntN(10) == 0 {
			secs = -rng.Int64N(1e12) // years before 0
		} else if rng.IntN(10) == 0 {
			secs = 3e11 + rng.Int64N(1e12) // years after 9999
		}
		t := time.Unix(secs, rng.Int64N(1e9)*int64(rng.IntN(2))).In(zones[rng.IntN(len(zones))])
		v.Set(reflect.ValueOf(t))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(jobStrings[rng.IntN(len(jobStrings))])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := rng.Int64N(1 << 40)
		if rng.IntN(3) == 0 {
			n = -n
		}
		if v.Type() == reflect.TypeFor[structs.Duration]() {
			n = rng.Int64N(int64(48 * time.Hour)) // nanoseconds and microseconds too
		}
		if !v.OverflowInt(n) {
			v.SetInt(n)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n := rng.Uint64()
		if !v.OverflowUint(n) {
			v.SetUint(n)
		}
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(rng.IntN(1000)) / 8)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillRandom(rng, p.Elem())
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillRandom(rng, v.Field(i))
			}
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range rng.IntN(4) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fillRandom(rng, k)
			fillRandom(rng, e)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), rng.IntN(3), rng.IntN(3)+3)
		for i := range s.Len() {
			fillRandom(rng, s.Index(i))
		}
		v.Set(s)
	}
}

// randomJob is a job with random fields; plain keeps it on the fast path
// (no array spec, no dependency).
func randomJob(rng *rand.Rand, plain bool) *structs.Job {
	j := new(structs.Job)
	fillRandom(rng, reflect.ValueOf(j).Elem())
	if plain {
		j.Array, j.Dependency, j.Shares = nil, nil, nil
	}
	return j
}

// checkJobEncoder fails unless writeJSON's reply for j is the bytes
// encoding/json's encoder writes (or both refuse it). It reports whether
// appendJobJSON took the job.
func checkJobEncoder(t testing.TB, j *structs.Job) (fast bool) {
	var want bytes.Buffer
	werr := json.NewEncoder(&want).Encode(j)
	got, ok := appendJobJSON(nil, j)
	if ok {
		if werr != nil {
			t.Fatalf("encoding/json refused %+v (%v); appendJobJSON wrote %s", j, werr, got)
		}
		if g := append(got, '\n'); !bytes.Equal(g, want.Bytes()) {
			t.Fatalf("job %+v:\nappendJobJSON %s\nencoding/json %s", j, g, want.Bytes())
		}
	}
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, j)
	switch {
	case werr != nil && rec.Code != http.StatusInternalServerError:
		t.Fatalf("encoding/json refused %+v (%v); writeJSON answered %d %s", j, werr, rec.Code, rec.Body)
	case werr == nil && (rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want.Bytes())):
		t.Fatalf("job %+v:\nwriteJSON %d %s\nencoding/json %s", j, rec.Code, rec.Body, want.Bytes())
	}
	return ok
}

// TestJobEncoderMatchesEncodingJSON: the reply writeJSON writes for a job
// is encoding/json's, byte for byte, on a corpus of jobs every field of
// which is set at random (so a field added to structs.Job and not to
// appendJobJSON fails it), on the jobs the hub replies to submissions
// with, and on the jobs the fast path leaves to encoding/json.
func TestJobEncoderMatchesEncodingJSON(t *testing.T) {
	submitted := &structs.Job{RaftIndex: structs.RaftIndex{CreateIndex: 12, ModifyIndex: 12}, ID: "j-bench-1",
		Number: 7, Name: "bench-20261206-7", Tenant: "bench", Owner: "bench", App: "solver", MachineType: "n1",
		Nodes: 1, State: structs.JobQueued, SubmitTime: time.Date(2026, 12, 6, 14, 0, 0, 123456789, time.UTC),
		RequestID: "req-1"}
	if !checkJobEncoder(t, submitted) {
		t.Fatal("the fast path left a plain submitted job to encoding/json")
	}
	rng := rand.New(rand.NewPCG(1, 19))
	var fast, slow int
	for i := range 20000 {
		if checkJobEncoder(t, randomJob(rng, i%4 != 0)) {
			fast++
		} else {
			slow++
		}
	}
	t.Logf("%d jobs on the fast path, %d left to encoding/json", fast, slow)
	if fast < 5000 || slow < 500 {
		t.Fatalf("corpus too narrow: %d fast, %d left to encoding/json", fast, slow)
	}
	// Every field of a job on the fast path is written (a random job with
	// none zero would miss a forgotten field only by luck).
	full := randomJob(rng, true)
	v := reflect.ValueOf(full).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.IsZero() && f.Kind() != reflect.Pointer {
			fillRandom(rng, f)
		}
	}
	full.Identity = &structs.Identity{UID: 1000, GID: 100, Group: "hpc"}
	full.SubmitTime = submitted.SubmitTime
	full.AssignTime, full.StartTime, full.EndTime = full.SubmitTime, full.SubmitTime, full.SubmitTime
	full.Walltime = structs.Duration(90 * time.Minute)
	checkJobEncoder(t, full)
}

// TestJobEncoderNoAllocations: a plain job is encoded into a buffer
// without an allocation (the reply's buffer is pooled).
func TestJobEncoderNoAllocations(t *testing.T) {
	j := &structs.Job{ID: "j-1", Number: 1, Name: "u-20261206-1", Tenant: "t", Owner: "u", App: "a", MachineType: "n1",
		Nodes: 1, State: structs.JobQueued, SubmitTime: time.Date(2026, 12, 6, 14, 0, 0, 5, time.UTC),
		Parameters: map[string]string{"b": "2", "a": "1"}}
	buf := make([]byte, 0, 1024)
	var ok bool
	allocs := testing.AllocsPerRun(100, func() { _, ok = appendJobJSON(buf[:0], j) })
	if !ok || allocs > 1 { // the parameters' sorted keys
		t.Fatalf("ok %v, %.1f allocations", ok, allocs)
	}
}

// FuzzJobEncoder: any job built from the fuzzer's strings and numbers is
// written as encoding/json writes it.
func FuzzJobEncoder(f *testing.F) {
	f.Add("j-1", "solver", "a<b>&c", "\u2028", int64(1), uint64(7), int64(0), "k", "v")
	f.Add("", "\xff", "\t\n", "日本", int64(-3), uint64(0), int64(3600e9), "", "")
	f.Fuzz(func(t *testing.T, id, app, label, tail string, nodes int64, number uint64, wall int64, k, v string) {
		j := &structs.Job{ID: id, App: app, Label: label, LogTail: tail, Nodes: int(nodes), Number: number,
			Walltime: structs.Duration(wall), Tenant: k, Owner: v, SubmitTime: time.Unix(0, nodes*wall).UTC()}
		if k != "" {
			j.Parameters = map[string]string{k: v, v: k}
			j.Env = map[string]string{tail: label}
		}
		checkJobEncoder(t, j)
	})
}

// TestReplyContentLength: JSON replies short and long carry their
// Content-Length, unchunked, over HTTP/1.1 and HTTP/2 — a submission's
// reply through the API among them — whether writeReply sets the header
// or net/http does.
func TestReplyContentLength(t *testing.T) {
	s, key := newHandlerServer(t)
	long := strings.Repeat("y", 3*autoContentLength)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /short", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, "x") })
	mux.HandleFunc("GET /long", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, long) })
	mux.HandleFunc("GET /edge", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, strings.Repeat("z", autoContentLength-3)) // quotes and newline: 2048 bytes
	})
	mux.Handle("/v1/", s)
	for name, http2 := range map[string]bool{"HTTP/1.1": false, "HTTP/2": true} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(mux)
			srv.EnableHTTP2 = http2
			if http2 {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			hc := srv.Client()
			check := func(req *http.Request, wantLen int) {
				t.Helper()
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if wantProto := map[bool]int{false: 1, true: 2}[http2]; resp.ProtoMajor != wantProto {
					t.Fatalf("%s: served over %s", req.URL.Path, resp.Proto)
				}
				if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(body)) ||
					len(resp.TransferEncoding) > 0 || (wantLen > 0 && len(body) != wantLen) {
					t.Fatalf("%s: %s, Content-Length %d, Transfer-Encoding %v, %d bytes: %.80s", req.URL.Path,
						resp.Status, resp.ContentLength, resp.TransferEncoding, len(body), body)
				}
			}
			for path, n := range map[string]int{"/short": 4, "/long": len(long) + 3, "/edge": autoContentLength} {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
				check(req, n)
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/jobs",
				strings.NewReader(`{"id":"j-cl","app":"solver","machine_type":"n1","nodes":1}`))
			req.Header.Set("Authorization", "Bearer "+key)
			check(req, 0)
		})
	}
}
