package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSlurmCPUBind: Slurm's --cpu-bind values are read as Slurm reads
// them (case, short and singular words, later words winning, the commas
// of a map/mask list) and mapped to an array job's binding: cores,
// threads and rank are slots, none is none, sockets/ldoms/rank_ldom and
// verbose are warned about, map_*/mask_* refused; a job that is not an
// array sets nothing and is warned about anything but none.
func TestSlurmCPUBind(t *testing.T) {
	type want struct {
		array, plain string // the binding ("" none set), or "error: ..." / "warn: ..." in its words
	}
	cases := map[string]want{
		"cores":                          {"slots", "warn: ignored"},
		"CORE":                           {"slots", "warn: ignored"},
		"threads":                        {"slots", "warn: ignored"},
		"rank":                           {"slots", "warn: ignored"},
		"q,cores":                        {"slots", "warn: ignored"},
		"quiet":                          {"", ""},
		"none":                           {"none", ""},
		"no":                             {"none", ""},
		"cores,none":                     {"none", ""},
		"v,none":                         {"none", "warn: ignored: Flotilla binds only an array job's tasks"},
		"verbose,cores":                  {"warn: verbose ignored (a task sees its CPUs in $FLOTILLA_TASK_CPUS)", "warn: ignored"},
		"one_thread,threads":             {"warn: one_thread ignored", "warn: ignored"},
		"sockets":                        {"warn: sockets is not offered", "warn: ignored"},
		"ldoms":                          {"warn: ldoms is not offered", "warn: ignored"},
		"rank_ldom":                      {"warn: rank_ldom is not offered", "warn: ignored"},
		"sockets,rank":                   {"slots", "warn: ignored"},
		"map_cpu:0,2,4":                  {"error: map_cpu is not offered: an array job's tasks are bound by slot", "warn: ignored"},
		"verbose,mask_cpu:0x3,0xC,cores": {"error: mask_cpu is not offered", "warn: ignored"},
		"mapldom=1,0":                    {"error: map_ldom is not offered", "warn: ignored"},
		"maskldom:0x1*4":                 {"error: mask_ldom is not offered", "warn: ignored"},
	}
	for v, w := range cases {
		sb, err := parseSlurmCPUBind(v)
		if err != nil {
			t.Errorf("%s: %v", v, err)
			continue
		}
		for _, array := range []bool{true, false} {
			expect := w.plain
			if array {
				expect = w.array
			}
			bind, warnings, err := sb.binding(array)
			got := bind
			switch {
			case err != nil:
				got = "error: " + err.Error()
			case len(warnings) > 0:
				got = "warn: " + strings.Join(warnings, "; ")
			}
			if !strings.HasPrefix(got, expect) || (expect == "" && got != "") {
				t.Errorf("--cpu-bind=%s, array %v: %q, want %q", v, array, got, expect)
			}
			if array && err == nil && bind != "" && bind != structs.TaskCPUBindNone && bind != structs.TaskCPUBindSlots {
				t.Errorf("--cpu-bind=%s: binding %q is not one the API takes", v, bind)
			}
		}
	}
	for v, msg := range map[string]string{
		"":              `"" is not a --cpu-bind word`,
		"cores,":        `"" is not a --cpu-bind word`,
		"bogus":         `"bogus" is not a --cpu-bind word: want [quiet|verbose,]none|cores|threads|rank`,
		"map_cpu":       "map_cpu needs a list of CPU numbers or masks",
		"map_cpu:":      "map_cpu needs a list",
		"mask_cpu:zz":   "mask_cpu needs a list",
		"map_cpu:0,x":   `"x" is not a --cpu-bind word`,
		"help":          "help: want [quiet|verbose,]none|cores|threads|rank",
		"cores;threads": `"cores;threads" is not a --cpu-bind word`,
	} {
		if _, err := parseSlurmCPUBind(v); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("--cpu-bind=%q: %v, want %q", v, err, msg)
		}
	}
	sb, _ := parseSlurmCPUBind("verbose,map_cpu:0,2,verbose")
	if diff := cmp.Diff(slurmCPUBind{kind: "map_cpu", ignored: []string{"verbose", "verbose"}}, sb, cmp.AllowUnexported(slurmCPUBind{})); diff != "" {
		t.Errorf("a list between words (-want +got):\n%s", diff)
	}
}

