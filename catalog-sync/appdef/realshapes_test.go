package appdef_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
)

// onePixelPNG is a 1×1 PNG; realShapes write it with and without its
// base64 padding.
const onePixelPNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

// realShape is an AppDef of our own written in a shape found in public
// JARVICE app repositories (named in each case: the shape, not the file),
// with the command lines JARVICE runs for it and the warnings Flotilla
// gives.
type realShape struct {
	def      string
	argv     map[string][]string          // command -> argv with defaults (and values)
	values   map[string]map[string]string // command -> submitted values
	env      map[string][]appdef.EnvVar   // command -> job environment
	scripts  map[string]*appdef.Script    // command -> its cmdscript as the job places it
	warnings []string
	bools    map[string]bool // JSON path in /jarvice/appdef's reply -> the boolean a client reads
}

var realShapes = map[string]realShape{
	// A command whose script is in the AppDef (an app-blender revision:
	// "cmdscript", base64, written to its path /tmp/start.sh and run;
	// the image need not carry it), the same as plain text, and one
	// whose path is no absolute file to write to.
	"cmdscript": {
		def: `{"name":"tool","description":"d","author":"a","licensed":true,"classifications":["Tools"],"machines":["n*"],
			"vault-types":["FILE"],"appdefversion":2,"commands":{
			 "gui":{"path":"/tmp/start.sh","desktop":true,"interactive":true,"name":"GUI","description":"d",
			  "cmdscript":"IyEvYmluL2Jhc2gKCm1rZGlyIC1wIC9kYXRhL0FwcENvbmZpZy90b29sCmV4ZWMgL3Vzci9sb2NhbC9iaW4vbmltYml4X2Rlc2t0b3AgL3Vzci9iaW4vdG9vbCAiJEAiCg==","parameters":{
			  "file":{"name":"f","description":"d","type":"FILE","positional":true,"required":false,"value":"/data/x.blend"}}},
			 "plain":{"path":"/usr/local/bin/run.sh -v","name":"Plain","description":"d","cmdscript":"#!/bin/sh\necho plain\n","parameters":{}},
			 "bare":{"path":"run.sh","name":"Bare","description":"d","cmdscript":"echo bare","parameters":{}}},
			"image":{"type":"image/png","data":""}}`,
		argv: map[string][]string{"gui": {"/tmp/start.sh", "/data/x.blend"}, "plain": {"/usr/local/bin/run.sh", "-v"}, "bare": {"run.sh"}},
		scripts: map[string]*appdef.Script{"gui": {Path: "/tmp/start.sh", Data: []byte("#!/bin/bash\n\nmkdir -p /data/AppConfig/tool\nexec /usr/local/bin/nimbix_desktop /usr/bin/tool \"$@\"\n")},
			"plain": {Path: "/usr/local/bin/run.sh", Data: []byte("#!/bin/sh\necho plain\n")}},
		warnings: []string{`$.commands.bare.path: path "run.sh" is not absolute: it is looked up in the image's PATH`,
			"$.commands.bare.cmdscript: not written: it is written to the command's path, which is not absolute"},
	},
	// The PushToCompute default template (nimbix/appdef-template and most
	// nimbix/* apps): Batch runs /bin/bash -l -c with a required command
	// and no default, GUI runs nimbix_desktop; an SVG icon and the "id"
	// JARVICE adds when it serves an AppDef.
	"default template with SVG icon": {
		def: `{"name":"ubuntu","description":"d","author":"a","licensed":true,"classifications":["Uncategorized"],
			"machines":["*"],"vault-types":["FILE","BLOCK","BLOCK_ARRAY","OBJECT"],
			"commands":{
			 "Batch":{"path":"/bin/bash","interactive":false,"name":"Batch","description":"d","parameters":{
			  "-l":{"name":"-l","description":"-l","type":"CONST","value":"-l","positional":true,"required":true},
			  "-c":{"name":"-c","description":"-c","type":"CONST","value":"-c","positional":true,"required":true},
			  "command":{"name":"Command","description":"Command to run","type":"STR","positional":true,"required":true}}},
			 "GUI":{"path":"/usr/local/bin/nimbix_desktop","interactive":true,"name":"GUI","description":"d","parameters":{
			  "command":{"name":"Command","description":"d","type":"STR","value":"/usr/bin/xfce4-terminal","positional":true,"required":true}}}},
			"image":{"type":"image/svg+xml","data":"PHN2Zy8+"},"id":"someone-ubuntu"}`,
		values: map[string]map[string]string{"Batch": {"command": "echo hello; ls /data"}},
		argv: map[string][]string{"Batch": {"/bin/bash", "-l", "-c", "echo hello; ls /data"},
			"GUI": {"/usr/local/bin/nimbix_desktop", "/usr/bin/xfce4-terminal"}},
		warnings: []string{`$.image.type: icon type "image/svg+xml" is not shown (shown: image/png, image/jpeg, image/gif, image/webp)`},
	},
	// Webshell and desktop commands whose path carries its arguments
	// (nimbix/app-converge, nimbix/jarvice-cli, nimbix/app-mega: "/bin/bash
	// -l"; nimbix/app-openscad: "nimbix_desktop openscad"), one without a
	// parameters key at all.
	"arguments in the path": {
		def: `{"name":"shells","description":"d","author":"a","licensed":true,"classifications":["Tools"],"machines":["n*"],
			"vault-types":["FILE"],"appdefversion":2,"commands":{
			 "shell":{"path":"/bin/bash -l","name":"Shell","webshell":true,"description":"d"},
			 "cad":{"path":"/usr/local/bin/nimbix_desktop openscad","interactive":true,"name":"CAD","description":"d","parameters":{}}},
			"image":{"type":"image/png","data":"` + onePixelPNG + `"}}`,
		argv: map[string][]string{"shell": {"/bin/bash", "-l"}, "cad": {"/usr/local/bin/nimbix_desktop", "openscad"}},
	},
	// A bare executable name as path (AnthonyBucquet/jarvice-fastq-to-vcf:
	// "python"), JARVICE's bracket machine patterns and scale_max 1.
	"relative path": {
		def: `{"name":"py","description":"d","author":"a","classifications":["Uncategorized"],"licensed":true,
			"vault-types":["FILE","BLOCK"],"machines":["nc*","n[2-9]*","n[1-9][0-9]*"],"scale_max":1,"commands":{
			 "batch":{"path":"python","interactive":false,"webshell":true,"description":"d","name":"Hello","parameters":{
			  "main":{"name":"main","type":"CONST","required":true,"positional":true,"value":"/home/nimbix/main.py"}}}},
			"image":{"type":"image/png","data":""}}`,
		argv:     map[string][]string{"batch": {"python", "/home/nimbix/main.py"}},
		warnings: []string{`$.commands.batch.path: path "python" is not absolute: it is looked up in the image's PATH`},
	},
	// A key written twice (nimbix/slotexec: "interactive" twice in one
	// command): JSON parsers keep the last value.
	"duplicate key": {
		def: `{"name":"slots","description":"d","author":"a","licensed":true,"classifications":["Tools"],"machines":["*"],
			"vault-types":["FILE"],"commands":{"slotexec":{"path":"/usr/local/bin/slotexec.sh","interactive":true,
			 "name":"Run","description":"d","interactive":false,"parameters":{
			  "-g":{"name":"g","description":"d","type":"CONST","value":"/usr/local/bin/jobscript.sh","positional":false,"required":true}}}},
			"image":{"type":"image/png","data":""}}`,
		argv:     map[string][]string{"slotexec": {"/usr/local/bin/slotexec.sh", "-g", "/usr/local/bin/jobscript.sh"}},
		warnings: []string{"$.commands.slotexec.interactive: duplicate key: the last value counts"},
		bools:    map[string]bool{"commands.slotexec.interactive": false},
	},
	// A parameter key written twice in one command (a rep-movsd/kbuilder
	// revision: two positional STRs under one key, the second meant to
	// replace the first): the last counts, in the first one's place, and
	// the command line has one argument for it, as the portal's form has
	// one field.
	"parameter written twice": {
		def: `{"name":"kb","description":"d","author":"a","licensed":true,"classifications":["Tools"],"machines":["*"],
			"vault-types":["FILE"],"commands":{"build":{"path":"/usr/local/bin/build.sh","interactive":false,"name":"Build",
			 "description":"d","parameters":{
			  "version":{"name":"v","description":"d","type":"STR","value":"4.9","positional":true,"required":true},
			  "workdir":{"name":"dir","description":"d","type":"STR","value":"/data/src","positional":true,"required":true},
			  "flavour":{"name":"f","description":"d","type":"STR","value":"generic","positional":true,"required":true},
			  "workdir":{"name":"driver","description":"d","type":"STR","value":"340.101","positional":true,"required":true}}}},
			"image":{"type":"image/png","data":""}}`,
		argv:     map[string][]string{"build": {"/usr/local/bin/build.sh", "4.9", "340.101", "generic"}},
		warnings: []string{"$.commands.build.parameters.workdir: duplicate key: the last value counts"},
	},
	// An empty machine pattern left in the list and an image/x-icon icon
	// (strus38/quantum), CONSTs with API substitutions passed by key.
	"empty machine pattern and x-icon": {
		def: `{"name":"qlm","description":"d","author":"a","licensed":true,"classifications":["Quantum"],
			"machines":["n0","n1","n3",""],"vault-types":["FILE"],"commands":{
			 "demo":{"path":"/usr/local/bin/nimbix_desktop","interactive":true,"name":"Demo","description":"d","parameters":{
			  "-MACHINE":{"name":"m","description":"d","type":"CONST","value":"%MACHINETYPE%","positional":false,"required":true},
			  "-VAULT":{"name":"v","description":"d","type":"CONST","value":"%VNAME%","positional":false,"required":true},
			  "command":{"name":"c","description":"d","type":"CONST","value":"python3 /data/myqlm.py","positional":true,"required":true}}}},
			"image":{"type":"image/x-icon","data":"AAABAAEAAQEAAAEAIAAwAAAAFgAAAA=="}}`,
		argv: map[string][]string{"demo": {"/usr/local/bin/nimbix_desktop", "-MACHINE", "n3", "-VAULT", "projects", "python3 /data/myqlm.py"}},
		warnings: []string{`$.machines[3]: empty machine pattern: matches no machine type`,
			`$.image.type: icon type "image/x-icon" is not shown (shown: image/png, image/jpeg, image/gif, image/webp)`},
	},
	// An icon whose base64 lost its padding (bellencoATatos/jarvice-code_saturne):
	// browsers show it, so does Flotilla. FILE parameters passed by key.
	"unpadded icon": {
		def: `{"name":"saturne","description":"d","author":"a","licensed":true,"classifications":["CFD"],"machines":["n*"],
			"vault-types":["FILE"],"commands":{"Batch":{"path":"/usr/local/scripts/run.sh","interactive":false,"name":"Batch",
			 "description":"d","parameters":{
			  "-case":{"name":"Case","description":"d","type":"FILE","required":true,"positional":false,"filter":"*.xml"},
			  "-np":{"name":"np","description":"d","type":"INT","value":4,"min":1,"max":256,"positional":false,"required":false}}}},
			"image":{"type":"image/png","data":"` + strings.TrimRight(onePixelPNG, "=") + `"}}`,
		values: map[string]map[string]string{"Batch": {"-case": "/data/case1/setup.xml"}},
		argv:   map[string][]string{"Batch": {"/usr/local/scripts/run.sh", "-case", "/data/case1/setup.xml", "-np", "4"}},
	},
	// Booleans written as strings (a hashkeks/openfoam-jarvice-demo
	// revision: "required": "true"), served to clients as booleans.
	"booleans as strings": {
		def: `{"name":"foam","description":"d","author":"a","licensed":"true","classifications":["CFD"],"machines":["*"],
			"vault-types":["FILE"],"commands":{"Batch":{"path":"/usr/local/scripts/foam.sh","interactive":"false","name":"Batch",
			 "description":"d","parameters":{
			  "-overwrite":{"name":"overwrite","description":"d","type":"BOOL","value":true,"required":"true","positional":"false"}}}},
			"image":{"type":"image/png","data":""}}`,
		argv:  map[string][]string{"Batch": {"/usr/local/scripts/foam.sh", "-overwrite"}},
		bools: map[string]bool{"licensed": true, "commands.Batch.interactive": false, "commands.Batch.parameters.-overwrite.required": true},
	},
	// A slider whose default is between its steps (an Abhyaaa/mine2
	// revision: min 180, step 3600, value 3600).
	"slider default off its steps": {
		def: `{"name":"wall","description":"d","author":"a","licensed":true,"classifications":["Tools"],"machines":["*"],
			"vault-types":["FILE"],"commands":{"custom":{"path":"/start.sh","interactive":false,"name":"c","description":"d","parameters":{
			  "timeout_value":{"name":"t","description":"d","type":"RANGE","value":3600,"min":180,"max":36000,"step":3600,"required":true,"positional":true}}}},
			"image":{"type":"image/png","data":""}}`,
		// a form that shows the default sends it back: accepted as the default it is
		values:   map[string]map[string]string{"custom": {"timeout_value": "3600"}},
		argv:     map[string][]string{"custom": {"/start.sh", "3600"}},
		warnings: []string{"$.commands.custom.parameters.timeout_value.value: 3600 is not on the steps of 3600 from 180"},
	},
	// Account variables and a variable CONST (nimbix/jarvice-fio's
	// OUTPUT_FILE), the top-level "meta" string (JARVICE release notes,
	// JAR-6712) and fields older AppDefs carry ("image_icon", "scale-max").
	"variables, meta and old fields": {
		def: `{"name":"fio","description":"d","author":"a","licensed":true,"classifications":["Benchmark"],"machines":["*"],
			"vault-types":["FILE"],"meta":"team=storage","image_icon":"fio.png","scale-max":4,
			"variables":{"LICENSE_SERVER":{"name":"License","description":"d","userowned":false,"inherit":true}},
			"commands":{"run":{"path":"/usr/local/bin/app.sh","interactive":false,"name":"Run","description":"d","parameters":{
			  "OUTPUT_FILE":{"name":"out","description":"d","type":"CONST","value":"/data/system_benchmarks/fio.csv","variable":true,"required":true}}}},
			"image":{"type":"image/png","data":""}}`,
		argv:     map[string][]string{"run": {"/usr/local/bin/app.sh"}},
		env:      map[string][]appdef.EnvVar{"run": {{Name: "OUTPUT_FILE", Value: "/data/system_benchmarks/fio.csv"}}},
		warnings: []string{"$.image_icon: unknown field, kept unchanged", `$["scale-max"]: unknown field, kept unchanged`},
	},
}

