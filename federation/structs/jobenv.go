package structs

import (
	"path"
	"strconv"
	"strings"
)

// Bounds of a job's environment and working directory.
const (
	MaxJobEnv      = 128       // variables
	MaxJobEnvValue = 32 << 10  // bytes of one value
	MaxJobEnvTotal = 128 << 10 // bytes of every name and value
	MaxJobWorkdir  = 4096      // bytes of the working directory
)

// reservedEnvPrefixes are the variables Flotilla, its Slurm and JARVICE
// compatibility set in a job: a job's own environment never overrides
// them.
var reservedEnvPrefixes = [...]string{"FLOTILLA_", "SLURM_", "JARVICE_"}

// CheckEnvName checks one variable name: POSIX ([A-Za-z_][A-Za-z0-9_]*),
// not one of the reserved prefixes.
func CheckEnvName(name string) error {
	bad := func(msg string) error {
		return &FieldError{Object: "job", Field: "env", Msg: strconv.Quote(name) + ": " + msg}
	}
	if name == "" {
		return bad("empty name")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return bad("not a POSIX name ([A-Za-z_][A-Za-z0-9_]*)")
		}
	}
	for _, p := range reservedEnvPrefixes {
		if strings.HasPrefix(strings.ToUpper(name), p) {
			return bad(p + "* variables are set by Flotilla")
		}
	}
	return nil
}

// checkEnvWorkdir checks a job's environment and working directory. An
// error names a variable, never its value.
func checkEnvWorkdir(env map[string]string, workdir string) error {
	if len(env) > MaxJobEnv {
		return &FieldError{Object: "job", Field: "env", Msg: strconv.Itoa(len(env)) + " variables, at most " + strconv.Itoa(MaxJobEnv)}
	}
	total := 0
	for k, v := range env {
		if err := CheckEnvName(k); err != nil {
			return err
		}
		switch {
		case len(v) > MaxJobEnvValue:
			return &FieldError{Object: "job", Field: "env", Msg: strconv.Quote(k) + ": value of " + strconv.Itoa(len(v)) + " bytes, at most " + strconv.Itoa(MaxJobEnvValue)}
		case strings.ContainsAny(v, "\x00\n"):
			// An SSH server's environment file (see flotilla-init) holds
			// one variable a line.
			return &FieldError{Object: "job", Field: "env", Msg: strconv.Quote(k) + ": value holds a NUL byte or a newline"}
		}
		total += len(k) + len(v)
	}
	if total > MaxJobEnvTotal {
		return &FieldError{Object: "job", Field: "env", Msg: strconv.Itoa(total) + " bytes in all, at most " + strconv.Itoa(MaxJobEnvTotal)}
	}
	if workdir == "" {
		return nil
	}
	bad := func(msg string) error {
		return &FieldError{Object: "job", Field: "workdir", Msg: strconv.Quote(workdir) + ": " + msg}
	}
	switch {
	case len(workdir) > MaxJobWorkdir:
		return bad("longer than " + strconv.Itoa(MaxJobWorkdir) + " bytes")
	case !path.IsAbs(workdir):
		return bad("is not absolute")
	case strings.ContainsAny(workdir, "\x00\n"):
		return bad("holds a NUL or newline")
	}
	return nil
}

// ParseEnvAssignments reads KEY=VALUE[,KEY=VALUE...] (Slurm's --export
// list) into env. A value cannot hold a comma in this form (pass it with
// --env KEY=VALUE instead). ALL and NONE are not accepted here: see the
// CLI's --export.
func ParseEnvAssignments(env map[string]string, list string) error {
	for _, kv := range strings.Split(list, ",") {
		if err := ParseEnvAssignment(env, kv); err != nil {
			return err
		}
	}
	return nil
}

// ParseEnvAssignment reads one KEY=VALUE into env; the value may hold
// any character, "=" and "," too.
func ParseEnvAssignment(env map[string]string, kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		// Not repeated: it may be a value given without its name.
		return &FieldError{Object: "job", Field: "env", Msg: "an item without \"=\": want KEY=VALUE"}
	}
	if err := CheckEnvName(k); err != nil {
		return err
	}
	env[k] = v
	return nil
}
