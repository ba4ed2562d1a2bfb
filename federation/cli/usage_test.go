package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// TestBadInputSendsNothing runs commands with bad command lines or bad
// files against a hub that counts requests: each must exit 2 with a clear
// message and send nothing.
func TestBadInputSendsNothing(t *testing.T) {
	url, requests := countingHub(t)
	unknownField := writeFile(t, "mt.yaml", "mc_name: n1\nmc_cores: 4\nmc_slots: 4\nmc_ram: 16\nmc_scale_min: 1\nmc_scale_max: 4\nmc_colour: red\n")
	badMT := writeFile(t, "mt.json", `[{"mc_name": "ok", "mc_cores": 4, "mc_slots": 4, "mc_ram": 8, "mc_scale_min": 1, "mc_scale_max": 2},
		{"mc_name": "n0", "mc_cores": 0, "mc_slots": 0, "mc_ram": 8, "mc_scale_min": 1, "mc_scale_max": 2}]`)
	notYAML := writeFile(t, "bad.yaml", "mc_name: [unclosed\n")
	badLimit := writeFile(t, "limit.yaml", "name: l1\nscope: galaxy\ntenant: acme\nkind: total_cores\nvalue: 4\n")
	badRule := writeFile(t, "rule.yaml", "name: r1\nfrom: n1\nto: []\n")
	badApp := writeFile(t, "AppDef.json", `{"name": "X", "commands": {"Run": {"path": "/run", "parameters": {"p": {"name": "p", "type": "COLOUR"}}}}}`)
	noPath := writeFile(t, "nopath.json", `{"name": "X", "commands": {"Run": {"name": "Run"}}}`)
	appWithFlags := writeFile(t, "app.json", `{"name": "x", "visibility": "public", "appdef": {"name": "X"}}`)
	twoDocs := writeFile(t, "two.json", `{"mc_name": "a", "mc_cores": 1, "mc_slots": 1, "mc_ram": 1, "mc_scale_min": 1, "mc_scale_max": 1} {}`)
	empty := writeFile(t, "empty.yaml", "")
	multiDoc := writeFile(t, "multi.yaml", "---\nname: r1\nfrom: n1\nto: [n2]\n---\nname: r2\nfrom: n1\nto: [n3]\n")
	tests := map[string]struct {
		args    []string
		wantMsg string
	}{
		"no command":                         {nil, "usage: flotilla"},
		"unknown command":                    {[]string{"launch"}, `unknown command "launch"`},
		"unknown admin command":              {[]string{"admin", "planets", "list"}, `admin: unknown command "planets"`},
		"admin alone":                        {[]string{"admin"}, "a command is required"},
		"unknown flag":                       {[]string{"jobs", "--colour"}, "flag provided but not defined: -colour"},
		"bad output format":                  {[]string{"-o", "yaml", "jobs"}, `-o "yaml": want table or json`},
		"csv output of jobs":                 {[]string{"-o", "csv", "jobs"}, `-o "csv": want table or json`},
		"report bad starttime":               {[]string{"report", "--starttime", "yesterday"}, "want YYYY-MM-DD"},
		"report backwards":                   {[]string{"report", "--starttime", "2026-12-02", "--endtime", "2026-12-01"}, "--endtime must be after"},
		"report bad group":                   {[]string{"report", "--summary", "--group", "colour"}, `group "colour"`},
		"audit bad since":                    {[]string{"admin", "audit", "--since", "2026-13-01"}, "want YYYY-MM-DD"},
		"submit without app":                 {[]string{"submit", "--machine", "n1"}, "--app is required"},
		"submit without machine":             {[]string{"submit", "--app", "a"}, "--machine is required"},
		"submit zero nodes":                  {[]string{"submit", "--app", "a", "--machine", "n1", "--nodes", "0"}, "--nodes 0"},
		"submit bad walltime":                {[]string{"submit", "--app", "a", "--machine", "n1", "--walltime", "soon"}, `--walltime "soon"`},
		"submit bad priority":                {[]string{"submit", "--app", "a", "--machine", "n1", "--priority", "urgent"}, `--priority "urgent"`},
		"submit param not kv":                {[]string{"submit", "--app", "a", "--machine", "n1", "--param", "np"}, "want key=value"},
		"submit param twice":                 {[]string{"submit", "--app", "a", "--machine", "n1", "--param", "a=1", "--param", "a=2"}, "given twice"},
		"submit stray argument":              {[]string{"submit", "--app", "a", "--machine", "n1", "extra"}, `unexpected argument "extra"`},
		"status without job":                 {[]string{"status"}, "missing JOB"},
		"status two jobs":                    {[]string{"status", "1", "2"}, `unexpected argument "2"`},
		"why without job":                    {[]string{"why"}, "missing JOB"},
		"cancel without job":                 {[]string{"cancel"}, "name a JOB (or several), or select jobs with --state"},
		"cancel jobs and filter":             {[]string{"cancel", "1", "--state", "queued"}, "not both"},
		"cancel tasks of two jobs":           {[]string{"cancel", "1", "2", "--tasks", "3"}, "--tasks needs exactly one JOB"},
		"cancel bad state":                   {[]string{"cancel", "--state", "asleep"}, `--state "asleep": unknown state`},
		"terminate without job":              {[]string{"terminate"}, "name a JOB"},
		"jobs bad state in list":             {[]string{"jobs", "--state", "PD,zz"}, `--state "zz": unknown state`},
		"jobs empty state list":              {[]string{"jobs", "--state", ","}, "no state named"},
		"submit slurm walltime out of range": {[]string{"submit", "--app", "a", "--machine", "n1", "--time", "1-24:00"}, `--walltime "1-24:00": want MM, MM:SS`},
		"submit bad task walltime":           {[]string{"submit", "--app", "a", "--machine", "n1", "--array", "1-4", "--task-walltime", "10:75"}, `--task-walltime "10:75"`},
		"cancel bad task list":               {[]string{"cancel", "1", "--tasks", "17,x"}, `"17,x": part "x": want INDEX or START-END[:STEP]`},
		"cancel tasks with a %MAX":           {[]string{"cancel", "1", "--tasks", "1-10%2"}, `"1-10%2": a %MAX belongs to --array, not to a list of tasks`},
		"cancel tasks with step 0":           {[]string{"cancel", "1", "--tasks", "1-10:0"}, `part "1-10:0": step 0`},
		"jobs bad state":                     {[]string{"jobs", "--state", "SLEEPING"}, `--state "SLEEPING"`},
		"apply without file":                 {[]string{"admin", "machine-types", "apply"}, "a file is required"},
		"apply missing file":                 {[]string{"admin", "machine-types", "apply", "-f", "/nonexistent/mt.yaml"}, "no such file"},
		"apply unknown field":                {[]string{"admin", "machine-types", "apply", unknownField}, `unknown field "mc_colour"`},
		"apply invalid item":                 {[]string{"admin", "machine-types", "apply", "-f", badMT}, "machine type 2"},
		"apply not yaml":                     {[]string{"admin", "machine-types", "apply", notYAML}, "bad.yaml"},
		"apply trailing data":                {[]string{"admin", "machine-types", "apply", twoDocs}, "two.json"},
		"apply yaml documents":               {[]string{"admin", "burst-rules", "apply", multiDoc}, "several YAML documents"},
		"apply empty file":                   {[]string{"admin", "limits", "apply", empty}, "empty"},
		"limit bad scope":                    {[]string{"admin", "limits", "apply", badLimit}, `scope "galaxy"`},
		"burst rule no targets":              {[]string{"admin", "burst-rules", "apply", badRule}, "no target"},
		"app bad parameter type":             {[]string{"admin", "apps", "apply", badApp}, `type "COLOUR"`},
		"app command without path":           {[]string{"admin", "apps", "apply", noPath}, "path: required"},
		"app file with flags":                {[]string{"admin", "apps", "apply", appWithFlags, "--image", "x"}, "drop the flags"},
		"pull-secret neither":                {[]string{"app", "pull-secret", "solver"}, "give -file F to set the credential or -remove"},
		"pull-secret both":                   {[]string{"app", "pull-secret", "solver", "--remove", "--file", appWithFlags}, "give -file F to set the credential or -remove"},
		"pull-secret not docker":             {[]string{"app", "pull-secret", "solver", "--file", appWithFlags}, "names none"},
		"pull-secret missing file":           {[]string{"app", "pull-secret", "solver", "--file", "/nonexistent/config.json"}, "no such file"},
		"pull-secret without app":            {[]string{"app", "pull-secret", "--remove"}, "missing APP"},
		"user without tenant":                {[]string{"admin", "users", "add", "bob"}, "--tenant is required"},
		"user bad role":                      {[]string{"admin", "users", "add", "bob", "--tenant", "acme", "--role", "boss"}, `role "boss"`},
		"vault bad kind":                     {[]string{"admin", "vaults", "add", "v", "--kind", "TAPE"}, `kind "TAPE"`},
		"key revoke one argument":            {[]string{"admin", "users", "key", "revoke", "bob"}, "missing USERNAME KEY-ID"},
		"cluster label not kv":               {[]string{"admin", "clusters", "add", "east", "--label", "gpu"}, "want key=value"},
		"replica remove no id":               {[]string{"admin", "replica", "remove"}, "missing ID"},
		"replicas with argument":             {[]string{"admin", "replicas", "hub0"}, `unexpected argument "hub0"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := requests.Load()
			r := runCLI(t, nil, append([]string{"--hub", url}, tc.args...)...)
			r.check(t, ExitUsage, tc.wantMsg)
			if n := requests.Load() - before; n != 0 {
				t.Errorf("%d requests sent for bad input", n)
			}
		})
	}
}

func TestNoHub(t *testing.T) {
	r := runCLI(t, nil, "jobs")
	r.check(t, ExitUsage, "no hub", EnvHub)
	r = runCLI(t, map[string]string{EnvHub: "ftp://hub"}, "jobs")
	r.check(t, ExitUsage, "bad hub URL")
}

func TestHelp(t *testing.T) {
	tests := map[string][]string{
		"root -h":       {"-h"},
		"help command":  {"help"},
		"submit -h":     {"submit", "-h"},
		"admin help":    {"admin", "help"},
		"users key -h":  {"admin", "users", "key", "create", "-h"},
		"status --help": {"status", "--help"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, nil, args...)
			r.check(t, ExitOK, "usage: flotilla")
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := map[string]struct {
		err  error
		want int
	}{
		"nil":             {nil, ExitOK},
		"help":            {flag.ErrHelp, ExitOK},
		"usage":           {usagef("bad"), ExitUsage},
		"not found":       {&client.APIError{Status: 404, Message: "job: not found"}, ExitNotFound},
		"local miss":      {structs.Errorf(structs.ErrNotFound, "job %q", "7"), ExitNotFound},
		"unauthorized":    {&client.APIError{Status: 401}, ExitDenied},
		"forbidden":       {fmt.Errorf("wrapped: %w", &client.APIError{Status: 403}), ExitDenied},
		"bad request":     {&client.APIError{Status: 400, Message: "unknown app"}, ExitError},
		"conflict":        {&client.APIError{Status: 409}, ExitError},
		"unavailable":     {&client.APIError{Status: 503}, ExitError},
		"other":           {errors.New("decoding reply: unexpected EOF"), ExitError},
		"unreachable hub": {fmt.Errorf("wrapped: %w", &unreachableError{err: errors.New("connection refused")}), ExitUnreachable},
		"other transport": {&url.Error{Op: "Get", URL: "http://h:1/v1/jobs", Err: errors.New("connection refused")}, ExitError},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ExitCode(tc.err); got != tc.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestParseInterspersed(t *testing.T) {
	tests := map[string]struct {
		args    []string
		wantPos []string
		wantO   string
	}{
		"flags first":   {[]string{"-o", "json", "a", "b"}, []string{"a", "b"}, "json"},
		"flags between": {[]string{"a", "-o", "json", "b"}, []string{"a", "b"}, "json"},
		"flags last":    {[]string{"a", "b", "--o=json"}, []string{"a", "b"}, "json"},
		"after dashes":  {[]string{"a", "--", "-o", "json"}, []string{"a", "-o", "json"}, "table"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := &session{output: "table"}
			fs := s.flagSet("t")
			pos, err := parseInterspersed(fs, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantPos, pos); diff != "" || s.output != tc.wantO {
				t.Errorf("positional (-want +got)\n%s\n-o = %q, want %q", diff, s.output, tc.wantO)
			}
		})
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{"Mini Solver": "mini-solver", "  OpenFOAM v11 (MPI) ": "openfoam-v11-mpi", "x": "x"} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
	if !strings.Contains(explain(&structs.Job{State: structs.JobHeld}), "limit") {
		t.Errorf("explanation of HELD does not mention limits")
	}
}

// TestHelpPutsOwnFlagsFirst: a command's help lists its own flags before
// the global ones, under their own headings.
func TestHelpPutsOwnFlagsFirst(t *testing.T) {
	for _, args := range [][]string{{"submit", "-h"}, {"cancel", "--help"}, {"jobs", "-h"}} {
		r := runCLI(t, nil, args...)
		r.check(t, ExitOK, "usage: flotilla "+args[0], "\nflags:\n", "\nglobal flags (before or after the command):\n")
		own, global := strings.Index(r.stderr, "\nflags:\n"), strings.Index(r.stderr, "\nglobal flags")
		hub, state := strings.Index(r.stderr, "  -hub "), strings.Index(r.stderr, "  -state ")
		if args[0] == "submit" {
			state = strings.Index(r.stderr, "  -time ")
		}
		if own < 0 || global < own || hub < global || state < own || state > global {
			t.Errorf("%v: own flags are not listed before the global ones:\n%s", args, r.stderr)
		}
	}
}

// TestUnreachableOnlyForTheHub: only a transport failure of a request to
// one of the hub's URLs, with no reply from the hub, is "unreachable".
func TestUnreachableOnlyForTheHub(t *testing.T) {
	s := &session{getenv: func(string) string { return "" }, hub: "http://hub-a:8080,https://hub-b", timeout: time.Second}
	if _, err := s.client(); err != nil {
		t.Fatal(err)
	}
	refused := func(u string) error {
		return fmt.Errorf("client: GET /v1/jobs: giving up: %w", &url.Error{Op: "Get", URL: u, Err: errors.New("connection refused")})
	}
	for name, tc := range map[string]struct {
		err  error
		want int
	}{
		"first hub":                 {refused("http://hub-a:8080/v1/jobs?active=true"), ExitUnreachable},
		"second hub":                {refused("https://hub-b/v1/jobs"), ExitUnreachable},
		"cloud API":                 {refused("https://eks.us-east-1.amazonaws.com/clusters"), ExitError},
		"other port":                {refused("http://hub-a:9090/v1/jobs"), ExitError},
		"interrupted":               {&url.Error{Op: "Get", URL: "http://hub-a:8080/v1/jobs", Err: context.Canceled}, ExitError},
		"replied, then unreachable": {fmt.Errorf("%w (%w)", &client.APIError{Status: 503}, refused("http://hub-a:8080/v1/jobs")), ExitError},
	} {
		if got := ExitCode(s.unreachable(tc.err)); got != tc.want {
			t.Errorf("%s: exit %d, want %d", name, got, tc.want)
		}
	}
}
