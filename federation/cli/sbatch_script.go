package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// directive is one #SBATCH (or #FLOTILLA) line of a job script.
type directive struct {
	line int    // from 1
	text string // the line as written
	args []string
}

// Directive prefixes: sbatch's, and Flotilla's own for flags sbatch lacks
// (#FLOTILLA --image X: sbatch takes such a line for a comment).
const (
	prefixSbatch   = "#SBATCH"
	prefixFlotilla = "#FLOTILLA"
)

// scriptDirectives reads a job script's directives as sbatch does: the
// lines that begin with #SBATCH (or #FLOTILLA) before the first line that
// is neither blank nor a comment; #SBATCH lines after it are comments, as
// sbatch ignores them. A directive's words are split at blanks, quotes
// ('...', "...") group them, and a word that begins with # starts a
// comment to the end of the line.
func scriptDirectives(script string) ([]directive, error) {
	var out []directive
	for i, line := range strings.Split(script, "\n") {
		var rest string
		switch {
		case hasPrefixWord(line, prefixSbatch):
			rest = line[len(prefixSbatch):]
		case hasPrefixWord(line, prefixFlotilla):
			rest = line[len(prefixFlotilla):]
		default:
			if t := strings.TrimLeft(line, " \t\r"); t != "" && t[0] != '#' {
				return out, nil // the first command: directives end
			}
			continue
		}
		d := directive{line: i + 1, text: strings.TrimRight(line, " \t\r")}
		args, err := directiveArgs(rest)
		if err != nil {
			return nil, fmt.Errorf("%d: %s: %w", d.line, d.text, err)
		}
		d.args = args
		out = append(out, d)
	}
	return out, nil
}

// hasPrefixWord reports whether line begins with prefix followed by a
// blank or the end of the line ("#SBATCHX" is a comment).
func hasPrefixWord(line, prefix string) bool {
	if !strings.HasPrefix(line, prefix) {
		return false
	}
	rest := line[len(prefix):]
	return rest == "" || rest[0] == ' ' || rest[0] == '\t'
}

// directiveArgs splits a directive's words (see scriptDirectives).
func directiveArgs(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, c := range s {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t' || c == '\r':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			return args, nil
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("a quote is not closed")
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}

// sbatchOpts are sbatch's flags: the job's (jobFlags, shared with submit)
// and the image.
type sbatchOpts struct {
	jobFlags
	image string
}

func (o *sbatchOpts) register(fs *flag.FlagSet) {
	o.jobFlags.register(fs)
	fs.StringVar(&o.image, "image", "", "container image the script runs in (default: #FLOTILLA --image in the script, else $"+EnvImage+", else the hub's -batch-image)")
	fs.Var(bindFlag{b: &o.arr.bind, slurm: true}, "cpu-bind", "Slurm's --cpu-bind=[quiet|verbose,]`TYPE`: on an array job none, or cores, threads, rank (= --task-cpu-bind slots); "+
		"other types, and jobs that are not arrays: ignored with a warning; map_*/mask_* on an array refused (see docs/cli.md)")
	fs.Var(bindFlag{b: &o.arr.bind, slurm: true}, "cpu_bind", "`TYPE`: the same as --cpu-bind (Slurm's older spelling)")
}

// sbatchHints are the flags sbatch does not take beyond slurmOnly's, with
// what to do instead.
var sbatchHints = map[string]string{
	"app":     "a job script runs in its image (--image); flotilla submit --app runs an app's command",
	"command": "a job script runs in its image (--image); flotilla submit --app APP --command CMD runs an app's command",
	"param":   "a job script takes arguments after its name: flotilla sbatch SCRIPT ARG...",
}

// directiveHints are sbatchHints and, in a script, -o and -e, which are
// Slurm's --output and --error there.
var directiveHints = func() map[string]string {
	m := map[string]string{
		"o": "a job's output is kept with it: flotilla output JOB (--follow as tail -f); write files to a vault (--vault NAME, mounted at /data)",
		"e": "a job's output is kept with it: flotilla output JOB; to set a variable use --export KEY=VALUE",
	}
	for k, v := range sbatchHints {
		m[k] = v
	}
	return m
}()

// checkDirectives checks each directive of the script named name alone,
// with the flags and checks of the command line: a bad one is refused
// naming its line ("job.sh:3: #SBATCH --mem=4G: ...").
func (s *session) checkDirectives(name string, ds []directive) error {
	for _, d := range ds {
		fail := func(msg string) error { return usagef("%s:%d: %s: %s", name, d.line, d.text, msg) }
		var one sbatchOpts
		fs := flag.NewFlagSet("directive", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		one.register(fs)
		if flagName, hint := slurmOnlyFlag(fs, d.args, directiveHints); hint != "" {
			return fail(flagName + " is not taken here: " + hint + " (see docs/cli.md)")
		}
		if err := fs.Parse(d.args); err != nil {
			return fail(err.Error())
		}
		if fs.NArg() > 0 {
			return fail(fmt.Sprintf("unexpected argument %q: a directive holds flags only", fs.Arg(0)))
		}
		if err := one.apply(s.getenv); err != nil {
			return fail(trimCommand(err))
		}
		// The request's own check, on what this line sets.
		probe := one.req
		probe.Script, probe.Image = "#!/bin/sh\n", one.image
		if probe.Image == "" {
			probe.Image = "image"
		}
		if probe.MachineType == "" {
			probe.MachineType = "-"
		}
		if probe.Array == nil { // --array may be on another line: the whole script's check says
			probe.Array = &structs.ArraySpec{Start: 1, End: 1}
		}
		if probe.Signal != "" && probe.Walltime == 0 {
			// Its walltime may be on another line: the whole request's
			// check weighs the two; here, the form alone.
			if _, err := structs.ParseSignalAt(probe.Signal); err != nil {
				return fail("--signal " + errText(err))
			}
			probe.Signal = ""
		}
		if err := probe.Validate(); err != nil {
			return fail(flagMessage(err))
		}
	}
	return nil
}

// errText is a typed error's message without its kind.
func errText(err error) string {
	var e *structs.Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return err.Error()
}

// flagMessage words a request's refusal by the flag of its field.
func flagMessage(err error) string {
	var fe *structs.FieldError
	if errors.As(err, &fe) {
		if f := submitFlags[fe.Field]; f != "" {
			return "--" + f + " " + fe.Msg
		}
		return fe.Field + " " + fe.Msg
	}
	return err.Error()
}