// TestRealAppDefShapes loads AppDefs in the shapes public JARVICE app
// repositories use through every entry point — appdef.Parse, registration
// (PUT /v1/apps/{name}), POST /jarvice/validate and GET /jarvice/appdef —
// and builds each command's line as JARVICE runs it.
func TestRealAppDefShapes(t *testing.T) {
	h := newHub(t)
	vars := appdef.Vars{Cores: 16, Nodes: 2, MachineType: "n3", VaultName: "projects", VaultType: "FILE"}
	for name, tc := range realShapes {
		t.Run(name, func(t *testing.T) {
			raw := []byte(tc.def)
			def, res := appdef.Parse(raw)
			if err := res.Err(); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := cmp.Diff(tc.warnings, res.Warnings(), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
			for cmd, want := range tc.argv {
				l, err := appdef.Build(def.Command(cmd), tc.values[cmd], vars)
				if err != nil {
					t.Fatalf("Build %s: %v", cmd, err)
				}
				if d := cmp.Diff(want, l.Argv); d != "" {
					t.Errorf("%s argv (-want +got):\n%s", cmd, d)
				}
				if d := cmp.Diff(tc.env[cmd], l.Env); d != "" {
					t.Errorf("%s env (-want +got):\n%s", cmd, d)
				}
				if d := cmp.Diff(tc.scripts[cmd], l.Script); d != "" {
					t.Errorf("%s cmdscript (-want +got):\n%s", cmd, d)
				}
			}
			app := strings.ReplaceAll(name, " ", "-")
			app = strings.NewReplacer(",", "", "/", "").Replace(app)
			code, body := h.do("PUT", "/v1/apps/"+app, appBody(app, raw))
			if code != http.StatusOK {
				t.Fatalf("PUT: %d %s", code, body)
			}
			var reply struct {
				Warnings []string `json:"warnings"`
			}
			if err := json.Unmarshal(body, &reply); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.warnings, reply.Warnings, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("registration warnings (-want +got):\n%s", d)
			}
			code, body = h.do("POST", "/jarvice/validate", raw)
			if code != http.StatusOK || !bytes.Contains(body, []byte(`"valid":true`)) {
				t.Errorf("/jarvice/validate: %d %s", code, body)
			}
			q := url.Values{"username": {hubtest.Admin}, "apikey": {h.key}, "name": {app}}
			code, body = h.do("GET", "/jarvice/appdef?"+q.Encode(), nil)
			if code != http.StatusOK {
				t.Fatalf("/jarvice/appdef: %d %s", code, body)
			}
			var served map[string]any
			if err := json.Unmarshal(body, &served); err != nil {
				t.Fatal(err)
			}
			for path, want := range tc.bools {
				if got := lookup(served, path); got != want {
					t.Errorf("/jarvice/appdef %s = %#v, want the boolean %v", path, got, want)
				}
			}
			if strings.Contains(name, "icon") || name == "arguments in the path" {
				code, _ := h.do("GET", "/v1/apps/"+app+"/icon", nil)
				shown := !strings.Contains(name, "SVG") && !strings.Contains(name, "x-icon")
				if (code == http.StatusOK) != shown {
					t.Errorf("icon: %d, want shown=%v", code, shown)
				}
			}
		})
	}
}

