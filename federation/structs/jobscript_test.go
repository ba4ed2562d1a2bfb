package structs

import (
	"errors"
	"strings"
	"testing"
)

// TestJobScriptChecks: the checks of a script submission's own fields,
// each refusal naming its field.
func TestJobScriptChecks(t *testing.T) {
	ok := JobSubmitRequest{Script: "#!/bin/bash\necho hi\n", Image: "ubuntu:24.04", MachineType: "n1", Nodes: 1}
	cases := map[string]struct {
		edit  func(r *JobSubmitRequest)
		field string // "" when valid
	}{
		"valid":               {edit: func(*JobSubmitRequest) {}},
		"arguments":           {edit: func(r *JobSubmitRequest) { r.ScriptArgs = []string{"a b", "", "é"} }},
		"jarvice-style shell": {edit: func(r *JobSubmitRequest) { r.Script = "#! /bin/sh -e\ntrue" }},
		"no #!":               {edit: func(r *JobSubmitRequest) { r.Script = "echo hi\n" }, field: "script"},
		"#! alone":            {edit: func(r *JobSubmitRequest) { r.Script = "#!  \necho\n" }, field: "script"},
		"CRLF":                {edit: func(r *JobSubmitRequest) { r.Script = "#!/bin/sh\r\necho\r\n" }, field: "script"},
		"NUL":                 {edit: func(r *JobSubmitRequest) { r.Script = "#!/bin/sh\n\x00" }, field: "script"},
		"not UTF-8":           {edit: func(r *JobSubmitRequest) { r.Script = "#!/bin/sh\necho \xff\n" }, field: "script"},
		"too large":           {edit: func(r *JobSubmitRequest) { r.Script = "#!/bin/sh\n" + strings.Repeat("#", MaxJobScript) }, field: "script"},
		"with an app":         {edit: func(r *JobSubmitRequest) { r.App = "solver" }, field: "app"},
		"with a command":      {edit: func(r *JobSubmitRequest) { r.Command = "run" }, field: "command"},
		"with parameters":     {edit: func(r *JobSubmitRequest) { r.Parameters = map[string]string{"a": "b"} }, field: "parameters"},
		"no image: the hub's": {edit: func(r *JobSubmitRequest) { r.Image = "" }},
		"image with a blank":  {edit: func(r *JobSubmitRequest) { r.Image = "ubuntu 24.04" }, field: "image"},
		"image too long":      {edit: func(r *JobSubmitRequest) { r.Image = strings.Repeat("a", MaxImageRef+1) }, field: "image"},
		"too many arguments":  {edit: func(r *JobSubmitRequest) { r.ScriptArgs = make([]string, MaxScriptArgs+1) }, field: "script_args"},
		"arguments too large": {edit: func(r *JobSubmitRequest) { r.ScriptArgs = []string{strings.Repeat("a", MaxScriptArgBytes+1)} }, field: "script_args"},
		"NUL in an argument":  {edit: func(r *JobSubmitRequest) { r.ScriptArgs = []string{"a\x00"} }, field: "script_args"},
		"image, no script":    {edit: func(r *JobSubmitRequest) { r.Script, r.App = "", "solver" }, field: "image"},
		"arguments, no script": {edit: func(r *JobSubmitRequest) { r.Script, r.Image, r.App, r.ScriptArgs = "", "", "solver", []string{"x"} },
			field: "script_args"},
		"other fields still checked": {edit: func(r *JobSubmitRequest) { r.Nodes = 0 }, field: "nodes"},
	}
	for name, tc := range cases {
		r := ok
		tc.edit(&r)
		err := r.Validate()
		var fe *FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: refused: %v", name, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
			t.Errorf("%s: %v, want a refusal of %s", name, err, tc.field)
		case err != nil && strings.Contains(err.Error(), "echo"):
			t.Errorf("%s: the refusal quotes the script: %v", name, err)
		}
	}
	// /jarvice/batch's scripts need no #!.
	if err := CheckJobScript("echo hi\r\n", false); err != nil {
		t.Errorf("a lenient check refused a script without #!: %v", err)
	}
}
