package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/client"
)

// TestReadJobsLines: JSON lines with comments and blank lines; a line
// that is not one submission is an error naming it.
func TestReadJobsLines(t *testing.T) {
	good := "# a sweep\n\n{\"app\":\"solver\",\"machine_type\":\"n1\",\"nodes\":1}\n  # indented comment\n" +
		"{\"id\":\"j-fixed\",\"app\":\"solver\",\"machine_type\":\"n1\",\"nodes\":2,\"dependency\":\"afterok:1\"}\r\n"
	lines, err := readJobsLines(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		Line  int
		ID    string
		Nodes int
	}
	var g []got
	for _, l := range lines {
		g = append(g, got{l.line, l.req.ID, l.req.Nodes})
	}
	if d := cmp.Diff([]got{{3, "", 1}, {5, "j-fixed", 2}}, g); d != "" {
		t.Errorf("lines (-want +got):\n%s", d)
	}
	bad := map[string]string{
		"not json":      "{\"app\":\"solver\"}\nnodes=1\n",
		"unknown field": "{\"app\":\"solver\",\"colour\":1}\n",
		"wrong type":    "{\"nodes\":\"two\"}\n",
		"two values":    "{\"app\":\"a\"} {\"app\":\"b\"}\n",
		"not an object": "[1]\n",
		"null":          "null\n",
		"too long":      "{\"label\":\"" + strings.Repeat("x", maxJobsLine) + "\"}\n",
	}
	wantLine := map[string]string{"not json": "line 2", "too long": "line 1"}
	for name, in := range bad {
		_, err := readJobsLines(strings.NewReader(in))
		want := wantLine[name]
		if want == "" {
			want = "line 1"
		}
		if err == nil || !strings.HasPrefix(err.Error(), want+":") {
			t.Errorf("%s: %v, want an error of %s", name, err, want)
		}
	}
}

// TestSubmitJobsFile: flotilla submit --jobs sends a file's lines in
// batches, prints one line per job in order, exits 1 when the hub refused
// any (the others are stored), 2 with nothing sent for an unreadable file
// or other job flags, and a rerun of a file whose lines carry ids makes
// no job twice.
func TestSubmitJobsFile(t *testing.T) {
	u := newUserHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var b strings.Builder
	b.WriteString("# 1,203 jobs: two batches\n")
	for i := range 1203 {
		fmt.Fprintf(&b, `{"id":"j-sweep-%d","app":"solver","machine_type":"n1","nodes":1,"label":"p%d"}`+"\n", i, i)
		if i == 600 {
			b.WriteString(`{"app":"solver","machine_type":"nope","nodes":1}` + "\n\n")
		}
	}
	file := writeFile(t, "sweep.jsonl", b.String())
	r := runCLI(t, u.env, "submit", "--jobs", file)
	r.check(t, ExitError, "line 2: submitted job", "id j-sweep-0, state QUEUED", "line 603: refused: ", "(HTTP 400)")
	out := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(out) != 1204 || !strings.HasPrefix(out[1203], "line 1206: submitted job") || !strings.Contains(out[1203], "id j-sweep-1202,") {
		t.Fatalf("%d lines of output, last %q", len(out), out[len(out)-1])
	}
	all, err := u.adm.AllJobs(ctx, client.JobQuery{})
	if err != nil || len(all) != 1203 {
		t.Fatalf("%d jobs (%v), want 1203", len(all), err)
	}
	// Again: the same jobs, none new (the lines carry ids).
	runCLI(t, u.env, "submit", "--jobs", file).check(t, ExitError, "line 2: submitted job", "id j-sweep-0,")
	if all, _ = u.adm.AllJobs(ctx, client.JobQuery{}); len(all) != 1203 {
		t.Errorf("after a rerun %d jobs, want 1203", len(all))
	}

	// stdin, -o json; every job accepted: exit 0.
	var stdout, stderr bytes.Buffer
	code := Run(ctx, []string{"submit", "-o", "json", "--jobs", "-"}, &stdout, &stderr, func(k string) string { return u.env[k] },
		WithStdin(strings.NewReader(`{"app":"solver","machine_type":"n1","nodes":2}`+"\n# done\n")))
	var res []jobsResult
	if code != ExitOK || json.Unmarshal(stdout.Bytes(), &res) != nil || len(res) != 1 || res[0].Line != 1 || res[0].Job == nil || res[0].Job.Nodes != 2 {
		t.Fatalf("--jobs - -o json: exit %d, %s %s", code, stdout.String(), stderr.String())
	}

	// Unreadable input, other job flags, arguments: exit 2, nothing sent.
	hubURL, sent := countingHub(t)
	env := map[string]string{EnvHub: hubURL, EnvAPIKey: "k"}
	badLine := writeFile(t, "bad.jsonl", `{"app":"solver","machine_type":"n1","nodes":1}`+"\n"+`{"app":"solver",}`+"\n")
	runCLI(t, env, "submit", "--jobs", badLine).check(t, ExitUsage, "bad.jsonl: line 2:")
	runCLI(t, env, "submit", "--jobs", file, "--machine", "n1").check(t, ExitUsage, "--machine cannot be given with it")
	runCLI(t, env, "submit", "--jobs", file, "extra").check(t, ExitUsage, `takes no arguments ("extra")`)
	runCLI(t, env, "submit", "--jobs", writeFile(t, "empty.jsonl", "# nothing\n\n")).check(t, ExitUsage, "no submissions in it")
	runCLI(t, env, "submit", "--jobs", "/nonexistent/jobs.jsonl").check(t, ExitUsage, "no such file")
	runCLI(t, env, "submit", "--jobs", "-").check(t, ExitUsage, "no standard input")
	if n := sent.Load(); n != 0 {
		t.Errorf("bad input sent %d requests", n)
	}
	// Without --jobs, submit takes no arguments, as before.
	runCLI(t, env, "submit", "--app", "solver", "-p", "n1", "extra").check(t, ExitUsage, `unexpected argument "extra"`)
}
