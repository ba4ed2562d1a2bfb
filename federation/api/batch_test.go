package api

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestBatchAppDefValid: the batch app's AppDef passes the validator every
// entry point uses, and its command line is /bin/sh -c WRAPPER
// flotilla-batch ARGS with the script as the upload at BatchScriptPath; a
// job of a hub before job scripts ("-c" set to its script) still builds
// its /bin/sh -c SCRIPT line.
func TestBatchAppDefValid(t *testing.T) {
	d := batchAppDef("ubuntu:24.04")
	if _, res := appdef.Parse(d.Raw); res.Err() != nil {
		t.Fatalf("batch AppDef refused: %v", res.Err())
	}
	c := d.Commands[batchCommand]
	cmd, err := appdef.CommandOf(&c, batchCommand)
	if err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/bash\necho hi\n"
	l, err := appdef.Build(cmd, map[string]string{batchScriptParam: base64.StdEncoding.EncodeToString([]byte(script)),
		batchArgsParam: shellQuote([]string{"a b", "it's"})}, appdef.Vars{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/bin/sh", "-c", batchWrapper, "flotilla-batch", `'a b' 'it'\''s'`}, l.Argv); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
	if len(l.Uploads) != 1 || l.Uploads[0].Path != BatchScriptPath || string(l.Uploads[0].Data) != script {
		t.Errorf("uploads %+v, want the script at %s", l.Uploads, BatchScriptPath)
	}
	l, err = appdef.Build(cmd, map[string]string{batchWrapperParam: "echo legacy"}, appdef.Vars{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/bin/sh", "-c", "echo legacy", "flotilla-batch"}, l.Argv); diff != "" {
		t.Errorf("a legacy job's argv (-want +got):\n%s", diff)
	}
	big := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), structs.MaxJobScript+1))
	var ve *structs.ValidationError
	if err := appdef.CheckValues(cmd, map[string]string{batchScriptParam: big}); !errors.As(err, &ve) {
		t.Errorf("a script over the limit passed the AppDef's check: %v", err)
	}
}

// TestBatchWrapperRuns runs the wrapper with /bin/sh on scripts of each
// kind: the arguments arrive exactly as given (blanks, quotes, $, empty,
// newlines), the "#!" line's interpreter and its one argument run the
// script, a script without one runs with /bin/sh, the SLURM_* variables
// come from the FLOTILLA_* ones, and the script's exit code is the
// wrapper's.
func TestBatchWrapperRuns(t *testing.T) {
	dir := t.TempDir()
	machinefile := filepath.Join(dir, "nodes")
	if err := os.WriteFile(machinefile, []byte("j7-0.j7\nj7-1.j7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, script string, args []string) (string, int) {
		t.Helper()
		f := filepath.Join(t.TempDir(), "job-script")
		if err := os.WriteFile(f, []byte(script), 0o444); err != nil {
			t.Fatal(err)
		}
		wrapper := strings.Replace(batchWrapper, "f="+BatchScriptPath+"\n", "f="+f+"\n", 1)
		if wrapper == batchWrapper {
			t.Fatal("the wrapper does not start with f=" + BatchScriptPath)
		}
		argv := []string{"-c", wrapper, "flotilla-batch"}
		if len(args) > 0 {
			argv = append(argv, shellQuote(args))
		}
		cmd := exec.Command("/bin/sh", argv...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "FLOTILLA_JOB_NUMBER=7", "FLOTILLA_JOB_NAME=alice-2026-12-06-0007",
			"FLOTILLA_JOB_LABEL=sweep", "FLOTILLA_NODES=2", "FLOTILLA_TCORES=8", "FLOTILLA_CORES=4",
			"FLOTILLA_MACHINETYPE=n1", "FLOTILLA_RANK=0", "FLOTILLA_MACHINEFILE=" + machinefile}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	printArgs := "for a in \"$@\"; do printf '<%s>\\n' \"$a\"; done\n"
	tricky := []string{"a b", "it's", `"dq"`, "$HOME", "", "back\\slash", "two\nlines", "*", "-x"}
	want := "<a b>\n<it's>\n<\"dq\">\n<$HOME>\n<>\n<back\\slash>\n<two\nlines>\n<*>\n<-x>\n"
	cases := map[string]struct {
		script   string
		args     []string
		want     string
		wantCode int
	}{
		"sh with tricky arguments":      {script: "#!/bin/sh\n" + printArgs, args: tricky, want: want},
		"env and an argument":           {script: "#!/usr/bin/env sh\n" + printArgs, args: []string{"one"}, want: "<one>\n"},
		"the interpreter's argument":    {script: "#!/bin/sh -e\nfalse\necho not reached\n", wantCode: 1},
		"blanks around the interpreter": {script: "#!  /bin/sh  \necho \"$#\"\n", args: []string{"x", "y"}, want: "2\n"},
		"no #! runs with /bin/sh":       {script: "echo plain \"$1\"\n", args: []string{"z"}, want: "plain z\n"},
		"no arguments":                  {script: "#!/bin/sh\necho \"$# args\"\n", want: "0 args\n"},
		"exit code":                     {script: "#!/bin/sh\necho bye\nexit 7\n", want: "bye\n", wantCode: 7},
		"its name is the script's":      {script: "#!/bin/sh\nbasename \"$0\"\n", want: "job-script\n"},
		"slurm variables": {script: "#!/bin/sh\necho $SLURM_JOB_ID $SLURM_JOB_NAME $SLURM_NNODES $SLURM_NTASKS $SLURM_CPUS_ON_NODE " +
			"$SLURM_JOB_PARTITION $SLURM_JOB_NODELIST $SLURM_NODEID $SLURM_SUBMIT_DIR\n",
			want: "7 sweep 2 8 4 n1 j7-0.j7,j7-1.j7 0 " + dir + "\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, code := run(t, tc.script, tc.args)
			if code != tc.wantCode || (tc.want != "" && out != tc.want) {
				t.Errorf("exit %d, output %q; want exit %d, output %q", code, out, tc.wantCode, tc.want)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	cases := map[string]struct {
		in   []string
		want string
	}{
		"plain":  {[]string{"a", "b"}, `'a' 'b'`},
		"quote":  {[]string{"it's"}, `'it'\''s'`},
		"empty":  {[]string{""}, `''`},
		"blanks": {[]string{"a b", " "}, `'a b' ' '`},
	}
	for name, tc := range cases {
		if got := shellQuote(tc.in); got != tc.want {
			t.Errorf("%s: shellQuote(%q) = %s, want %s", name, tc.in, got, tc.want)
		}
	}
}

// TestDecodeScriptSubmission: a body with a script leaves the fast
// decoder (it lists no script members) for the generic one, which reads
// every script field; the fast path alone would lose them.
func TestDecodeScriptSubmission(t *testing.T) {
	body := `{"script":"#!/bin/sh\necho $1\n","image":"ubuntu:24.04","script_args":["a b"],"machine_type":"n1","nodes":2}`
	if _, ok := decodeSubmitFast([]byte(body)); ok {
		t.Fatal("the fast decoder took a body with a script")
	}
	req, err := decodeJobSubmit(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	want := structs.JobSubmitRequest{Script: "#!/bin/sh\necho $1\n", Image: "ubuntu:24.04", ScriptArgs: []string{"a b"}, MachineType: "n1", Nodes: 2}
	if diff := cmp.Diff(&want, req); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
}
