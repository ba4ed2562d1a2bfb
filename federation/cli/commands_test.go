package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/dispatch"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

const (
	machineTypesYAML = `
- mc_name: n1
  mc_description: 4 cores
  mc_cores: 4
  mc_slots: 4
  mc_ram: 16
  mc_scale_min: 1
  mc_scale_max: 8
  cluster: east
- mc_name: n2
  mc_cores: 8
  mc_slots: 8
  mc_ram: 32
  mc_scale_min: 1
  mc_scale_max: 4
  cluster: east
`
	// The AppDef example of the JARVICE facts, as an AppDef.json.
	appDefJSON = `{"appdefversion": 2, "name": "Mini Solver", "description": "Demo MPI solver",
 "author": "Flotilla", "licensed": false, "classifications": ["Simulation"],
 "machines": ["n*"], "vault-types": ["FILE"], "scale_max": 16,
 "commands": {"Run": {"path": "/opt/solver/run.sh", "name": "Run",
   "description": "Batch run", "interactive": false,
   "parameters": {
     "np": {"name": "Ranks", "description": "total ranks", "type": "CONST",
            "value": "%TCORES%", "positional": true, "required": true},
     "input": {"name": "Case", "description": "input case", "type": "FILE",
               "filter": "*.cas", "positional": true, "required": true}}}}}`
	limitsYAML = `
name: acme-n2-none
scope: tenant
tenant: acme
kind: concurrent_jobs
machine_type: n2
value: 0
`
	burstRulesJSON = `[{"name": "spill", "from": "n1", "to": ["n2"], "after": "10m", "when_full": true}]`
)

// step is one command of a scenario run in order against one hub.
type step struct {
	name  string
	as    string // "admin", "alice" or a literal API key
	args  []string
	code  int
	want  []string
	after func(t *testing.T, r result) // inspects the result (e.g. keeps a key)
}

