package appdef_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the builder (review the diff)")

// hubEnv is a one-replica hub and its administrator's key.
type hubEnv struct {
	t   *testing.T
	c   *hubtest.Cluster
	url string
	key string
}

func newHub(t *testing.T) *hubEnv {
	t.Helper()
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return &hubEnv{t: t, c: c, url: c.URL(0), key: c.AdminKey}
}

// do sends a request as the administrator and returns status and body.
func (h *hubEnv) do(method, path string, body []byte) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, out
}

func appBody(name string, def []byte) []byte {
	return []byte(fmt.Sprintf(`{"name":%q,"visibility":"public","image":"registry.example/%s:1","appdef":%s}`, name, name, def))
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf, esc bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	json.HTMLEscape(&esc, buf.Bytes()) // as encoding/json writes it
	return esc.String()
}

// jsonEqual compares two documents as values (numbers as written).
func jsonEqual(t *testing.T, want, got []byte) string {
	t.Helper()
	dec := func(b []byte) any {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return v
	}
	return cmp.Diff(dec(want), dec(got))
}

func readRef(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reference", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAppDefReference registers AppDefs that use every field and every
// parameter type of the reference (batch, MPI, interactive web, desktop,
// shell; numbers as strings where the reference writes them so) through
// the API: each registers, reads back byte for byte as registered (false,
// 0, key order, unknown fields), and every command's command line,
// environment and uploads match the goldens.
func TestAppDefReference(t *testing.T) {
	h := newHub(t)
	wantUnknown := map[string][]string{
		"shell": {`$["x-future-field"]`, `$.commands.Shell["x-command-extension"]`,
			`$.commands.Shell.parameters["-l"]["x-parameter-extension"]`},
	}
	for _, name := range []string{"batch", "mpi", "web", "desktop", "shell"} {
		t.Run(name, func(t *testing.T) {
			raw := readRef(t, name)
			_, res := appdef.Parse(raw)
			if err := res.Err(); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			code, body := h.do("PUT", "/v1/apps/"+name, appBody(name, raw))
			if code != http.StatusOK {
				t.Fatalf("PUT: %d %s", code, body)
			}
			var reply struct {
				AppDef   json.RawMessage `json:"appdef"`
				Warnings []string        `json:"warnings"`
			}
			if err := json.Unmarshal(body, &reply); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, p := range wantUnknown[name] {
				want = append(want, p+": unknown field, kept unchanged")
			}
			if d := cmp.Diff(want, reply.Warnings); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
			code, body = h.do("GET", "/v1/apps/"+name+"?consistent=true", nil)
			if code != http.StatusOK {
				t.Fatalf("GET: %d %s", code, body)
			}
			var got structs.App
			var gotRaw struct {
				AppDef json.RawMessage `json:"appdef"`
			}
			if err := json.Unmarshal(body, &gotRaw); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if d := jsonEqual(t, raw, gotRaw.AppDef); d != "" {
				t.Errorf("read back differs (-registered +read):\n%s", d)
			}
			if compact(t, raw) != string(gotRaw.AppDef) {
				t.Errorf("read back is not the document as registered (order, spelling):\n%s\n%s", compact(t, raw), gotRaw.AppDef)
			}
		})
	}
}

// goldenCases are the command lines the reference's rules give.
var goldenCases = map[string]struct {
	file, command string
	values        map[string]string
}{
	"batch-defaults":        {"batch", "Run", nil},
	"batch-values":          {"batch", "Run", map[string]string{"str_1": "it's \"quoted\"", "int_1": "10", "float_1": "9.987", "range_1": "0", "bool_1": "false", "--verbose": "true", "selection_1": "Exact", "str_3": "extra", "upload_1": base64.StdEncoding.EncodeToString([]byte("coucou\n"))}},
	"licensed-server":       {"batch", "Licensed", nil},
	"licensed-file":         {"batch", "Licensed", map[string]string{"license_is_file": "true"}},
	"mpi-defaults":          {"mpi", "imb", nil},
	"mpi-empty-selection":   {"mpi", "imb", map[string]string{"benchmark": "", "-npmin": "4"}},
	"mpi-script":            {"mpi", "script", nil},
	"web-substitutions":     {"web", "Lab", nil},
	"desktop-machine":       {"desktop", "GUI", nil},
	"shell-positional-bool": {"shell", "Shell", map[string]string{"-l": "false"}},
}

var goldenVars = appdef.Vars{Cores: 16, GPUs: 2, RAMGB: 64, Nodes: 2, MachineType: "n3", JobName: "20261205-job-7",
	JobLabel: "label", VaultName: "projects", VaultType: "FILE", APIURL: "https://hub.example/", APIUser: "alice",
	APIKey: "flj_jobscoped", PublicAddr: "j7.jobs.example", BaseURL: "https://j7.jobs.example/", Random64: "R64"}

// TestCommandLineGoldens checks every parameter type's arguments against
// testdata/golden (go test -update rewrites them).
func TestCommandLineGoldens(t *testing.T) {
	for name, tc := range goldenCases {
		t.Run(name, func(t *testing.T) {
			def, res := appdef.Parse(readRef(t, tc.file))
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			l, err := appdef.Build(def.Command(tc.command), tc.values, goldenVars)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			argv, _ := json.MarshalIndent(l.Argv, "", "  ")
			fmt.Fprintf(&b, "argv: %s\n", argv)
			fmt.Fprintf(&b, "jobenv.sh:\n%s", appdef.JobEnvFile(l.Env))
			for _, u := range l.Uploads {
				fmt.Fprintf(&b, "upload %s -> %s: %q\n", u.Parameter, u.Path, u.Data)
			}
			path := filepath.Join("testdata", "golden", name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), b.String()); d != "" {
				t.Errorf("command line (-golden +got):\n%s", d)
			}
		})
	}
}
