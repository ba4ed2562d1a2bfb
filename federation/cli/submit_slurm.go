package cli

import (
	"errors"
	"flag"
	"slices"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// rawFlags collects every value of a repeatable flag as given; it never
// refuses one (its checks come later, in words that never repeat a
// value: an environment value may be a secret).
type rawFlags []string

func (f *rawFlags) String() string { return strings.Join(*f, ",") }

func (f *rawFlags) Set(s string) error {
	*f = append(*f, s)
	return nil
}

// sbatchFlags are submit's flags for sbatch's --dependency, --export,
// --chdir and --signal.
type sbatchFlags struct {
	dependency string
	export     rawFlags
	env        rawFlags
	workdir    string
	signal     string
}

func (f *sbatchFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dependency, "dependency", "", "start after other jobs: afterok:JOB[:JOB...] (also after, afterany, afternotok; "+
		"\",\" joins conditions that must all hold, \"?\" conditions of which one must: Slurm's --dependency)")
	fs.StringVar(&f.dependency, "d", "", "the same as --dependency (Slurm's -d)")
	fs.Var(&f.export, "export", "set variables in the job on every node: `KEY=VALUE[,KEY=VALUE...]`; KEY alone copies this shell's "+
		"value; ALL and NONE copy nothing (see docs/cli.md; Slurm's --export)")
	fs.Var(&f.env, "env", "set one variable in the job on every node: `KEY=VALUE`, the value may hold commas (repeatable)")
	fs.Var(&f.env, "e", "`KEY=VALUE`: the same as --env (not Slurm's -e/--error: a job's output is kept with it, flotilla output JOB)")
	fs.StringVar(&f.workdir, "chdir", "", "absolute directory the command starts in on every node (Slurm's -D, --chdir)")
	fs.StringVar(&f.workdir, "D", "", "the same as --chdir")
	fs.StringVar(&f.signal, "signal", "", "send a signal before the walltime ends: [B:]SIG[@TIME], TIME seconds before (default 60), "+
		"B: the main process only (Slurm's --signal; needs --walltime)")
}

// apply sets the request's dependency, environment and working
// directory; getenv reads this shell's environment for --export KEY.
func (f *sbatchFlags) apply(req *structs.JobSubmitRequest, getenv func(string) string) error {
	req.Dependency, req.Workdir, req.Signal = f.dependency, f.workdir, f.signal
	env := map[string]string{}
	for _, list := range f.export {
		for i, item := range strings.Split(list, ",") {
			switch up := strings.ToUpper(item); {
			case i == 0 && (up == "ALL" || up == "NONE"):
				continue
			case up == "ALL" || up == "NONE":
				return usagef("submit: --export: %s must come first", up)
			case !strings.Contains(item, "="):
				if err := structs.CheckEnvName(item); err != nil {
					return usagef("submit: --export %s", fieldMsg(err))
				}
				v := getenv(item)
				if v == "" {
					return usagef("submit: --export %s: not set in this shell (give %s=VALUE)", item, item)
				}
				env[item] = v
				continue
			}
			if err := structs.ParseEnvAssignment(env, item); err != nil {
				return usagef("submit: --export %s", fieldMsg(err))
			}
		}
	}
	for _, kv := range f.env {
		if err := structs.ParseEnvAssignment(env, kv); err != nil {
			return usagef("submit: --env %s", fieldMsg(err))
		}
	}
	if len(env) > 0 {
		req.Env = env
	}
	return nil
}

// fieldMsg is a field error's message without its object and field.
func fieldMsg(err error) string {
	var fe *structs.FieldError
	if errors.As(err, &fe) {
		return fe.Msg
	}
	return err.Error()
}

// envNames lists a job's variables by name only ("-o json" shows the
// values): status output is often pasted into tickets and chats.
func envNames(env map[string]string) string {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, " ")
}