// TestCommands drives every command against a one-replica hub, as an
// administrator setting up a tenant and as a user running jobs, checking
// exit codes and output.
func TestCommands(t *testing.T) {
	c, url := testHub(t)
	h := c.Hub(0)
	keys := map[string]string{"admin": c.AdminKey}
	var aliceKeyID, agentKey, jobName string
	var jobNumber uint64
	files := map[string]string{
		"mt":    writeFile(t, "machinetypes.yaml", machineTypesYAML),
		"app":   writeFile(t, "AppDef.json", appDefJSON),
		"limit": writeFile(t, "limits.yaml", limitsYAML),
		"burst": writeFile(t, "burst.json", burstRulesJSON),
		"pw":    writeFile(t, "pw", "correct horse battery staple\n"),
	}
	// dispatchPass runs one pass of the placement loop (the hub binary runs
	// it continuously), recording why each job waits.
	dispatchPass := func(t *testing.T, _ result) {
		agent, err := client.New([]string{url}, agentKey)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := agent.PushStatus(ctx, "east", &structs.ClusterStatusReport{Status: structs.ClusterReady,
			Capacity: map[string]structs.Capacity{"n1": {Free: 8, Total: 8}, "n2": {Free: 4, Total: 4}}}); err != nil {
			t.Fatal(err)
		}
		d := dispatch.New(dispatch.Config{Store: h.Store(), Writer: h, Leader: h.Node().IsLeader, Now: h.Now,
			Log: slog.New(slog.DiscardHandler)})
		if err := d.Pass(ctx); err != nil {
			t.Fatal(err)
		}
	}
	steps := []step{
		{name: "whoami admin", as: "admin", args: []string{"whoami"}, want: []string{"Global admin:", "yes"}},
		{name: "add tenant", as: "admin", args: []string{"admin", "tenants", "add", "acme", "--description", "Acme Corp"},
			want: []string{"tenant acme saved"}},
		{name: "list tenants", as: "admin", args: []string{"admin", "tenants", "list"}, want: []string{"NAME", "acme", "Acme Corp"}},
		{name: "add team", as: "admin", args: []string{"admin", "teams", "add", "--tenant", "acme", "cfd"}, want: []string{"team acme/cfd saved"}},
		{name: "list teams", as: "admin", args: []string{"admin", "teams", "list", "--tenant", "acme"}, want: []string{"cfd"}},
		{name: "add user", as: "admin", args: []string{"admin", "users", "add", "alice", "--tenant", "acme", "--teams", "cfd",
			"--uid", "1001", "--gid", "1001", "--password-file", files["pw"]}, want: []string{"user alice saved (tenant acme, role user)"}},
		{name: "list users", as: "admin", args: []string{"admin", "users", "list", "--tenant", "acme"}, want: []string{"alice", "acme", "cfd"}},
		{name: "create key", as: "admin", args: []string{"admin", "users", "key", "create", "alice", "--name", "ci", "-o", "json"},
			after: func(t *testing.T, r result) {
				var k structs.APIKeyCreated
				if err := json.Unmarshal([]byte(r.stdout), &k); err != nil || k.Key == "" {
					t.Fatalf("key create -o json: %v\n%s", err, r.stdout)
				}
				keys["alice"], aliceKeyID = k.Key, k.ID
			}},
		{name: "second key, table", as: "admin", args: []string{"admin", "users", "key", "create", "alice"}, want: []string{"shown once"}},
		{name: "list keys", as: "admin", args: []string{"admin", "users", "key", "list", "alice"}, want: []string{"ci"}},
		{name: "add cluster", as: "admin", args: []string{"admin", "clusters", "add", "east", "--zone", "z1", "--label", "cloud=onprem"},
			want: []string{"cluster east registered", "shown once"}},
		{name: "add cluster twice", as: "admin", args: []string{"admin", "clusters", "add", "east"}, code: ExitError,
			want: []string{"already registered"}},
		{name: "rotate agent key", as: "admin", args: []string{"admin", "clusters", "rotate-key", "east", "-o", "json"},
			after: func(t *testing.T, r result) {
				var added ClusterAdded
				if err := json.Unmarshal([]byte(r.stdout), &added); err != nil || added.AgentKey == nil || added.AgentKey.Key == "" {
					t.Fatalf("rotate-key -o json: %v\n%s", err, r.stdout)
				}
				agentKey = added.AgentKey.Key
			}},
		{name: "list clusters", as: "admin", args: []string{"admin", "clusters", "list"}, want: []string{"east", "z1", "unknown"}},
		{name: "bootstrap token", as: "admin", args: []string{"admin", "clusters", "token", "east"}, want: []string{"bootstrap token of cluster east", "flb_"}},
		{name: "bootstrap token of an unknown cluster", as: "admin", args: []string{"admin", "clusters", "token", "nowhere"}, code: ExitNotFound},
		{name: "apply machine types", as: "admin", args: []string{"admin", "machine-types", "apply", "-f", files["mt"]},
			want: []string{"machine type n1 applied", "machine type n2 applied"}},
		{name: "list machine types", as: "admin", args: []string{"admin", "machine-types", "list"}, want: []string{"n1", "n2", "1..8", "4 cores"}},
		{name: "apply AppDef", as: "admin", args: []string{"admin", "apps", "apply", files["app"], "--image", "registry/solver:1"},
			want: []string{"app mini-solver applied"}},
		{name: "list apps", as: "admin", args: []string{"admin", "apps", "list"}, want: []string{"mini-solver", "public", "registry/solver:1", "Run"}},
		{name: "apply limits", as: "admin", args: []string{"admin", "limits", "apply", files["limit"]}, want: []string{"limit acme-n2-none applied"}},
		{name: "list limits", as: "admin", args: []string{"admin", "limits", "list"}, want: []string{"acme-n2-none", "concurrent_jobs", "n2"}},
		{name: "apply burst rules", as: "admin", args: []string{"admin", "burst-rules", "apply", files["burst"], "-o", "json"},
			want: []string{`"name": "spill"`}},
		{name: "list burst rules", as: "admin", args: []string{"admin", "burst-rules", "list"}, want: []string{"spill", "n1", "n2", "10m0s"}},
		{name: "add vault", as: "admin", args: []string{"admin", "vaults", "add", "--tenant", "acme", "data", "--kind", "FILE", "--access", "RWO"},
			want: []string{"vault acme/data saved"}},
		{name: "list vaults", as: "admin", args: []string{"admin", "vaults", "list", "--tenant", "acme"}, want: []string{"data", "FILE", "RWO"}},

		{name: "whoami alice", as: "alice", args: []string{"whoami"}, want: []string{"alice", "acme"}},
		{name: "no jobs yet", as: "alice", args: []string{"jobs"}, want: []string{"No jobs."}},
		{name: "submit", as: "alice", args: []string{"submit", "--app", "mini-solver", "--machine", "n1", "--nodes", "2",
			"--param", "input=case.cas", "--walltime", "01:30:00", "--vault", "data", "--priority", "high"},
			want: []string{"Submitted job alice-", "(number 1), state QUEUED"}},
		{name: "submit json", as: "alice", args: []string{"-o", "json", "submit", "--app", "mini-solver", "--machine", "n2", "--param", "input=b.cas"},
			after: func(t *testing.T, r result) {
				var j structs.Job
				if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
					t.Fatalf("submit -o json: %v\n%s", err, r.stdout)
				}
				jobName, jobNumber = j.Name, j.Number
			}},
		{name: "status by name", as: "alice", args: []string{"status", "JOBNAME"}, want: []string{"Number:", "n2", "QUEUED"}},
		{name: "submit unknown app", as: "alice", args: []string{"submit", "--app", "nope", "--machine", "n1"}, code: ExitError,
			want: []string{`unknown app "nope"`, "HTTP 400"}},
		{name: "submit unknown vault", as: "alice", args: []string{"submit", "--app", "mini-solver", "--machine", "n1", "--vault", "x"},
			code: ExitError, want: []string{`unknown vault "x"`}},
		{name: "status by number", as: "alice", args: []string{"status", "1"},
			want: []string{"Number:", "alice-", "mini-solver / Run", "QUEUED", "Walltime:", "1h30m0s", "high", "Vault:"}},
		{name: "jobs table", as: "alice", args: []string{"jobs"}, want: []string{"NUMBER", "NAME", "STATE", "QUEUED", "mini-solver", "n2"}},
		{name: "jobs json", as: "alice", args: []string{"jobs", "-o", "json"}, after: func(t *testing.T, r result) {
			var jobs []*structs.Job
			if err := json.Unmarshal([]byte(r.stdout), &jobs); err != nil || len(jobs) != 2 {
				t.Fatalf("jobs -o json: %v, %d jobs\n%s", err, len(jobs), r.stdout)
			}
		}},
		{name: "place", as: "alice", args: []string{"whoami"}, after: dispatchPass},
		{name: "why held by limit", as: "alice", args: []string{"why", "2"}, want: []string{"State:", "HELD", "Why:", "no n2 jobs allowed"}},
		{name: "why assigned", as: "alice", args: []string{"why", "1"}, want: []string{"ASSIGNED", "Cluster:      east", "east"}},
		{name: "why json", as: "alice", args: []string{"why", "1", "-o", "json"}, after: func(t *testing.T, r result) {
			var w Why
			if err := json.Unmarshal([]byte(r.stdout), &w); err != nil {
				t.Fatalf("why -o json: %v\n%s", err, r.stdout)
			}
			if w.Number != 1 || w.State != structs.JobAssigned || w.Cluster != "east" || w.Explanation == "" || w.MachineType != "n1" {
				t.Errorf("why -o json = %+v", w)
			}
		}},
		{name: "ready cluster listed", as: "admin", args: []string{"admin", "clusters", "list"}, want: []string{"ready", "n1 8/8, n2 4/4"}},
		{name: "held jobs", as: "alice", args: []string{"jobs", "--state", "held"}, want: []string{"HELD", "n2"}},
		{name: "cancel by number", as: "alice", args: []string{"cancel", "1", "--reason", "wrong input"},
			want: []string{"(number 1): CANCELED"}},
		{name: "active jobs omit canceled", as: "alice", args: []string{"jobs"}, after: func(t *testing.T, r result) {
			if strings.Contains(r.stdout, "CANCELED") {
				t.Errorf("active jobs list a canceled job:\n%s", r.stdout)
			}
		}},
		{name: "all jobs", as: "alice", args: []string{"jobs", "--all"}, want: []string{"CANCELED", "HELD"}},
		{name: "status of canceled", as: "alice", args: []string{"status", "1"}, want: []string{"CANCELED", "wrong input"}},
		{name: "why by name", as: "alice", args: []string{"why", "JOBNAME"}, want: []string{"HELD"}},
		{name: "why canceled", as: "alice", args: []string{"why", "1"}, want: []string{"CANCELED"}},
		{name: "output of a job without any", as: "alice", args: []string{"output", "1"}, after: func(t *testing.T, r result) {
			if r.stdout != "" || !strings.Contains(r.stderr, "ended CANCELED with no output") {
				t.Errorf("output: stdout %q stderr %q", r.stdout, r.stderr)
			}
		}},
		{name: "output json", as: "alice", args: []string{"output", "1", "-o", "json"}, after: func(t *testing.T, r result) {
			var o Output
			if err := json.Unmarshal([]byte(r.stdout), &o); err != nil || o.Number != 1 || o.State != structs.JobCanceled {
				t.Errorf("output -o json: %+v, %v\n%s", o, err, r.stdout)
			}
		}},

		{name: "report", as: "alice", args: []string{"report", "--starttime", "2000-01-01", "--endtime", "2100-01-01T00:00"},
			want: []string{"JobID", "Partition", "NNodes", "Elapsed", "CANCELED", "Unknown", "alice"}},
		{name: "report csv", as: "alice", args: []string{"report", "-o", "csv"}, want: []string{"JobID,JobName,User", "CANCELED"}},
		{name: "report json", as: "alice", args: []string{"report", "-o", "json"}, after: func(t *testing.T, r result) {
			var recs []*structs.AccountingRecord
			if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 1 || recs[0].JobNumber != 1 {
				t.Fatalf("report -o json: %v\n%s", err, r.stdout)
			}
		}},
		{name: "report summary", as: "admin", args: []string{"report", "--summary", "--group", "tenant,partition"},
			want: []string{"TENANT", "MACHINE_TYPE", "JOBS", "COST", "acme", "n1"}},
		{name: "report nothing in window", as: "alice", args: []string{"report", "--endtime", "2000-01-01"}, want: []string{"No jobs."}},
		{name: "audit", as: "admin", args: []string{"admin", "audit", "--actor", "alice", "--action", "job."},
			want: []string{"ACTION", "job.submit", "job.cancel", "127.0.0.1", "alice"}},
		{name: "audit json", as: "admin", args: []string{"admin", "audit", "--object", "tenant/acme", "-o", "json"}, after: func(t *testing.T, r result) {
			var evs []*structs.AuditEvent
			if err := json.Unmarshal([]byte(r.stdout), &evs); err != nil || len(evs) != 1 || evs[0].Action != "tenant.create" {
				t.Fatalf("admin audit -o json: %v\n%s", err, r.stdout)
			}
		}},
		{name: "user cannot read the audit trail", as: "alice", args: []string{"admin", "audit"}, code: ExitDenied, want: []string{"HTTP 403"}},

		{name: "status missing number", as: "alice", args: []string{"status", "999"}, code: ExitNotFound, want: []string{`job "999"`}},
		{name: "status missing id", as: "alice", args: []string{"status", "j-nosuchjob"}, code: ExitNotFound, want: []string{"not found"}},
		{name: "cancel missing name", as: "alice", args: []string{"cancel", "alice-2020-01-01-0042"}, code: ExitNotFound},
		{name: "user cannot add tenants", as: "alice", args: []string{"admin", "tenants", "add", "evil"}, code: ExitDenied,
			want: []string{"HTTP 403"}},
		{name: "user cannot see others' keys", as: "alice", args: []string{"admin", "users", "key", "list", "admin"}, code: ExitDenied},
		{name: "bad api key", as: "flt-nope", args: []string{"jobs"}, code: ExitDenied, want: []string{"HTTP 401"}},
		{name: "no api key", as: "", args: []string{"jobs"}, code: ExitDenied},
		{name: "delete missing app", as: "admin", args: []string{"admin", "apps", "delete", "nope"}, code: ExitNotFound},
		{name: "delete burst rule", as: "admin", args: []string{"admin", "burst-rules", "delete", "spill"}, want: []string{"burst rule spill deleted"}},
		{name: "delete limit", as: "admin", args: []string{"admin", "limits", "delete", "acme-n2-none"}, want: []string{"limit acme-n2-none deleted"}},
		{name: "list replicas", as: "admin", args: []string{"admin", "replicas"}, want: []string{"ID", "SUFFRAGE", "hub0", "voter", "yes"}},
		{name: "list replicas locally", as: "admin", args: []string{"admin", "replicas", "--local"}, want: []string{"hub0", "voter"}},
		{name: "list replicas json", as: "admin", args: []string{"admin", "replicas", "-o", "json"}, after: func(t *testing.T, r result) {
			var reps []*structs.ReplicaStatus
			if err := json.Unmarshal([]byte(r.stdout), &reps); err != nil || len(reps) != 1 || reps[0].ID != "hub0" ||
				reps[0].Suffrage != structs.SuffrageVoter || !reps[0].Leader || reps[0].RaftAddress == "" {
				t.Fatalf("replicas -o json: %v\n%s", err, r.stdout)
			}
		}},
		{name: "user cannot list replicas", as: "alice", args: []string{"admin", "replicas"}, code: ExitDenied, want: []string{"HTTP 403"}},
		{name: "remove unknown replica", as: "admin", args: []string{"admin", "replica", "remove", "hub9"}, code: ExitNotFound,
			want: []string{`replica "hub9"`}},
		{name: "remove the last replica", as: "admin", args: []string{"admin", "replica", "remove", "hub0"}, code: ExitError,
			want: []string{"last voter", "HTTP 409"}},
		{name: "revoke key", as: "admin", args: []string{"admin", "users", "key", "revoke", "alice", "KEYID"}, want: []string{"deleted"}},
		{name: "revoked key fails", as: "alice", args: []string{"jobs"}, code: ExitDenied},
	}
	for _, st := range steps {
		ok := t.Run(st.name, func(t *testing.T) {
			key, found := keys[st.as]
			if !found {
				key = st.as
			}
			args := []string{"--hub", url, "--timeout", "20s"}
			for _, a := range st.args {
				switch a {
				case "KEYID":
					a = aliceKeyID
				case "JOBNAME":
					a = jobName
				}
				args = append(args, a)
			}
			r := runCLI(t, map[string]string{EnvAPIKey: key}, args...)
			r.check(t, st.code, st.want...)
			if st.after != nil {
				st.after(t, r)
			}
		})
		if !ok {
			t.Fatalf("step %q failed; later steps depend on it", st.name)
		}
	}
	// The name and id of a job find it too.
	admin := map[string]string{EnvAPIKey: keys["admin"]}
	runCLI(t, admin, "--hub", url, "status", jobName).check(t, ExitOK, fmt.Sprintf("%d\n", jobNumber), jobName)
	r := runCLI(t, admin, "--hub", url, "-o", "json", "status", jobName)
	var j structs.Job
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
		t.Fatal(err)
	}
	runCLI(t, admin, "--hub", url, "terminate", j.ID).check(t, ExitOK, "CANCELED")
	// Several hub URLs: an unreachable one is skipped.
	runCLI(t, admin, "--hub", "http://127.0.0.1:1,"+url, "admin", "tenants", "list").check(t, ExitOK, "acme")
}

