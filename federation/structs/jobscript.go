package structs

import (
	"fmt"
	"strings"
)

// Bounds of a job script submission (JobSubmitRequest.Script): the
// script travels in the job's record and its Kubernetes Secret, its
// arguments on the head's command line.
const (
	MaxJobScript      = 64 << 10 // bytes of script
	MaxScriptArgs     = 1024     // arguments
	MaxScriptArgBytes = 64 << 10 // bytes of arguments in all
	MaxImageRef       = 1024     // bytes of an image reference
)

// ScriptApp stands for the app of a script submission in the checks of
// its other fields: the hub puts the caller's batch app there.
const ScriptApp = "batch"

// checkScript checks a submission's job script fields and returns the app
// the rest of the check takes: App, or ScriptApp for a script. A script
// excludes App, Command and Parameters; without an Image it runs in the
// hub's default image, which the hub requires then. Image and ScriptArgs
// need a script.
func (r *JobSubmitRequest) checkScript() (string, error) {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Object: "job", Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if r.Script == "" {
		switch {
		case r.Image != "":
			return "", bad("image", "needs a script (an app's image is the app's)")
		case len(r.ScriptArgs) > 0:
			return "", bad("script_args", "needs a script")
		}
		return r.App, nil
	}
	switch {
	case r.App != "":
		return "", bad("app", "and script exclude each other: a script runs in its image, an app runs its AppDef command")
	case r.Command != "":
		return "", bad("command", "and script exclude each other")
	case len(r.Parameters) > 0:
		return "", bad("parameters", "and script exclude each other: pass the script arguments (script_args)")
	}
	if err := CheckJobScript(r.Script, true); err != nil {
		return "", err
	}
	if r.Image != "" { // else the hub's default (flotilla-hub -batch-image)
		if err := CheckImageRef(r.Image); err != nil {
			return "", err
		}
	}
	if err := checkScriptArgs(r.ScriptArgs); err != nil {
		return "", err
	}
	return ScriptApp, nil
}

// CheckJobScript checks a job script's text: at most MaxJobScript bytes
// of UTF-8 without NUL bytes. strict adds sbatch's own checks, which the
// v1 API and the CLI apply: the first line is "#!" and an interpreter,
// and no DOS line breaks. (JARVICE's /jarvice/batch takes any script and
// runs one without "#!" with /bin/sh.) Errors never quote the script.
func CheckJobScript(script string, strict bool) error {
	bad := func(format string, args ...any) error {
		return &FieldError{Object: "job", Field: "script", Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case script == "":
		return bad("is empty")
	case len(script) > MaxJobScript:
		return bad("of %d bytes is over the limit of %d (64 KiB): keep data in a vault (--vault), not in the script", len(script), MaxJobScript)
	case strings.IndexByte(script, 0) >= 0:
		return bad("holds a NUL byte: not a text file")
	case !validUTF8(script):
		return bad("is not valid UTF-8")
	case !strict:
		return nil
	case !strings.HasPrefix(script, "#!"):
		return bad("does not start with #!: its first line must name the interpreter, e.g. #!/bin/bash (as sbatch requires)")
	case strings.TrimSpace(strings.SplitN(script[2:], "\n", 2)[0]) == "":
		return bad("names no interpreter after #! on its first line")
	case strings.Contains(script, "\r\n"):
		return bad("has DOS line breaks (\\r\\n): convert it with dos2unix (as sbatch requires)")
	}
	return nil
}

// CheckImageRef checks a container image reference as a script
// submission names it: printable, without blanks, at most MaxImageRef
// bytes. The registry decides whether it exists when a node pulls it.
func CheckImageRef(image string) error {
	bad := func(format string, args ...any) error {
		return &FieldError{Object: "job", Field: "image", Msg: fmt.Sprintf(format, args...)}
	}
	if len(image) > MaxImageRef {
		return bad("of %d bytes is over the limit of %d", len(image), MaxImageRef)
	}
	for _, c := range image {
		if c <= ' ' || c == 0x7f {
			return bad("%q: want an image reference such as ubuntu:24.04 (no blanks or control characters)", image)
		}
	}
	if image == "" {
		return bad("is empty")
	}
	return nil
}

// checkScriptArgs checks a script's arguments: at most MaxScriptArgs of
// MaxScriptArgBytes in all, UTF-8 without NUL bytes (a command line
// cannot carry one).
func checkScriptArgs(args []string) error {
	bad := func(format string, a ...any) error {
		return &FieldError{Object: "job", Field: "script_args", Msg: fmt.Sprintf(format, a...)}
	}
	if len(args) > MaxScriptArgs {
		return bad("%d arguments, over the limit of %d", len(args), MaxScriptArgs)
	}
	total := 0
	for i, a := range args {
		total += len(a)
		switch {
		case strings.IndexByte(a, 0) >= 0:
			return bad("argument %d holds a NUL byte", i+1)
		case !validUTF8(a):
			return bad("argument %d is not valid UTF-8", i+1)
		}
	}
	if total > MaxScriptArgBytes {
		return bad("of %d bytes in all, over the limit of %d", total, MaxScriptArgBytes)
	}
	return nil
}

// validUTF8 reports whether s is valid UTF-8.
func validUTF8(s string) bool { return strings.ToValidUTF8(s, "") == s }
