package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// EnvImage is the image a job script runs in when neither --image nor a
// #FLOTILLA --image line names one.
const EnvImage = "FLOTILLA_IMAGE"

// WithStdin gives Run its standard input (main passes os.Stdin): flotilla
// sbatch - reads the job script from it. Without it stdin is empty.
func WithStdin(r io.Reader) Option {
	return func(s *session) { s.stdin = r }
}

// wrapScript is the job script of sbatch --wrap CMD, as sbatch writes it.
func wrapScript(cmd string) string {
	return "#!/bin/sh\n# This job script was made by flotilla sbatch --wrap.\n\n" + cmd + "\n"
}

// runSbatch is flotilla sbatch [flags] SCRIPT [ARGS...]: a job script with
// #SBATCH directives, run in a container image (see docs/cli.md "Job
// scripts"). The directives are read as sbatch reads them and take the
// flags of the command line, which win over them.
func runSbatch(ctx context.Context, s *session, path, args []string) error {
	fs := s.flagSet("sbatch")
	var o sbatchOpts
	o.register(fs)
	var wrap string
	fs.StringVar(&wrap, "wrap", "", "run this command line (in a #!/bin/sh script) instead of a script file (sbatch --wrap)")
	fs.Usage = func() { s.leafUsage(fs, path, "SCRIPT|- [ARGS...]") }
	if name, hint := slurmOnlyFlag(fs, flagPart(fs, args), sbatchHints); hint != "" {
		return usagef("sbatch: %s is not taken here: %s (see docs/cli.md)", name, hint)
	}
	// Flags come before the script; what follows it is its arguments.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("sbatch: %v", err)
	}
	if err := s.checkOutput(); err != nil {
		return err
	}
	flagArgs, pos := args[:len(args)-fs.NArg()], fs.Args()
	name, script, err := s.readScript(wrap, pos)
	if err != nil {
		return err
	}
	if err := structs.CheckJobScript(script, true); err != nil {
		return usagef("%s: the script %s", name, fieldMsg(err))
	}
	ds, err := scriptDirectives(script)
	if err != nil {
		return usagef("%s:%v", name, err)
	}
	if err := s.checkDirectives(name, ds); err != nil {
		return err
	}
	// The directives in order, then the command line: its flags win.
	final := s.flagSet("sbatch")
	var f sbatchOpts
	f.register(final)
	final.StringVar(&wrap, "wrap", wrap, "")
	for _, d := range ds {
		f.arr.bind.at = fmt.Sprintf("%s:%d: %s", name, d.line, d.text)
		if err := final.Parse(d.args); err != nil {
			return usagef("%s:%d: %s: %v", name, d.line, d.text, err)
		}
	}
	f.arr.bind.at = ""
	if err := final.Parse(flagArgs); err != nil {
		return usagef("sbatch: %v", err)
	}
	if err := f.apply(s.getenv); err != nil {
		return usagef("sbatch: %s", trimCommand(err))
	}
	for _, w := range f.arr.warnings {
		fmt.Fprintln(s.stderr, "sbatch: warning: "+w)
	}
	f.req.Script, f.req.Image = script, f.image
	if len(pos) > 1 {
		f.req.ScriptArgs = pos[1:]
	}
	if f.req.Image == "" {
		f.req.Image = s.getenv(EnvImage) // else the hub's default, if it has one
	}
	if err := f.req.Validate(); err != nil {
		var fe *structs.FieldError
		if errors.As(err, &fe) && fe.Field == "machine_type" {
			return usagef("sbatch: --machine %s (or #SBATCH -p TYPE in the script)", fe.Msg)
		}
		return usagef("sbatch: %s", flagMessage(err))
	}
	return s.submitAndShow(ctx, f.jobFlags, func(j *structs.Job) error {
		return s.line("Submitted batch job %d", j.Number)
	})
}

// flagPart is the part of args fs parses: up to the script's name.
func flagPart(fs *flag.FlagSet, args []string) []string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" || len(a) < 2 || a[0] != '-' {
			return args[:i]
		}
		name, _, hasValue := cutFlag(a)
		if f := fs.Lookup(name); f != nil {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !hasValue && !(ok && b.IsBoolFlag()) {
				i++
			}
		}
	}
	return args
}

// readScript returns the job script and the name messages call it by:
// --wrap's, the file's, or stdin's for "-".
func (s *session) readScript(wrap string, pos []string) (string, string, error) {
	switch {
	case wrap != "" && len(pos) > 0:
		return "", "", usagef("sbatch: --wrap takes no script or arguments (%q)", pos[0])
	case wrap != "":
		return "--wrap", wrapScript(wrap), nil
	case len(pos) == 0:
		return "", "", usagef("sbatch: missing SCRIPT (a file, - for stdin, or --wrap CMD)")
	}
	name := pos[0]
	var r io.Reader
	if name == "-" {
		name, r = "stdin", s.stdin
		if r == nil {
			return "", "", usagef("sbatch: no standard input to read the script from")
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			return "", "", usagef("sbatch: %v", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, structs.MaxJobScript+1))
	if err != nil {
		return "", "", usagef("sbatch: reading %s: %v", name, err)
	}
	if len(b) > structs.MaxJobScript {
		return "", "", usagef("%s: the script is over the limit of %d bytes (64 KiB): keep data in a vault (--vault), not in the script", name, structs.MaxJobScript)
	}
	return name, string(b), nil
}

// trimCommand is a flag's refusal without submit's command name.
func trimCommand(err error) string { return strings.TrimPrefix(err.Error(), "submit: ") }

// cutFlag splits "-name=value" or "--name" into its name and value.
func cutFlag(a string) (name, value string, hasValue bool) {
	return strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
}

// Script is what `script -o json` prints.
type Script struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Number uint64 `json:"number"`
	Script string `json:"script"`
}

// runScript prints a job's script as submitted (Slurm's scontrol write
// batch_script JOB -): to its owner and the administrators over it.
func runScript(ctx context.Context, s *session, path, args []string) error {
	cl, j, err := oneJob(ctx, s, path, args, nil)
	if err != nil {
		return err
	}
	text, err := cl.JobScript(ctx, j.ID)
	if err != nil {
		return err
	}
	return s.show(&Script{ID: j.ID, Name: j.Name, Number: j.Number, Script: text}, func() error {
		_, err := io.WriteString(s.stdout, text)
		return err
	})
}