// TestUnreachableHub: a hub that cannot be reached exits 5 (whatever
// failed: connection, DNS, TLS, a hub that never answers), saying which
// URL failed and why; a hub that replies, even with a failure, exits 1.
func TestUnreachableHub(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"replica overloaded"}`, http.StatusServiceUnavailable)
	}))
	defer plain.Close()
	tlsHub := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("[]"))
	}))
	defer tlsHub.Close()
	// A hub that takes connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	silentURL := "http://" + silent.Addr().String()
	plainHTTPS := "https://" + strings.TrimPrefix(plain.URL, "http://")
	tests := map[string]struct {
		hub  string
		code int
		want []string
	}{
		"refused": {"http://127.0.0.1:1", ExitUnreachable,
			[]string{"flotilla: cannot reach the hub at http://127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused"}},
		"several refused": {"http://127.0.0.1:1,http://127.0.0.1:2", ExitUnreachable,
			[]string{"cannot reach the hub at http://127.0.0.1:", "(the last of the hub URLs tried)"}},
		"no such host": {"http://hub.no-such-domain.invalid:8080", ExitUnreachable,
			[]string{"cannot reach the hub at http://hub.no-such-domain.invalid:8080: ", "hub.no-such-domain.invalid"}},
		"untrusted certificate": {tlsHub.URL, ExitUnreachable,
			[]string{"cannot reach the hub at " + tlsHub.URL + ": its TLS certificate is not trusted (x509: ", "--ca-file"}},
		"https to a plain hub": {plainHTTPS, ExitUnreachable,
			[]string{"cannot reach the hub at " + plainHTTPS + ": ", "HTTP response to HTTPS client"}},
		"never answers": {silentURL, ExitUnreachable,
			[]string{"cannot reach the hub at " + silentURL + ": ", "(kept trying for --timeout 300ms)"}},
		"replies 503": {plain.URL, ExitError, []string{"flotilla: replica overloaded (HTTP 503)"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// --timeout is also how long the CLI keeps retrying a hub
			// that refuses or fails, so most cases keep it short. An
			// untrusted certificate is final at once: give its handshake
			// time, so that a loaded machine (a TLS handshake slower than
			// 300 ms) does not turn the failure into a timeout.
			timeout := "300ms"
			if tc.hub == tlsHub.URL {
				timeout = "30s"
			}
			r := runCLI(t, map[string]string{EnvHub: tc.hub}, "--timeout", timeout, "jobs")
			r.check(t, tc.code, tc.want...)
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
	// The code is the same for every command that calls the hub.
	for _, args := range [][]string{{"submit", "--app", "a", "--machine", "n1"}, {"status", "7"}, {"cancel", "7"}, {"output", "--follow", "7"},
		{"admin", "tenants", "list"}} {
		r := runCLI(t, map[string]string{EnvHub: "http://127.0.0.1:1"}, append([]string{"--timeout", "200ms"}, args...)...)
		r.check(t, ExitUnreachable, "cannot reach the hub at http://127.0.0.1:1")
	}
}
