package jobs

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestParsedCommandFollowsDefinition: the memo of parsed commands answers
// a command registered again with another definition by that definition
// (a parameter removed is refused, one added is accepted), and the same
// definition with the model parsed once.
func TestParsedCommandFollowsDefinition(t *testing.T) {
	def := func(param string) structs.Command {
		var c structs.Command
		doc := `{"path":"/run.sh","parameters":{"` + param + `":{"name":"N","type":"STR"}}}`
		if err := json.Unmarshal([]byte(doc), &c); err != nil {
			t.Fatal(err)
		}
		if len(c.Raw) == 0 {
			t.Fatal("decoded command keeps no Raw")
		}
		return c
	}
	job := func(param string) *structs.Job {
		return &structs.Job{Command: "Run", Parameters: map[string]string{param: "x"}}
	}
	first, second := def("alpha"), def("beta")
	if err := checkParameters(job("alpha"), first); err != nil {
		t.Fatalf("alpha under its definition: %v", err)
	}
	if err := checkParameters(job("alpha"), second); err == nil {
		t.Fatal("alpha accepted by a definition without it")
	}
	if err := checkParameters(job("beta"), second); err != nil {
		t.Fatalf("beta under its definition: %v", err)
	}
	a, err := parsedCommand(&first, "Run")
	if err != nil {
		t.Fatal(err)
	}
	again := def("alpha") // the same JSON, another copy
	b, err := parsedCommand(&again, "Run")
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("the same definition was parsed again")
	}
	if other, _ := parsedCommand(&first, "Other"); other == a {
		t.Error("another command name shares the model")
	}
}

// TestFitNamesTheCommands: a job naming no command, of an app with
// several, is told to name one and which there are (it was "app has no
// command \"\"" before); a command the app lacks lists the app's.
func TestFitNamesTheCommands(t *testing.T) {
	app := &structs.App{Name: "probe", AppDef: structs.AppDef{Commands: map[string]structs.Command{"task": {Path: "/t"}, "run": {Path: "/r"}}}}
	mt := &structs.MachineType{Name: "n1", ScaleMax: 4}
	for cmd, want := range map[string]string{
		"":     `app "probe" has several commands (run, task): name one (--command)`,
		"wark": `app "probe" has no command "wark" (its commands: run, task)`,
	} {
		err := fit(&structs.Job{Command: cmd, Nodes: 1}, mt, app)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("command %q: %v, want %q", cmd, err, want)
		}
	}
	if err := fit(&structs.Job{Command: "run", Nodes: 1}, mt, app); err != nil {
		t.Errorf("command run: %v", err)
	}
}
