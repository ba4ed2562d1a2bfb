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
	"mail-type":       "no mail: flotilla events --job JOB --follow prints every state change",
	"mail-user":       "no mail: flotilla events --job JOB --follow prints every state change",
	"exclusive":       "every node of a job is a whole machine type, one pod per node, never shared with another job",
	"w":               "nodes are chosen by machine type (-p TYPE) and the scheduler, not by name",
	"nodelist":        "nodes are chosen by machine type (-p TYPE) and the scheduler, not by name",
	"x":               "nodes are chosen by machine type (-p TYPE) and the scheduler, not by name",
	"exclude":         "nodes are chosen by machine type (-p TYPE) and the scheduler, not by name",
	"C":               "nodes are chosen by machine type (-p TYPE): a machine type is a constraint",
	"constraint":      "nodes are chosen by machine type (-p TYPE): a machine type is a constraint",
	"wrap":            "submit runs an app's command (--app APP [--command CMD] --param key=value); flotilla sbatch --image IMAGE --wrap CMD runs a command line, flotilla sbatch SCRIPT a job script",
	"cpu-bind":        "an array job's tasks are bound with --task-cpu-bind slots (Slurm's cores, threads, rank) or none; flotilla sbatch takes --cpu-bind as Slurm writes it",
	"cpu_bind":        "an array job's tasks are bound with --task-cpu-bind slots (Slurm's cores, threads, rank) or none; flotilla sbatch takes --cpu-bind as Slurm writes it",
	"begin":           "not offered: submit when the job may start, or hold it behind another with --dependency",
	"H":               "not offered: hold a job behind another with --dependency",
	"hold":            "not offered: hold a job behind another with --dependency",
	"requeue":         "nothing restarts a job (a failed node ends it, naming the pod and node); an array's tasks retry with --task-retries N",
	"no-requeue":      "a job is never requeued after it started (a failed node ends it): drop the flag",
	"hint":            "cores and threads come with the machine type; an array's tasks are bound with --task-cpu-bind slots (sbatch: --cpu-bind=cores)",
	"ntasks-per-core": "ranks and cores come with the machine type: each node is one whole machine type; an AppDef parameter may use %CORES%",
	"mem-bind":        "memory comes with the machine type; each pod's memory is its own",
	"distribution":    "ranks are laid out by the job's machinefile ($FLOTILLA_MACHINEFILE, one host a line; $FLOTILLA_CORESFILE a host a core): give mpirun its own mapping",
	"reservation":     "nodes are chosen by machine type (-p TYPE) and the scheduler; there are no reservations",
	"nice":            "use --priority normal|high|highest",
	"comment":         "use --label TEXT (jobs and status show it)",
}

// slurmFlagHint finds the first sbatch-only flag among args (as fs would
// parse them: a value flag's value is skipped; nothing after "--") and
// says what to use instead.
func slurmFlagHint(fs *flag.FlagSet, args []string) error {
	if name, hint := slurmOnlyFlag(fs, args, nil); hint != "" {
		return usagef("submit: %s is sbatch's, not taken here: %s (see docs/cli.md)", name, hint)
	}
	return nil
}

// slurmOnlyFlag returns the first flag of args that fs lacks and slurmOnly
// or extra (checked first) names, as written ("--mem"), with its hint;
// "" when there is none.
func slurmOnlyFlag(fs *flag.FlagSet, args []string, extra map[string]string) (string, string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return "", ""
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		dashes := "--"
		if len(name) == 1 {
			dashes = "-"
		}
		if hint, ok := extra[name]; ok {
			return dashes + name, hint
		}
		if f := fs.Lookup(name); f != nil {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !hasValue && !(ok && b.IsBoolFlag()) {
				i++ // its value
			}
			continue
		}
		if hint, ok := slurmOnly[name]; ok {
			return dashes + name, hint
		}
	}
	return "", ""
}