// lookup walks a dotted path of object keys ("-overwrite" is one key).
func lookup(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// TestNotJSONSaysWhere: a document with a trailing comma (several public
// AppDefs have one; JARVICE refuses them as well) is refused with the
// line and column of the fault.
func TestNotJSONSaysWhere(t *testing.T) {
	_, res := appdef.Parse([]byte("{\n  \"name\": \"x\",\n  \"machines\": [\"*\",],\n}"))
	err := res.Err()
	if err == nil || !strings.Contains(err.Error(), "line 3, column 21") {
		t.Fatalf("err = %v, want the line and column of the trailing comma", err)
	}
	if _, err := base64.StdEncoding.DecodeString(onePixelPNG); err != nil {
		t.Fatal(err)
	}
}

// TestCommandMachinesAndScale: a command's own "machines" and
// "scale_max" replace the app's (public AppDefs restrict a GPU command
// to GPU machine types and a desktop to one node this way): the hub
// admits a job by them, and agents pre-pull the image for every machine
// type some command runs on.
func TestCommandMachinesAndScale(t *testing.T) {
	h := newHub(t)
	for _, r := range []struct{ path, body string }{
		{"/v1/clusters/east", `{}`},
		{"/v1/machinetypes/n0", `{"mc_name":"n0","mc_cores":4,"mc_slots":4,"mc_ram":16,"mc_scale_max":4,"cluster":"east"}`},
		{"/v1/machinetypes/ng4", `{"mc_name":"ng4","mc_cores":16,"mc_slots":16,"mc_gpus":1,"mc_ram":64,"mc_scale_max":4,"cluster":"east"}`},
		{"/v1/machinetypes/nx1", `{"mc_name":"nx1","mc_cores":4,"mc_slots":4,"mc_ram":16,"mc_scale_max":4,"cluster":"east"}`},
	} {
		if code, body := h.do("PUT", r.path, []byte(r.body)); code != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", r.path, code, body)
		}
	}
	def := `{"name":"styler","description":"d","author":"a","licensed":true,"classifications":["AI"],"machines":["n0"],
		"vault-types":["FILE"],"scale_max":4,"commands":{
		 "preview":{"path":"/usr/bin/preview","interactive":false,"name":"Preview","description":"d","parameters":{}},
		 "train":{"path":"/usr/bin/train","interactive":false,"name":"Train","description":"d","machines":["ng*"],"scale_max":1,"parameters":{}}},
		"image":{"type":"image/png","data":""}}`
	if code, body := h.do("PUT", "/v1/apps/styler", appBody("styler", []byte(def))); code != http.StatusOK {
		t.Fatalf("PUT app: %d %s", code, body)
	}
	cases := map[string]struct {
		command, machine string
		nodes            int
		want             int
	}{
		"app's machines":                  {"preview", "n0", 2, http.StatusOK},
		"app's machines, not the command": {"preview", "ng4", 1, http.StatusBadRequest},
		"command's machines":              {"train", "ng4", 1, http.StatusOK},
		"command's, not the app's":        {"train", "n0", 1, http.StatusBadRequest},
		"above the command's scale_max":   {"train", "ng4", 2, http.StatusBadRequest},
	}
	for name, tc := range cases {
		body, _ := json.Marshal(map[string]any{"app": "styler", "command": tc.command, "machine_type": tc.machine, "nodes": tc.nodes})
		if code, reply := h.do("POST", "/v1/jobs", body); code != tc.want {
			t.Errorf("%s: %d %s, want %d", name, code, reply, tc.want)
		}
	}
	code, body := h.do("GET", "/v1/clusters/east/catalog", nil)
	if code != http.StatusOK {
		t.Fatalf("agent catalog: %d %s", code, body)
	}
	var cat struct {
		Apps []struct {
			Name         string   `json:"name"`
			MachineTypes []string `json:"machine_types"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(body, &cat); err != nil {
		t.Fatal(err)
	}
	if len(cat.Apps) != 1 || !cmp.Equal(cat.Apps[0].MachineTypes, []string{"n0", "ng4"}) {
		t.Errorf("pre-pull catalog: %+v, want styler on n0 and ng4", cat.Apps)
	}
}
