package appdef_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// seed makes cluster east, machine type n3 and the public app "batch"
// (testdata/reference/batch.json).
func (h *hubEnv) seed() {
	h.t.Helper()
	for _, r := range []struct{ path, body string }{
		{"/v1/clusters/east", `{}`},
		{"/v1/machinetypes/n3", `{"mc_name":"n3","mc_cores":16,"mc_slots":16,"mc_ram":64,"mc_scale_max":4,"cluster":"east"}`},
	} {
		if code, body := h.do("PUT", r.path, []byte(r.body)); code != http.StatusOK {
			h.t.Fatalf("PUT %s: %d %s", r.path, code, body)
		}
	}
	if code, body := h.do("PUT", "/v1/apps/batch", appBody("batch", readRef(h.t, "batch"))); code != http.StatusOK {
		h.t.Fatalf("PUT app: %d %s", code, body)
	}
}

// TestSubmitChecksParameterValues submits values of the wrong type, out of
// range, for unknown or CONST parameters, and without a required one: each
// is refused at submit with 400 naming the parameter, and no job is made.
func TestSubmitChecksParameterValues(t *testing.T) {
	h := newHub(t)
	h.seed()
	cases := map[string]struct {
		params map[string]any
		want   []string
	}{
		"int not a number":     {map[string]any{"int_1": "ten"}, []string{`$.parameters.int_1: parameter "int_1": "ten" is not a whole number`}},
		"int above max":        {map[string]any{"int_1": 11}, []string{`$.parameters.int_1: parameter "int_1": 11 is above the maximum 10`}},
		"float below min":      {map[string]any{"float_1": "-0.5"}, []string{`$.parameters.float_1: parameter "float_1": -0.5 is below the minimum 0.0`}},
		"bool not a boolean":   {map[string]any{"bool_1": "maybe"}, []string{`$.parameters.bool_1: parameter "bool_1": "maybe" is not true or false`}},
		"selection not listed": {map[string]any{"selection_1": "fast"}, []string{`$.parameters.selection_1: parameter "selection_1": "fast" is not one of the values ["Fast" "Exact"]`}},
		"unknown and const": {map[string]any{"nope": "1", "-c": "red"}, []string{
			`$.parameters["-c"]: parameter "-c" is a CONST: its value is "blue", not "red"`,
			`$.parameters.nope: command "Run" has no parameter "nope"`}},
		"required emptied": {map[string]any{"str_1": ""}, []string{`$.parameters.str_1: parameter "str_1" is required`}},
		"upload too large": {map[string]any{"upload_1": strings.Repeat("QUFB", 1400)}, []string{`$.parameters.upload_1: parameter "upload_1": upload of 4200 bytes exceeds size 4096`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := h.storedIndex()
			body, _ := json.Marshal(map[string]any{"app": "batch", "command": "Run", "machine_type": "n3", "nodes": 1, "parameters": tc.params})
			if name == "int above max" || name == "unknown and const" {
				// the JARVICE submission carries numbers as JSON numbers
				body, _ = json.Marshal(map[string]any{"app": "batch", "application": map[string]any{"command": "Run", "parameters": tc.params},
					"machine": map[string]any{"type": "n3", "nodes": 1}})
				code, reply := h.do("POST", "/jarvice/submit?username=admin&apikey="+h.key, body)
				check(t, code, reply, tc.want)
			} else {
				code, reply := h.do("POST", "/v1/jobs", stringParams(t, body))
				check(t, code, reply, tc.want)
			}
			if got := h.storedIndex(); got != before {
				t.Errorf("state index moved %d -> %d: a job was stored", before, got)
			}
		})
	}
}

// stringParams rewrites the v1 body's parameter values as strings.
func stringParams(t *testing.T, body []byte) []byte {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	ps := map[string]string{}
	for k, v := range m["parameters"].(map[string]any) {
		b, _ := json.Marshal(v)
		if s, ok := v.(string); ok {
			ps[k] = s
		} else {
			ps[k] = string(b)
		}
	}
	m["parameters"] = ps
	out, _ := json.Marshal(m)
	return out
}

func check(t *testing.T, code int, reply []byte, want []string) {
	t.Helper()
	if code != http.StatusBadRequest {
		t.Fatalf("submit: %d %s, want 400", code, reply)
	}
	var eb structs.ErrorBody
	if err := json.Unmarshal(reply, &eb); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range eb.Errors {
		got = append(got, f.Path+": "+f.Rule)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
