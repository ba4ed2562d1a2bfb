package appdef

import (
	"encoding/json"
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// VaultTypes lists the vault types an AppDef may accept.
var VaultTypes = []string{"FILE", "BLOCK", "BLOCK_ARRAY", "OBJECT", "NONE"}

// validateDef records every semantic rule d breaks.
func validateDef(res *Result, d *Def) {
	if d.Name == "" {
		res.fail("$.name", "required")
	}
	checkMachines(res, "$.machines", d.Machines)
	for i, vt := range d.VaultTypes {
		if !slices.Contains(VaultTypes, vt) {
			res.fail(index(child("$", "vault-types"), i), "unknown vault type %q: want one of %s", vt, strings.Join(VaultTypes, ", "))
		}
	}
	checkScale(res, "$.scale_max", d.ScaleMax)
	checkWalltime(res, "$.walltime", d.Walltime)
	if d.AppDefVersion.Set && (!d.AppDefVersion.IsInt() || d.AppDefVersion.F < 1) {
		res.fail("$.appdefversion", "want a whole number of at least 1")
	}
	if id := d.Identity; id != nil {
		if id.Username == "" || strings.ContainsAny(id.Username, " \t") {
			res.fail("$.identity.username", "required, without spaces")
		}
		for _, f := range []struct {
			k string
			n Num
		}{{"uid", id.UID}, {"gid", id.GID}} {
			if k, n := f.k, f.n; n.Set && (!n.IsInt() || n.F < 1 || n.F > 1<<31-1) {
				res.fail("$.identity."+k, "want a whole number from 1 (root is not supported)")
			}
		}
	}
	if im := d.Image; im != nil && im.Data != "" {
		// JARVICE shows whatever icon an AppDef carries; Flotilla serves
		// only raster images it can decode, so any other icon is accepted
		// with a warning and not shown (real AppDefs carry SVG, x-icon,
		// unpadded base64 and icons of several hundred KiB).
		_, _, ok := iconData(im.Type, im.Data)
		switch {
		case !ok && !slices.Contains(IconTypes, iconType(im.Type)):
			res.warn("$.image.type", "icon type %q is not shown (shown: %s)", im.Type, strings.Join(IconTypes, ", "))
		case !ok:
			res.warn("$.image.data", "icon is not base64 image data of at most %d bytes: not shown", MaxIconBytes)
		}
	}
	if len(d.Commands) == 0 {
		res.fail("$.commands", "at least one command is required")
	}
	for _, c := range d.Commands {
		validateCommand(res, child("$.commands", c.Key), c)
	}
}

func checkMachines(res *Result, p string, patterns []string) {
	for i, m := range patterns {
		if m == "" {
			res.warn(index(p, i), "empty machine pattern: matches no machine type")
			continue
		}
		if _, err := path.Match(m, ""); err != nil {
			res.fail(index(p, i), "invalid machine pattern %q: want a shell wildcard such as \"n*\"", m)
		}
	}
}

func checkScale(res *Result, p string, n Num) {
	if n.Set && (!n.IsInt() || n.F < 1) {
		res.fail(p, "want a whole number of at least 1")
	}
}

func checkWalltime(res *Result, p, w string) {
	if w == "" {
		return
	}
	if _, err := structs.ParseDuration(w); err != nil || !strings.Contains(w, ":") {
		res.fail(p, "walltime %q: want HH:MM:SS", w)
	}
}

func validateCommand(res *Result, p string, c *Command) {
	switch {
	case c.Path == "":
		res.fail(child(p, "path"), "required")
	case !strings.HasPrefix(c.Path, "/"):
		// The reference asks for a full path; JARVICE runs a bare name
		// from the image's PATH, and so does Flotilla.
		res.warn(child(p, "path"), "path %q is not absolute: it is looked up in the image's PATH", c.Path)
	}
	if c.CmdScript != "" && c.Path != "" {
		if s := CmdScript(c); s == nil {
			res.warn(child(p, "cmdscript"), "not written: it is written to the command's path, which is not absolute")
		} else if dir := reservedDir(s.Path); dir != "" {
			res.fail(child(p, "path"), "%s: a command with a cmdscript is written to its path, and %s is the job runtime's (want another path, such as /usr/local/bin/...)", s.Path, dir)
		} else {
			for _, prm := range c.Parameters {
				if prm.Type == TypeUpload && prm.Target != "" && path.Join(UploadDir, prm.Target) == s.Path {
					res.fail(child(p, "path"), "%s: the cmdscript and the UPLOAD parameter %q would both be written there", s.Path, prm.Key)
				}
			}
		}
	}
	checkMachines(res, child(p, "machines"), c.Machines)
	checkScale(res, child(p, "scale_max"), c.ScaleMax)
	checkWalltime(res, child(p, "walltime"), c.Walltime)
	proto := ""
	for i, port := range c.Ports {
		num, pr, _ := strings.Cut(port, "/")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > 65535 || (pr != "" && pr != "tcp" && pr != "udp" && pr != "sctp") {
			res.fail(index(child(p, "ports"), i), "port %q: want <number>/<tcp|udp|sctp>", port)
			continue
		}
		if pr == "" {
			pr = "tcp"
		}
		if proto != "" && pr != proto {
			res.fail(index(child(p, "ports"), i), "protocols may not be mixed")
		}
		proto = pr
	}
	uploads := 0
	for _, prm := range c.Parameters {
		pp := child(child(p, "parameters"), prm.Key)
		validateParameter(res, pp, c, prm)
		if prm.EffectiveType() == TypeUpload {
			if uploads++; uploads == 2 {
				res.fail(pp, "only one UPLOAD parameter per command")
			}
		}
	}
}

func validateParameter(res *Result, p string, c *Command, prm *Parameter) {
	t := prm.EffectiveType()
	if !slices.Contains(Types, t) {
		res.fail(child(p, "type"), "unknown parameter type %q: want one of %s", prm.Type, strings.Join(Types, ", "))
		return
	}
	if prm.Min.Set && prm.Max.Set && prm.Min.F > prm.Max.F {
		res.fail(p, "min %s is greater than max %s", prm.Min.Text, prm.Max.Text)
	}
	switch t {
	case TypeInt, TypeRange:
		for _, f := range []struct {
			k string
			n Num
		}{{"min", prm.Min}, {"max", prm.Max}} {
			if k, n := f.k, f.n; n.Set && !n.IsInt() {
				res.fail(child(p, k), "want a whole number for %s", t)
			}
		}
		if t == TypeRange && prm.Step.Set && (!prm.Step.IsInt() || prm.Step.F < 1) {
			res.fail(child(p, "step"), "want a whole number of at least 1")
		}
	case TypeFloat:
		if prm.Precision.Set && (!prm.Precision.IsInt() || prm.Precision.F < 0 || prm.Precision.F > 17) {
			res.fail(child(p, "precision"), "want a whole number from 0 to 17")
		}
	case TypeSelection:
		if len(prm.Values) == 0 {
			res.fail(child(p, "values"), "a selection needs at least one value")
		}
		if len(prm.MValues) > 0 && len(prm.MValues) != len(prm.Values) {
			res.fail(child(p, "mvalues"), "has %d entries, values has %d: want the same number", len(prm.MValues), len(prm.Values))
		}
	case TypeUpload:
		switch {
		case prm.Target == "":
			res.fail(child(p, "target"), "required for UPLOAD")
		case strings.HasPrefix(prm.Target, "/") || slices.Contains(strings.Split(prm.Target, "/"), ".."):
			res.fail(child(p, "target"), "target %q: want a path below /opt, relative and without ..", prm.Target)
		}
		if prm.Size.Set && (!prm.Size.IsInt() || prm.Size.F < 1) {
			res.fail(child(p, "size"), "want a whole number of bytes, at least 1")
		}
	case TypeConst:
		if prm.Value == nil {
			res.fail(child(p, "value"), "required for CONST")
		}
	}
	if prm.Value != nil && t != TypeUpload {
		text, err := defaultText(prm)
		if err == nil && text != "" && t != TypeConst {
			err = checkValue(prm, text)
			if _, off := err.(*offStepError); off {
				// a slider's default off its steps: the slider snaps it
				res.warn(child(p, "value"), "%v", err)
				err = nil
			}
		}
		if err != nil {
			res.fail(child(p, "value"), "%v", err)
		}
	}
	for _, f := range []struct {
		k    string
		refs []string
	}{{"if", prm.If}, {"ifnot", prm.IfNot}} {
		for i, r := range f.refs {
			k := f.k
			if q := c.Parameter(r); q == nil || q.EffectiveType() != TypeBool {
				res.fail(index(child(p, k), i), "%q is not a BOOL parameter of this command", r)
			}
		}
	}
}

// defaultText is the text of a parameter's value as written: a string,
// number or boolean. A selection's default is its first value.
func defaultText(p *Parameter) (string, error) {
	if p.Value == nil {
		if p.EffectiveType() == TypeSelection && len(p.Values) > 0 {
			return p.Values[0], nil
		}
		return "", nil
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(p.Value)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case json.Number:
		return t.String(), nil
	}
	return "", errorf("want a string, number or boolean value")
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// offStepError is a RANGE value between its slider's steps.
type offStepError struct{ msg string }

func (e *offStepError) Error() string { return e.msg }

// checkValue checks a parameter value given as text against its type.
func checkValue(p *Parameter, v string) error {
	switch p.EffectiveType() {
	case TypeInt, TypeRange:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return errorf("%q is not a whole number", v)
		}
		if err := inRange(p, float64(n), v); err != nil {
			return err
		}
		if p.EffectiveType() == TypeRange && p.Step.Set && p.Step.F > 0 {
			// a slider's values: min (or 0) plus whole steps
			base := 0.0
			if p.Min.Set {
				base = p.Min.F
			}
			if k := (float64(n) - base) / p.Step.F; math.Abs(k-math.Round(k)) > 1e-9 {
				return &offStepError{fmt.Sprintf("%s is not on the steps of %s from %s", v, p.Step.Text, strconv.FormatFloat(base, 'g', -1, 64))}
			}
		}
		return nil
	case TypeFloat:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return errorf("%q is not a number", v)
		}
		return inRange(p, f, v)
	case TypeBool:
		if _, err := strconv.ParseBool(v); err != nil {
			return errorf("%q is not true or false", v)
		}
	case TypeSelection:
		if !slices.Contains(p.Values, v) {
			return errorf("%q is not one of the values %q", v, p.Values)
		}
	}
	return nil
}

func inRange(p *Parameter, f float64, v string) error {
	if p.Min.Set && f < p.Min.F {
		return errorf("%s is below the minimum %s", v, p.Min.Text)
	}
	if p.Max.Set && f > p.Max.F {
		return errorf("%s is above the maximum %s", v, p.Max.Text)
	}
	return nil
}

// runtimeDirs are the directories the job runtime fills on every pod
// (the machinefile and job environment, Flotilla's own files and keys,
// the init container's tools, the vault, the guard's files): a cmdscript
// written there would clash with or hide them.
var runtimeDirs = []string{"/etc/JARVICE", "/etc/flotilla", "/opt/flotilla", "/data", "/var/run/flotilla-guard"}

// reservedDir is the runtime directory p is, or lies in; "" if none.
func reservedDir(p string) string {
	for _, d := range runtimeDirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return d
		}
	}
	return ""
}
