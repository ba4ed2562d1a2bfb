package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jarviceRequest is one HTTP request exactly as a public JARVICE client
// sends it.
type jarviceRequest struct {
	method, endpoint string
	query            url.Values
	contentType      string
	body             string
}

func (e *env) sendJarvice(r jarviceRequest) (int, http.Header, []byte) {
	e.t.Helper()
	u := e.url + "/jarvice/" + r.endpoint
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequest(r.method, u, strings.NewReader(r.body))
	if err != nil {
		e.t.Fatal(err)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// jarviceCase is one client request and what the client reads of the
// reply: its status, its exact Content-Type, and check (nil: nothing
// more).
type jarviceCase struct {
	req         jarviceRequest
	code        int
	contentType string // exactly
	check       func(t *testing.T, body []byte)
}

// hpcJobs is what nimbix/jarvice-hpc (its qstat, squeue and qacct) decodes
// /jarvice/jobs into: a map keyed by job number, Go integers for times
// and exit code.
type hpcJobs map[int]struct {
	Label         string `json:"job_label"`
	User          string `json:"job_owner_username"`
	Status        string `json:"job_status"`
	SubmitTime    int    `json:"job_submit_time"`
	StartTime     int    `json:"job_start_time"`
	EndTime       int    `json:"job_end_time"`
	ExitCode      int    `json:"job_exitcode"`
	App           string `json:"job_application"`
	ApiSubmission struct {
		Machine struct {
			Type  string `json:"type"`
			Nodes int    `json:"nodes"`
		} `json:"machine"`
		Queue string `json:"queue"`
	} `json:"job_api_submission"`
}

// TestJarviceClientRequestForms replays the request forms of the public
// JARVICE clients against a hub — the jarviceclient Python library
// (nimbix/jarvice_cli: GET with query parameters, POST submit with a JSON
// body, Content-Type compared as a whole string), python-jarviceapi
// (nimbix/python-jarviceapi and the jarvice-cli on it: query parameters,
// JSON submit), the jarvice-job-exec recipe of the JARVICE documentation
// (curl -d with a JSON body, which curl labels a form; curl --get
// --data-urlencode), and jarvice-hpc's qsub/qstat/qdel/sinfo (Go: JSON
// submit with the hpc object, /jobs into map[int]struct, /queues into a
// list or a map, error bodies into map[string]string) — and checks every
// field those clients read, with the type they read it as. PushToCompute
// scripts' pulls (curl -F, a multipart form; curl --get) re-point an app.
func TestJarviceClientRequestForms(t *testing.T) {
	e := newEnv(t)
	alice := seedSmall(e)
	creds := func(more ...string) url.Values {
		v := url.Values{"username": {"alice"}, "apikey": {alice}}
		for i := 0; i+1 < len(more); i += 2 {
			v.Set(more[i], more[i+1])
		}
		return v
	}
	user := fmt.Sprintf(`"user":{"username":"alice","apikey":%q}`, alice)
	submits := map[string]jarviceRequest{
		// jarviceclient.Client.submit: requests.post(json=job) with the user object added.
		"jarviceclient submit": {method: "POST", endpoint: "submit", contentType: "application/json",
			body: `{"app":"pub","application":{"command":"Run","geometry":"1280x720","parameters":{"np":2,"verbose":false}},
				"machine":{"type":"n1","nodes":1},"vault":{"name":"","readonly":false,"force":false},` + user + `}`},
		// jarvice-job-exec: curl -s -d "$json" .../submit — a JSON body labelled a form, whose
		// values carry characters a form decoder refuses (% ;).
		"jarvice-job-exec submit": {method: "POST", endpoint: "submit", contentType: "application/x-www-form-urlencoded",
			body: `{"app":"pub","staging":false,"checkedout":false,"application":{"command":"Run","geometry":"1904x841",
				"parameters":{"input":"/data/run 100%; final.cas"}},"machine":{"type":"n1","nodes":1},` + user + `}`},
		// jarvice-hpc qsub/sbatch: http.NewRequest POST, Content-Type application/json, the hpc object.
		"jarvice-hpc submit": {method: "POST", endpoint: "submit", contentType: "application/json",
			body: `{"app":"pub","staging":false,"checkedout":false,"application":{"command":"Run","geometry":"1280x720",
				"parameters":{"np":1}},"machine":{"type":"n1","nodes":1},"vault":{"name":"","readonly":false,"force":false},
				"job_label":"HpcJob",` + user + `,"hpc":{"hpc_job_env_config":"join () { local IFS=\"$1\"; shift; echo \"$*\"; };",
				"hpc_job_script":"IyEvYmluL2Jhc2gKaG9zdG5hbWUK","hpc_job_shell":"/bin/bash","hpc_queue":"default","hpc_umask":18,
				"hpc_envs":{"A":"1"},"hpc_resources":{"nodes":"1"}}}`},
	}
	// nimbix/nf-jarvice (Nextflow): POST /jarvice/batch, JSON, the job label and a script.
	submits["nf-jarvice batch"] = jarviceRequest{method: "POST", endpoint: "batch", contentType: "application/json",
		body: `{"vault":{"name":"","readonly":false,"force":false},` + user + `,"machine":{"type":"n1","nodes":1},
			"job_label":"nf-1","container":{"jobscript":"#!/bin/bash\necho nf","image":"library/ubuntu:jammy"}}`}
	numbers := map[string]string{}
	for name, r := range submits {
		code, h, body := e.sendJarvice(r)
		var reply struct {
			Name   string `json:"name"`
			Number int    `json:"number"` // jarvice-hpc's JarviceJobResponse
		}
		if code != http.StatusOK || json.Unmarshal(body, &reply) != nil || reply.Name == "" || reply.Number == 0 {
			t.Fatalf("%s: %d %s", name, code, body)
		}
		if ct := h.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q, want exactly application/json (jarviceclient compares the whole header)", name, ct)
		}
		numbers[name] = fmt.Sprint(reply.Number)
	}
	done := numbers["jarvice-hpc submit"]
	// jarvice-hpc qdel: GET terminate?number=N.
	if code, _, body := e.sendJarvice(jarviceRequest{method: "GET", endpoint: "terminate", query: creds("number", done)}); code != http.StatusOK {
		t.Fatalf("qdel terminate: %d %s", code, body)
	}

	cases := map[string]jarviceCase{
		// jarviceclient.utils.wait_for: status by number, result[first key]['job_status'].lower()
		// among completed, completed with error, terminated, canceled.
		"jarviceclient status by number": {jarviceRequest{method: "GET", endpoint: "status", query: creds("number", done)},
			200, "application/json", func(t *testing.T, b []byte) {
				var m map[string]map[string]any
				if err := json.Unmarshal(b, &m); err != nil || len(m) != 1 {
					t.Fatalf("%v: %s", err, b)
				}
				for _, v := range m {
					s, _ := v["job_status"].(string)
					switch strings.ToLower(s) {
					case "completed", "completed with error", "terminated", "canceled":
					default:
						t.Errorf("job_status %q: not one of the client's COMPLETED_STATUSES", s)
					}
				}
			}},
		"jarviceclient status by name": {jarviceRequest{method: "GET", endpoint: "status", query: creds("name", jobName(t, e, creds, numbers["jarviceclient submit"]))},
			200, "application/json", nil},
		// jarviceclient jobs(name=...) passes the name along.
		"jarviceclient jobs with name": {jarviceRequest{method: "GET", endpoint: "jobs", query: creds("name", "anything")},
			200, "application/json", nil},
		// jarviceclient output(lines=...): text compared with exactly "text/plain".
		"jarviceclient output": {jarviceRequest{method: "GET", endpoint: "output", query: creds("number", done, "lines", "50")},
			200, "text/plain", nil},
		// python-jarviceapi StatusAndInformationApi.jarvice_events_get: query parameters, a str.
		"python-jarviceapi events": {jarviceRequest{method: "GET", endpoint: "events", query: creds("number", done)},
			200, "text/plain", nil},
		// jarvice-job-exec: curl --get --data-urlencode username apikey name, then
		// get_json_value "['error']" and "['address']".
		"jarvice-job-exec info by name": {jarviceRequest{method: "GET", endpoint: "info", query: creds("name", jobName(t, e, creds, numbers["jarvice-job-exec submit"]))},
			200, "application/json", func(t *testing.T, b []byte) {
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				if _, ok := m["address"]; !ok || m["error"] != nil {
					t.Errorf("info %s: want an address key and no error", b)
				}
			}},
		// jarvice-hpc qacct: jobs?completed=true into map[int]struct.
		"jarvice-hpc qacct jobs completed": {jarviceRequest{method: "GET", endpoint: "jobs", query: creds("completed", "true")},
			200, "application/json", func(t *testing.T, b []byte) {
				var jobs hpcJobs
				if err := json.Unmarshal(b, &jobs); err != nil {
					t.Fatalf("jarvice-hpc cannot decode /jobs: %v: %s", err, b)
				}
				var n int
				_, _ = fmt.Sscan(done, &n)
				if j, ok := jobs[n]; !ok || j.Label != "HpcJob" || j.App != "pub" || j.User != "alice" || j.SubmitTime == 0 {
					t.Errorf("job %d in %+v: want label HpcJob, app pub, owner alice, a submit time", n, jobs)
				}
			}},
		// jarvice-hpc qstat/squeue: jobs into map[int]struct.
		"jarvice-hpc qstat jobs": {jarviceRequest{method: "GET", endpoint: "jobs", query: creds()},
			200, "application/json", func(t *testing.T, b []byte) {
				var jobs hpcJobs
				if err := json.Unmarshal(b, &jobs); err != nil || len(jobs) != len(numbers)-1 {
					t.Errorf("want every active job (all but the terminated one): %v: %s", err, b)
				}
			}},
		// jarvice-hpc qconf: queues into []string.
		"jarvice-hpc qconf queues": {jarviceRequest{method: "GET", endpoint: "queues", query: creds()},
			200, "application/json", func(t *testing.T, b []byte) {
				var qs []string
				if err := json.Unmarshal(b, &qs); err != nil {
					t.Errorf("queues into []string: %v: %s", err, b)
				}
			}},
		// jarvice-hpc sinfo: queues?info=true into map[string]struct.
		"jarvice-hpc sinfo queues info": {jarviceRequest{method: "GET", endpoint: "queues", query: creds("info", "true")},
			200, "application/json", func(t *testing.T, b []byte) {
				var qs map[string]struct {
					Name string `json:"name"`
					App  string `json:"app"`
					Size int    `json:"size"`
				}
				if err := json.Unmarshal(b, &qs); err != nil {
					t.Errorf("queues info into a map: %v: %s", err, b)
				}
			}},
		// jarvice-hpc ApiReq on a failure: the body into map[string]string, its "error".
		"jarvice-hpc error body": {jarviceRequest{method: "GET", endpoint: "status", query: creds("number", "999999")},
			404, "application/json", func(t *testing.T, b []byte) {
				m := map[string]string{}
				_ = json.Unmarshal(b, &m) // Go keeps the string members of a mixed object
				if m["error"] == "" {
					t.Errorf("error body %s: want an \"error\" string", b)
				}
			}},
		// jarvice-dragen-batch: http.PostForm status and tail with username, apikey,
		// number; job_status compared with SUBMITTED, PROCESSING STARTING, COMPLETED.
		"jarvice-dragen-batch status form": {jarviceRequest{method: "POST", endpoint: "status", contentType: "application/x-www-form-urlencoded",
			body: creds("number", numbers["jarviceclient submit"]).Encode()}, 200, "application/json", func(t *testing.T, b []byte) {
			var m map[string]struct {
				Status string `json:"job_status"`
			}
			if err := json.Unmarshal(b, &m); err != nil || m[numbers["jarviceclient submit"]].Status != "SUBMITTED" {
				t.Errorf("status %s: want SUBMITTED for a queued job (%v)", b, err)
			}
		}},
		"jarvice-dragen-batch machines form": {jarviceRequest{method: "POST", endpoint: "machines", contentType: "application/x-www-form-urlencoded",
			body: creds().Encode()}, 200, "application/json", nil},
		// nf-jarvice: GET status, output (lines=0) and shutdown by name.
		"nf-jarvice status by name": {jarviceRequest{method: "GET", endpoint: "status", query: creds("name", jobName(t, e, creds, numbers["nf-jarvice batch"]))},
			200, "application/json", func(t *testing.T, b []byte) {
				var m map[string]map[string]any
				if err := json.Unmarshal(b, &m); err != nil || m[numbers["nf-jarvice batch"]]["job_status"] != "SUBMITTED" {
					t.Errorf("status %s: want the job number as key and its job_status (%v)", b, err)
				}
			}},
		"nf-jarvice shutdown of a queued job": {jarviceRequest{method: "GET", endpoint: "shutdown", query: creds("name", jobName(t, e, creds, numbers["nf-jarvice batch"]))},
			404, "application/json", nil},
		// nimbix/jarvice-cli's image build: curl --fail -X POST -d @AppDef.json .../jarvice/validate
		// (a form label; curl -d drops the file's newlines).
		"jarvice-cli validate with curl -d": {jarviceRequest{method: "POST", endpoint: "validate", contentType: "application/x-www-form-urlencoded",
			body: `{    "name": "x",    "commands": {        "Shell": {            "path": "/bin/bash -l",            "webshell": true,            "name": "Shell",            "description": "d"        }    }}`},
			200, "application/json", func(t *testing.T, b []byte) {
				if !bytes.Contains(b, []byte(`"valid":true`)) {
					t.Errorf("validate: %s", b)
				}
			}},
		// python-jarviceapi sends POST only for submit and batch, but the reference
		// lets every endpoint take POST: the job-exec recipe's form for a job call.
		"form POST status": {jarviceRequest{method: "POST", endpoint: "status", contentType: "application/x-www-form-urlencoded",
			body: creds("number", done).Encode()}, 200, "application/json", nil},
		"JSON POST status": {jarviceRequest{method: "POST", endpoint: "status", contentType: "application/json",
			body: fmt.Sprintf(`{"username":"alice","apikey":%q,"number":%s}`, alice, done)}, 200, "application/json", nil},
	}
	// PushToCompute scripts re-point an app at a pushed image: one with
	// curl -X POST -F (multipart), one with curl --get --data-urlencode.
	e.must(e.client(alice).PutApp(e.ctx(), &structs.App{Name: "hpc_demo", Visibility: structs.VisibilityPrivate, Image: "blacklynx/search:v7",
		AppDef: structs.AppDef{Name: "Demo", Commands: map[string]structs.Command{"Run": {Path: "/run"}}}}))
	reg := newTestRegistry(t, "", "")
	pushed, digest := reg.push("blacklynx/search:v8.nimbix.demo", appDefImage("Search"))
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for _, kv := range [][2]string{{"username", "alice"}, {"repo", pushed}, {"apikey", alice}, {"target", "hpc_demo"}} {
		_ = mw.WriteField(kv[0], kv[1])
	}
	_ = mw.Close()
	pulled := func(image string) func(*testing.T, []byte) {
		return func(t *testing.T, b []byte) {
			var r struct {
				Status string `json:"status"`
			}
			if err := json.Unmarshal(b, &r); err != nil || r.Status == "" {
				t.Errorf("pull reply %s: want a status (%v)", b, err)
			}
			if app := value[*structs.App](t)(e.admin.GetApp(e.ctx(), "hpc_demo")); app.Image != image {
				t.Errorf("app image %q, want %q", app.Image, image)
			}
		}
	}
	cases["PushToCompute pull with curl -F"] = jarviceCase{jarviceRequest{method: "POST", endpoint: "pull", contentType: mw.FormDataContentType(),
		body: form.String()}, 200, "application/json", pulled(pushed + "@" + digest)}
	cases["PushToCompute pull with curl --get"] = jarviceCase{jarviceRequest{method: "GET", endpoint: "pull",
		query: creds("target", "hpc_demo", "repo", pushed)}, 200, "application/json", pulled(pushed + "@" + digest)}
	// Log tailers of the old API's users: requests.get(tail?...&lines=10000)
	// once the job is past SUBMITTED; a body equal to these very bytes
	// means the job no longer runs (anything else is printed as log).
	cases["log tailer: tail of an ended job"] = jarviceCase{jarviceRequest{method: "GET", endpoint: "tail",
		query: creds("number", done, "lines", "10000")}, 404, "application/json", func(t *testing.T, b []byte) {
		if want := "{\n    \"error\": \"Running job is not found\"\n}\n"; string(b) != want {
			t.Errorf("tail of an ended job: %q, want exactly %q", b, want)
		}
	}}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, h, body := e.sendJarvice(tc.req)
			if code != tc.code {
				t.Fatalf("%d %s, want %d", code, body, tc.code)
			}
			if ct := h.Get("Content-Type"); ct != tc.contentType {
				t.Errorf("Content-Type %q, want exactly %q", ct, tc.contentType)
			}
			if tc.check != nil {
				tc.check(t, body)
			}
		})
	}
}

// jobName is the name /jarvice/status reports for job number n.
func jobName(t *testing.T, e *env, creds func(...string) url.Values, n string) string {
	t.Helper()
	code, _, body := e.sendJarvice(jarviceRequest{method: "GET", endpoint: "status", query: creds("number", n)})
	var m map[string]struct {
		Name string `json:"job_name"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &m) != nil || m[n].Name == "" {
		t.Fatalf("status %s: %d %s", n, code, body)
	}
	if !bytes.Contains(body, []byte(m[n].Name)) {
		t.Fatal("name not in reply")
	}
	return m[n].Name
}
