package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// genericSubmit is the submission decoder without the fast path.
func genericSubmit(r io.Reader) (*structs.JobSubmitRequest, error) {
	return decodeValue[structs.JobSubmitRequest](r, nil)
}

// checkSubmitDecoders decodes body with decodeJobSubmit and with the
// generic decoder, both behind the request size limit limit, and fails
// unless they give the same request or the same error (kind and message).
// It reports whether the fast path took the body.
func checkSubmitDecoders(t *testing.T, body []byte, limit int64) (fast bool) {
	t.Helper()
	reader := func() io.Reader {
		return http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(bytes.NewReader(body)), limit)
	}
	got, gerr := decodeJobSubmit(reader())
	want, werr := genericSubmit(reader())
	switch {
	case (gerr == nil) != (werr == nil):
		t.Fatalf("%q: fast path gave %+v, %v; generic %+v, %v", body, got, gerr, want, werr)
	case gerr != nil:
		if gerr.Error() != werr.Error() || structs.KindOf(gerr) != structs.KindOf(werr) {
			t.Fatalf("%q: refusals differ: %v (%v) against %v (%v)", body, gerr, structs.KindOf(gerr), werr, structs.KindOf(werr))
		}
	case !reflect.DeepEqual(got, want):
		t.Fatalf("%q: decoded %+v, generic %+v", body, got, want)
	}
	if len(body) > maxFastSubmit || int64(len(body)) > limit {
		return false
	}
	_, fast = decodeSubmitFast(body)
	return fast
}

// submitCorpus is bodies of submissions, valid and not, and the fuzz
// seeds of FuzzDecodeJobSubmit.
func submitCorpus(t testing.TB) [][]byte {
	bodies := []string{
		`{"id":"j-bench-1","app":"solver","machine_type":"n1","nodes":1}`,
		` {"app":"solver","machine_type":"n1","nodes":4,"command":"Run","vault":"data","priority":"high","label":"x",` +
			`"project":"p","team":"t","callback_url":"https://cb.example/x","task_retries":2,"pull_secret":"{}",` +
			`"dependency":"afterok:12","workdir":"/scratch"} ` + "\n",
		`{}`, `{ }`, "\t{\r\n}\n", `{"app":""}`, `{"nodes":-0}`, `{"nodes":-12}`, `{"nodes":0}`,
		`{"nodes":999999999999999999}`, `{"nodes":9999999999999999999}`, `{"nodes":99999999999999999999999}`,
		`{"nodes":01}`, `{"nodes":1.0}`, `{"nodes":1e2}`, `{"nodes":1E2}`, `{"nodes":-}`, `{"nodes":"1"}`,
		`{"nodes":1 "app":"x"}`, `{"nodes":1,}`, `{,}`, `{"app":"x",}`, `{"app" "x"}`, `{"app":x}`,
		`{"app":"a\"b"}`, `{"app":"a\\b"}`, `{"app":"a\u00e9"}`, "{\"app\":\"caf\xc3\xa9\"}", "{\"app\":\"\xff\"}",
		"{\"app\":\"a\tb\"}", `{"app":null}`, `{"nodes":null}`, `{"App":"x"}`, `{"APP":"x"}`, `{"machineType":"x"}`,
		`{"app":"x","app":"y"}`, `{"nodes":1,"nodes":2}`, `{"bogus":1}`, `{"app":"x"}{}`, `{"app":"x"} x`,
		`{"app":"x"`, `{"app":"x`, `{"app"`, `{`, ``, ` `, `null`, `[]`, `"x"`, `1`, `{"app":["x"]}`,
		`{"parameters":{"a":"b"}}`, `{"env":{"A":"1"}}`, `{"walltime":"1h"}`, `{"walltime":"bogus"}`,
		`{"task_walltime":"10m"}`, `{"array":"1-10"}`, `{"array":{"first":1,"last":4}}`, `{"app":"x"}` + "\x00",
		"\ufeff{}", `{"app":"x"} ` + strings.Repeat(" ", 5000), `{"app":"` + strings.Repeat("y", 5000) + `"}`,
		`{"id":"a","app":"b","command":"c","machine_type":"d","nodes":1,"vault":"e","priority":"f","label":"g",` +
			`"project":"h","team":"i","callback_url":"j","task_retries":1,"pull_secret":"k","dependency":"l",` +
			`"workdir":"m","env":{}}`,
	}
	out := make([][]byte, 0, len(bodies))
	for _, b := range bodies {
		out = append(out, []byte(b))
	}
	seeds, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecodeJobSubmit", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range seeds {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// go test fuzz v1 files hold one []byte("...") value.
		for _, line := range strings.Split(string(raw), "\n") {
			if q, ok := strings.CutPrefix(line, "[]byte("); ok {
				if s, err := strconv.Unquote(strings.TrimSuffix(q, ")")); err == nil {
					out = append(out, []byte(s))
				}
			}
		}
	}
	return out
}

// TestSubmitFastDecoderMatchesGeneric: on a corpus of valid and invalid
// submissions, decodeJobSubmit (the fast path, or the generic decoder on
// what it declines) gives the same requests and the same refusals as the
// generic decoder alone, also under request size limits that cut bodies
// short; and the fast path takes the plain bodies the Go client sends.
func TestSubmitFastDecoderMatchesGeneric(t *testing.T) {
	fast := 0
	corpus := submitCorpus(t)
	for _, body := range corpus {
		if checkSubmitDecoders(t, body, DefaultMaxBodyBytes) {
			fast++
		}
		for _, limit := range []int64{1, 10, int64(len(body)) - 1, int64(len(body))} {
			if limit > 0 {
				checkSubmitDecoders(t, body, limit)
			}
		}
	}
	for _, body := range corpus[:2] {
		if _, ok := decodeSubmitFast(body); !ok {
			t.Errorf("the fast path declined %s", body)
		}
	}
	if fast < 10 {
		t.Errorf("the fast path took %d bodies of %d", fast, len(corpus))
	}
	// A body cut by the size limit is too large whatever it holds.
	_, err := decodeJobSubmit(http.MaxBytesReader(httptest.NewRecorder(),
		io.NopCloser(strings.NewReader(`{"app":"solver","machine_type":"n1"}`)), 10))
	if !errors.Is(err, structs.ErrTooLarge) {
		t.Fatalf("cut body: %v, want ErrTooLarge", err)
	}
}

// FuzzSubmitFastDecoder: on any body, decodeJobSubmit and the generic
// decoder agree (request or refusal), and whatever the fast path takes
// the generic decoder takes alike. Seeds: the corpus above.
func FuzzSubmitFastDecoder(f *testing.F) {
	for _, b := range submitCorpus(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkSubmitDecoders(t, body, DefaultMaxBodyBytes)
		checkSubmitDecoders(t, body, int64(len(body)/2+1))
	})
}

// TestSubmitFastDecoderAllocations: the plain body decodes in two
// allocations (the request and one string for its values).
func TestSubmitFastDecoderAllocations(t *testing.T) {
	body := []byte(`{"id":"j-bench-1","app":"solver","machine_type":"n1","nodes":1}`)
	if n := testing.AllocsPerRun(100, func() {
		if _, ok := decodeSubmitFast(body); !ok {
			t.Fatal("declined")
		}
	}); n != 2 {
		t.Fatalf("%v allocations, want 2", n)
	}
}
