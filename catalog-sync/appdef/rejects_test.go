package appdef_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestAppDefRejects registers bad AppDefs through the API: each gets a 400
// whose body lists every error with its JSON path, and nothing is stored.
func TestAppDefRejects(t *testing.T) {
	h := newHub(t)
	cases := map[string]struct {
		def  string
		want []structs.PathError
	}{
		"no commands": {`{"name":"x","commands":{}}`,
			[]structs.PathError{{Path: "$.commands", Rule: "at least one command is required"}}},
		"commands missing and no name": {`{"description":"x"}`,
			[]structs.PathError{{Path: "$.name", Rule: "required"}, {Path: "$.commands", Rule: "at least one command is required"}}},
		"bogus parameter type and min above max": {`{"name":"x","commands":{"Run":{"path":"/run","parameters":{
			"a":{"type":"COLOUR"},
			"b":{"type":"INT","min":10,"max":"2"}}}}}`,
			[]structs.PathError{
				{Path: "$.commands.Run.parameters.a.type", Rule: `unknown parameter type "COLOUR": want one of CONST, STR, INT, FLOAT, RANGE, BOOL, selection, FILE, UPLOAD`},
				{Path: "$.commands.Run.parameters.b", Rule: "min 10 is greater than max 2"}}},
		"value out of range and selection default": {`{"name":"x","commands":{"Run":{"path":"/run","parameters":{
			"n":{"type":"RANGE","min":0,"max":10,"step":0,"value":11},
			"s":{"type":"selection","values":["a","b"],"mvalues":["A"],"value":"c"}}}}}`,
			[]structs.PathError{
				{Path: "$.commands.Run.parameters.n.step", Rule: "want a whole number of at least 1"},
				{Path: "$.commands.Run.parameters.n.value", Rule: "11 is above the maximum 10"},
				{Path: "$.commands.Run.parameters.s.mvalues", Rule: "has 1 entries, values has 2: want the same number"},
				{Path: "$.commands.Run.parameters.s.value", Rule: `"c" is not one of the values ["a" "b"]`}}},
		"bad globs, vault type, scale": {`{"name":"x","machines":["n[3"],"vault-types":["FILE","TAPE"],"scale_max":0,
			"commands":{"Run":{"path":"run.sh","scale_max":"1.5","machines":["["],"walltime":"3 days","parameters":{}}}}`,
			[]structs.PathError{
				{Path: "$.machines[0]", Rule: `invalid machine pattern "n[3": want a shell wildcard such as "n*"`},
				{Path: `$["vault-types"][1]`, Rule: `unknown vault type "TAPE": want one of FILE, BLOCK, BLOCK_ARRAY, OBJECT, NONE`},
				{Path: "$.scale_max", Rule: "want a whole number of at least 1"},
				{Path: "$.commands.Run.machines[0]", Rule: `invalid machine pattern "[": want a shell wildcard such as "n*"`},
				{Path: "$.commands.Run.scale_max", Rule: "want a whole number of at least 1"},
				{Path: "$.commands.Run.walltime", Rule: `walltime "3 days": want HH:MM:SS`}}},
		"cmdscript over the runtime's files or an upload": {`{"name":"x","commands":{
			"A":{"path":"/etc/JARVICE/nodes","cmdscript":"echo a","parameters":{}},
			"B":{"path":"/data/run.sh","cmdscript":"echo b","parameters":{}},
			"C":{"path":"/opt/in.dat","cmdscript":"echo c","parameters":{"u":{"type":"UPLOAD","target":"in.dat"}}},
			"D":{"path":"/opt/flotilla","cmdscript":"echo d","parameters":{}}}}`,
			[]structs.PathError{
				{Path: "$.commands.A.path", Rule: "/etc/JARVICE/nodes: a command with a cmdscript is written to its path, and /etc/JARVICE is the job runtime's (want another path, such as /usr/local/bin/...)"},
				{Path: "$.commands.B.path", Rule: "/data/run.sh: a command with a cmdscript is written to its path, and /data is the job runtime's (want another path, such as /usr/local/bin/...)"},
				{Path: "$.commands.C.path", Rule: `/opt/in.dat: the cmdscript and the UPLOAD parameter "u" would both be written there`},
				{Path: "$.commands.D.path", Rule: "/opt/flotilla: a command with a cmdscript is written to its path, and /opt/flotilla is the job runtime's (want another path, such as /usr/local/bin/...)"}}},
		"wrong JSON types": {`{"name":"x","licensed":"yes","commands":{"Run":{"path":"/r","interactive":1,"parameters":{"p":{"type":"INT","min":"ten"}}}}}`,
			[]structs.PathError{
				{Path: "$.licensed", Rule: "want true or false"},
				{Path: "$.commands.Run.interactive", Rule: "want true or false"},
				{Path: "$.commands.Run.parameters.p.min", Rule: "want a number (or a number in a string)"}}},
		"upload and conditions": {`{"name":"x","commands":{"Run":{"path":"/r","parameters":{
			"u":{"type":"UPLOAD","target":"../etc/passwd","size":-1},
			"v":{"type":"UPLOAD"},
			"c":{"type":"STR","if":["missing"],"ifnot":["u"]},
			"k":{"type":"CONST"}}}}}`,
			[]structs.PathError{
				{Path: "$.commands.Run.parameters.u.target", Rule: `target "../etc/passwd": want a path below /opt, relative and without ..`},
				{Path: "$.commands.Run.parameters.u.size", Rule: "want a whole number of bytes, at least 1"},
				{Path: "$.commands.Run.parameters.v.target", Rule: "required for UPLOAD"},
				{Path: "$.commands.Run.parameters.v", Rule: "only one UPLOAD parameter per command"},
				{Path: "$.commands.Run.parameters.c.if[0]", Rule: `"missing" is not a BOOL parameter of this command`},
				{Path: "$.commands.Run.parameters.c.ifnot[0]", Rule: `"u" is not a BOOL parameter of this command`},
				{Path: "$.commands.Run.parameters.k.value", Rule: "required for CONST"}}},
		"identity root and bad ports": {`{"name":"x","identity":{"username":"a b","uid":0},"image":{"type":"image/png","data":"%%%"},
			"commands":{"Run":{"path":"/r","ports":["22/tcp","53/udp","x/tcp"],"parameters":{}}}}`,
			[]structs.PathError{
				{Path: "$.identity.username", Rule: "required, without spaces"},
				{Path: "$.identity.uid", Rule: "want a whole number from 1 (root is not supported)"},
				{Path: "$.commands.Run.ports[1]", Rule: "protocols may not be mixed"},
				{Path: "$.commands.Run.ports[2]", Rule: `port "x/tcp": want <number>/<tcp|udp|sctp>`}}},
		"not an object": {`["name"]`, []structs.PathError{{Path: "$", Rule: "want an object"}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := h.storedIndex()
			code, body := h.do("PUT", "/v1/apps/bad", appBody("bad", []byte(tc.def)))
			if code != http.StatusBadRequest {
				t.Fatalf("PUT: %d %s, want 400", code, body)
			}
			var eb structs.ErrorBody
			if err := json.Unmarshal(body, &eb); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, eb.Errors); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
			if got := h.storedIndex(); got != before {
				t.Errorf("state index moved %d -> %d: something was stored", before, got)
			}
			if code, _ := h.do("GET", "/v1/apps/bad?consistent=true", nil); code != http.StatusNotFound {
				t.Errorf("GET bad app: %d, want 404", code)
			}
		})
	}
}
