package runtime

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func TestCommandArgs(t *testing.T) {
	mt := &structs.MachineType{Name: "ng4", Cores: 16, GPUs: 4}
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	cases := map[string]struct {
		params map[string]structs.Parameter
		values map[string]string
		want   []string
	}{
		"no parameters": {want: []string{"/app"}},
		"const substitution": {
			params: map[string]structs.Parameter{
				"a": {Type: structs.ParamConst, Positional: true, Value: raw(`"%CORES%/%TCORES%/%NODES%/%GPUS%/%MACHINETYPE%"`)},
			},
			want: []string{"/app", "16/48/3/4/ng4"},
		},
		"const ignores the user's value": {
			params: map[string]structs.Parameter{"-np": {Type: structs.ParamConst, Value: raw(`"%TCORES%"`)}},
			values: map[string]string{"-np": "1000"},
			want:   []string{"/app", "-np", "48"},
		},
		"non-positional is key then value, in key order": {
			params: map[string]structs.Parameter{
				"-b":    {Type: structs.ParamString},
				"-a":    {Type: structs.ParamInt, Value: raw(`8`)},
				"input": {Type: structs.ParamFile, Positional: true},
			},
			values: map[string]string{"-b": "x y", "input": "/data/in.cas"},
			want:   []string{"/app", "-a", "8", "-b", "x y", "/data/in.cas"},
		},
		"user value beats default": {
			params: map[string]structs.Parameter{"-n": {Type: structs.ParamInt, Value: raw(`8`)}},
			values: map[string]string{"-n": "3"},
			want:   []string{"/app", "-n", "3"},
		},
		"optional without value is left out": {
			params: map[string]structs.Parameter{"-o": {Type: structs.ParamString}},
			want:   []string{"/app"},
		},
		"bool flags": {
			params: map[string]structs.Parameter{
				"--on":  {Type: structs.ParamBool, Value: raw(`true`)},
				"--off": {Type: structs.ParamBool, Value: raw(`true`)},
				"pos":   {Type: structs.ParamBool, Positional: true, Value: raw(`false`)},
			},
			values: map[string]string{"--off": "false"},
			want:   []string{"/app", "--on", "false"},
		},
		"float literal kept": {
			params: map[string]structs.Parameter{"-t": {Type: structs.ParamFloat, Value: raw(`0.25`)}},
			want:   []string{"/app", "-t", "0.25"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			job := &structs.Job{ID: "j", Nodes: 3, Parameters: tc.values}
			got, err := CommandArgs(structs.Command{Path: "/app", Parameters: tc.params}, job, mt)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestCommandArgsErrors(t *testing.T) {
	mt := &structs.MachineType{Name: "n1", Cores: 1}
	cases := map[string]struct {
		cmd    structs.Command
		values map[string]string
	}{
		"no path":          {cmd: structs.Command{}},
		"missing required": {cmd: structs.Command{Path: "/a", Parameters: map[string]structs.Parameter{"x": {Type: structs.ParamString, Required: true}}}},
		"unknown":          {cmd: structs.Command{Path: "/a"}, values: map[string]string{"x": "1"}},
		"bad bool": {cmd: structs.Command{Path: "/a", Parameters: map[string]structs.Parameter{"-x": {Type: structs.ParamBool}}},
			values: map[string]string{"-x": "maybe"}},
		"bad default": {cmd: structs.Command{Path: "/a", Parameters: map[string]structs.Parameter{
			"x": {Type: structs.ParamConst, Value: json.RawMessage(`[1]`)}}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := CommandArgs(tc.cmd, &structs.Job{ID: "j", Nodes: 1, Parameters: tc.values}, mt)
			if !errors.Is(err, structs.ErrInvalid) {
				t.Errorf("got %v, want ErrInvalid", err)
			}
		})
	}
}
