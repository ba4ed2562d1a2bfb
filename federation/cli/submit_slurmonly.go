package cli

import (
	"flag"
	"strings"
)

// slurmOnly are sbatch flags submit does not take, each with what to do
// instead: a Slurm user who types one learns the Flotilla way rather than
// "flag provided but not defined".
var slurmOnly = map[string]string{
	"n":               "ranks and cores come with the machine type: each node is one whole machine type; an AppDef parameter may use %TCORES%, %CORES% or %NODES%",
	"ntasks":          "ranks and cores come with the machine type: each node is one whole machine type; an AppDef parameter may use %TCORES%, %CORES% or %NODES%",
	"ntasks-per-node": "ranks and cores come with the machine type: each node is one whole machine type; an AppDef parameter may use %CORES%",
	"c":               "cores come with the machine type (flotilla admin machine-types list shows them)",
	"cpus-per-task":   "cores come with the machine type (flotilla admin machine-types list shows them)",
	"mem":             "memory comes with the machine type (flotilla admin machine-types list shows it)",
	"mem-per-cpu":     "memory comes with the machine type (flotilla admin machine-types list shows it)",
	"G":               "GPUs come with the machine type: choose one that has them with -p TYPE",
	"gpus":            "GPUs come with the machine type: choose one that has them with -p TYPE",
	"gres":            "GPUs come with the machine type: choose one that has them with -p TYPE",
	"gpus-per-node":   "GPUs come with the machine type: choose one that has them with -p TYPE",
	"output":          "a job's output is kept with it: flotilla output JOB (--follow as tail -f); write files to a vault (--vault NAME, mounted at /data)",
	"error":           "a job's output is kept with it: flotilla output JOB (--follow as tail -f); write files to a vault (--vault NAME, mounted at /data)",
	"q":               "use --priority normal|high|highest",
	"qos":             "use --priority normal|high|highest",
	"wait":            "submit returns at once; flotilla output --follow JOB waits for the end, then flotilla status JOB shows the exit code",
	"W":               "submit returns at once; flotilla output --follow JOB waits for the end, then flotilla status JOB shows the exit code",
	"mail-type":       "no mail: flotilla events --job JOB --follow prints every state change",
	"mail-user":       "no mail: flotilla events --job JOB --follow prints every state change",
	"exclusive":       "every node of a job is a whole machine type, one pod per node, never shared with another job",
	"w":               "nodes are chosen by machine type (-p TYPE) and the scheduler, not by name",
	"nodelist":        "nodes are chosen by machine type (-p TYPE) and the scheduler, not by name",
	"x":               "nodes are chosen by machine type (-p TYPE) and the scheduler, not by name",
	"exclude":         "nodes are chosen by machine type (-p TYPE) and the scheduler, not by name",
	"C":               "nodes are chosen by machine type (-p TYPE): a machine type is a constraint",
	"constraint":      "nodes are chosen by machine type (-p TYPE): a machine type is a constraint",
	"wrap":            "there are no batch scripts: --app APP [--command CMD] --param key=value runs an app's command (docs/jarvice.md)",
	"begin":           "not offered: submit when the job may start, or hold it behind another with --dependency",
	"H":               "not offered: hold a job behind another with --dependency",
	"hold":            "not offered: hold a job behind another with --dependency",
}

// slurmFlagHint finds the first sbatch-only flag among args (as fs would
// parse them: a value flag's value is skipped; nothing after "--") and
// says what to use instead.
func slurmFlagHint(fs *flag.FlagSet, args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return nil
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if f := fs.Lookup(name); f != nil {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !hasValue && !(ok && b.IsBoolFlag()) {
				i++ // its value
			}
			continue
		}
		if hint, ok := slurmOnly[name]; ok {
			dashes := "--"
			if len(name) == 1 {
				dashes = "-"
			}
			return usagef("submit: %s%s is sbatch's, not taken here: %s (see docs/cli.md)", dashes, name, hint)
		}
	}
	return nil
}