// TestSbatchCPUBind: flotilla sbatch against a real hub. #SBATCH
// --cpu-bind=cores on an array job is --task-cpu-bind slots (the job
// variable), verbose warned about on stderr naming the script's line;
// the command line's --task-cpu-bind wins over the directive; on a job
// that is not an array it is accepted, set nothing and is warned about;
// map_cpu on an array job and an unknown word exit 2 naming the line,
// and submit refuses --cpu-bind saying what to use.
func TestSbatchCPUBind(t *testing.T) {
	u, ctx := userHubWithin(t, 60*time.Second)
	array := writeFile(t, "array.sh", "#!/bin/sh\n#SBATCH -p n1 --array=1-4\n#SBATCH --cpu-bind=verbose,cores\ntrue\n")
	r := runCLI(t, u.env, "sbatch", "--image", "i:1", array)
	r.check(t, ExitOK, "Submitted batch job 1\n")
	if want := "sbatch: warning: " + array + ":3: #SBATCH --cpu-bind=verbose,cores: verbose ignored"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	runCLI(t, u.env, "sbatch", "--image", "i:1", "--task-cpu-bind", "none", array).check(t, ExitOK, "Submitted batch job 2\n")
	runCLI(t, u.env, "sbatch", "--image", "i:1", "--cpu-bind", "rank", writeFile(t, "list.sh", "#!/bin/sh\n#SBATCH -p n1 --array=1,3\n#SBATCH --task-cpu-bind=none\ntrue\n")).
		check(t, ExitOK, "Submitted batch job 3\n")
	plain := writeFile(t, "plain.sh", "#!/bin/sh\n#SBATCH -p n1\n#SBATCH --cpu-bind=cores\ntrue\n")
	r = runCLI(t, u.env, "sbatch", "--image", "i:1", plain)
	r.check(t, ExitOK, "Submitted batch job 4\n", "sbatch: warning: "+plain+":3: #SBATCH --cpu-bind=cores: ignored: Flotilla binds only an array job's tasks")
	r = runCLI(t, u.env, "sbatch", "--image", "i:1", "--cpu-bind=none", plain)
	r.check(t, ExitOK, "Submitted batch job 5\n")
	if r.stderr != "" {
		t.Errorf("--cpu-bind=none on a job that is not an array: stderr %q", r.stderr)
	}
	for n, want := range map[string]string{"1": structs.TaskCPUBindSlots, "2": structs.TaskCPUBindNone, "3": structs.TaskCPUBindSlots, "4": "", "5": ""} {
		j, err := findJob(ctx, u.adm, n)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := j.Env[structs.ArrayTaskCPUBindVar]; got != want || ok != (want != "") {
			t.Errorf("job %s: binding %q (set %v), want %q", n, got, ok, want)
		}
	}

	runCLI(t, u.env, "sbatch", "--image", "i:1", writeFile(t, "map.sh", "#!/bin/sh\n#SBATCH -p n1\n#SBATCH --array=1-4\n#SBATCH --cpu-bind=map_cpu:0,2\ntrue\n")).
		check(t, ExitUsage, "map.sh:4: #SBATCH --cpu-bind=map_cpu:0,2: map_cpu is not offered", "use --cpu-bind=cores (--task-cpu-bind slots) or none")
	runCLI(t, u.env, "sbatch", "--image", "i:1", writeFile(t, "bad.sh", "#!/bin/sh\n#SBATCH -p n1\n#SBATCH --cpu_bind=bogus\ntrue\n")).
		check(t, ExitUsage, `bad.sh:3: #SBATCH --cpu_bind=bogus: invalid value "bogus" for flag -cpu_bind: "bogus" is not a --cpu-bind word`)
	runCLI(t, u.env, "submit", "--app", "solver", "-p", "n1", "--array", "1-4", "--cpu-bind=cores").
		check(t, ExitUsage, "submit: --cpu-bind is sbatch's, not taken here: an array job's tasks are bound with --task-cpu-bind slots")
	if j, err := findJob(ctx, u.adm, "6"); err == nil {
		t.Errorf("a refused command line submitted job %s", j.Name)
	}
}
