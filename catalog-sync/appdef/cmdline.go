package appdef

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Vars are the values of the substitutions a CONST parameter's value (and
// a command's URL template) may hold. Machine figures are per node; a job's
// nodes are all of one machine type, so the S... (other nodes) figures
// equal the head's.
type Vars struct {
	Cores       int    // %CORES%
	GPUs        int    // %GPUS%, %SGPUS%
	RAMGB       int    // %RAM%, %SRAM%
	Nodes       int    // %NODES%
	MachineType string // %MACHINETYPE%
	JobName     string // %JOBNAME%
	JobLabel    string // %JOBLABEL%
	VaultName   string // %VNAME%
	VaultType   string // %VTYPE%
	APIURL      string // %APIURL%
	APIUser     string // %APIUSER%
	APIKey      string // %APIKEY%: a key scoped to the job, never the user's own
	PublicAddr  string // %PUBLICADDR%
	BaseURL     string // %BASEURL%
	Random64    string // %RANDOM64%
}

// Replacer substitutes every %NAME% of v in a string.
func (v Vars) Replacer() *strings.Replacer {
	n := max(v.Nodes, 1)
	i := strconv.Itoa
	return strings.NewReplacer(
		"%CORES%", i(v.Cores), "%TCORES%", i(v.Cores*n), "%NODES%", i(n),
		"%GPUS%", i(v.GPUs), "%SGPUS%", i(v.GPUs), "%TGPUS%", i(v.GPUs*n),
		"%RAM%", i(v.RAMGB), "%SRAM%", i(v.RAMGB), "%TRAM%", i(v.RAMGB*n),
		"%MACHINETYPE%", v.MachineType, "%JOBNAME%", v.JobName, "%JOBLABEL%", v.JobLabel,
		"%VNAME%", v.VaultName, "%VTYPE%", v.VaultType,
		"%APIURL%", v.APIURL, "%APIUSER%", v.APIUser, "%APIKEY%", v.APIKey,
		"%PUBLICADDR%", v.PublicAddr, "%BASEURL%", v.BaseURL, "%RANDOM64%", v.Random64,
	)
}

// Line is what a job of a command runs: its argv, the environment of its
// variable parameters (also written to /etc/JARVICE/jobenv.sh) and its
// uploaded files.
type Line struct {
	Argv    []string
	Env     []EnvVar
	Uploads []Upload
	// Script is the command's cmdscript, to be written to the first word
	// of its path and run from there (nil without one).
	Script *Script
}

// Script is a command's cmdscript as a job runs it: Data written to Path
// (absolute), executable.
type Script struct {
	Path string
	Data []byte
}

// CmdScript is the script a command carries: its cmdscript decoded from
// base64 (as the AppDef editors write it), or the text itself when it is
// not base64 of text; placed at the first word of its path, which must be
// absolute (nil otherwise, and without a cmdscript).
func CmdScript(c *Command) *Script {
	argv := PathArgv(c.Path)
	if c.CmdScript == "" || !strings.HasPrefix(argv[0], "/") {
		return nil
	}
	data := []byte(c.CmdScript)
	if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.CmdScript)); err == nil && len(b) > 0 &&
		strings.ToValidUTF8(string(b), "\uFFFD") == string(b) && !bytes.Contains(b, []byte{0}) {
		data = b
	}
	return &Script{Path: path.Clean(argv[0]), Data: data}
}

// EnvVar is one variable of the job environment.
type EnvVar struct{ Name, Value string }

// Upload is a file an UPLOAD parameter places in the job.
type Upload struct {
	Parameter string
	Path      string // /opt/<target>
	Data      []byte
}

// UploadDir is where UPLOAD parameters' files land.
const UploadDir = "/opt"

// Build returns the command line of a job of c, as JARVICE builds it:
// the command's path, then every non-positional parameter as its key
// followed by its value (a BOOL as its key alone, when true), then the
// positional ones' values (a BOOL's key, when true), each group in the
// order the AppDef lists them. A parameter takes the job's value, else
// its default (a selection's first value); a selection passes its mvalues
// entry when it has them; a CONST takes its value with the substitutions
// of vars. Parameters marked variable go to Env instead, UPLOAD ones to
// Uploads; an optional parameter without a value, an empty selection and
// a parameter whose if/ifnot conditions fail are left out. Values are
// checked against their types (see CheckValues).
func Build(c *Command, values map[string]string, vars Vars) (*Line, error) {
	if err := CheckValues(c, values); err != nil {
		return nil, err
	}
	subst := vars.Replacer()
	l := &Line{Argv: PathArgv(c.Path), Script: CmdScript(c)}
	var positional []string
	for _, p := range c.Parameters {
		if !conditionsHold(c, p, values) {
			continue
		}
		v, set := valueOf(p, values)
		t := p.EffectiveType()
		if set && v == "" && t != TypeConst && t != TypeUpload {
			continue // an empty value (or selection) is not listed
		}
		switch {
		case t == TypeConst:
			v = subst.Replace(v)
		case t == TypeUpload:
			if set {
				u, _ := decodeUpload(v) // checked by CheckValues
				l.Uploads = append(l.Uploads, Upload{Parameter: p.Key, Path: UploadDir + "/" + p.Target, Data: u})
			}
			continue
		case t == TypeSelection && set:
			if i := slices.Index(p.Values, v); i >= 0 && len(p.MValues) == len(p.Values) {
				v = p.MValues[i]
			}
		case t == TypeFloat && set && p.Precision.IsInt():
			v = truncate(v, int(p.Precision.F))
		}
		if !set {
			continue
		}
		if p.Variable {
			l.Env = append(l.Env, EnvVar{Name: p.Key, Value: v})
			continue
		}
		var args []string
		if t == TypeBool {
			if b, _ := strconv.ParseBool(v); b {
				args = []string{p.Key}
			}
		} else if p.IsPositional() {
			args = []string{v}
		} else {
			args = []string{p.Key, v}
		}
		if p.IsPositional() {
			positional = append(positional, args...)
		} else {
			l.Argv = append(l.Argv, args...)
		}
	}
	l.Argv = append(l.Argv, positional...)
	return l, nil
}

// PathArgv is the start of a command's argv: its path split into words.
// Official JARVICE AppDefs write arguments into the path ("/bin/bash -l",
// "/usr/local/bin/nimbix_desktop openscad") and JARVICE runs them so; a
// path without blanks is one word.
func PathArgv(p string) []string {
	if w := strings.Fields(p); len(w) > 0 {
		return w
	}
	return []string{p}
}

// valueOf is the job's value of p, else its default; set is false when
// there is neither.
func valueOf(p *Parameter, values map[string]string) (string, bool) {
	if p.EffectiveType() != TypeConst {
		if v, ok := values[p.Key]; ok {
			return v, true
		}
	}
	d, err := defaultText(p)
	if err != nil || (d == "" && p.Value == nil && p.EffectiveType() != TypeSelection) {
		return "", false
	}
	return d, p.EffectiveType() == TypeConst || d != ""
}

// conditionsHold reports whether every BOOL p.If names is true and every
// one p.IfNot names is false.
func conditionsHold(c *Command, p *Parameter, values map[string]string) bool {
	truth := func(k string) bool {
		q := c.Parameter(k)
		if q == nil {
			return false
		}
		v, _ := valueOf(q, values)
		b, _ := strconv.ParseBool(v)
		return b
	}
	for _, k := range p.If {
		if !truth(k) {
			return false
		}
	}
	for _, k := range p.IfNot {
		if truth(k) {
			return false
		}
	}
	return true
}

// CheckValues checks a submission's parameter values against command c:
// every key names a parameter that takes a value (not a CONST), every
// value fits its parameter's type and range, every required parameter has
// a value or a default. The error is a *structs.ValidationError naming
// each parameter at fault.
func CheckValues(c *Command, values map[string]string) error {
	res := &Result{}
	path := func(k string) string { return child("$.parameters", k) }
	for _, k := range sortedKeys(values) {
		p := c.Parameter(k)
		switch {
		case p == nil:
			res.fail(path(k), "command %q has no parameter %q", c.Key, k)
		case p.EffectiveType() == TypeConst:
			// A submission copied from a form's preview carries the
			// CONST's own value: accepted; another value is refused.
			if d, _ := defaultText(p); values[k] != d {
				res.fail(path(k), "parameter %q is a CONST: its value is %q, not %q", k, d, values[k])
			}
		case p.EffectiveType() == TypeUpload:
			if data, err := decodeUpload(values[k]); err != nil {
				res.fail(path(k), "parameter %q: %v", k, err)
			} else if p.Size.Set && float64(len(data)) > p.Size.F {
				res.fail(path(k), "parameter %q: upload of %d bytes exceeds size %s", k, len(data), p.Size.Text)
			}
		case values[k] != "" || p.EffectiveType() == TypeSelection:
			if err := checkValue(p, values[k]); err != nil && !isOwnOffStepDefault(p, values[k], err) {
				res.fail(path(k), "parameter %q: %v", k, err)
			}
		}
	}
	for _, p := range c.Parameters {
		if !p.Required || p.EffectiveType() == TypeConst || p.EffectiveType() == TypeBool || !conditionsHold(c, p, values) {
			continue
		}
		if v, set := valueOf(p, values); !set || v == "" {
			res.fail(path(p.Key), "parameter %q is required", p.Key)
		}
	}
	if len(res.Errors) > 0 {
		return &structs.ValidationError{What: "parameters", Errors: res.Errors}
	}
	return nil
}

// isOwnOffStepDefault: err is only that v is between a slider's steps
// and v is the parameter's own default — which the AppDef registered
// with a warning and JARVICE runs, so a form that sends the default it
// shows is not refused for it.
func isOwnOffStepDefault(p *Parameter, v string, err error) bool {
	if _, off := err.(*offStepError); !off {
		return false
	}
	d, derr := defaultText(p)
	return derr == nil && p.Value != nil && strings.TrimSpace(v) == d
}

// decodeUpload reads an UPLOAD value: base64 data, or a JobUpload object
// {"data": base64, ...} as JARVICE clients send it.
func decodeUpload(v string) ([]byte, error) {
	s := strings.TrimSpace(v)
	if strings.HasPrefix(s, "{") {
		var u struct {
			Data string `json:"data"`
		}
		if err := json.Unmarshal([]byte(s), &u); err != nil {
			return nil, errorf("want base64 data or an object with base64 \"data\"")
		}
		s = u.Data
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errorf("upload data is not base64")
	}
	return b, nil
}

// truncate cuts a decimal number to at most digits decimal digits.
func truncate(v string, digits int) string {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return v
	}
	scale := math.Pow10(digits)
	return strconv.FormatFloat(math.Trunc(f*scale)/scale, 'f', -1, 64)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// JobEnvFile is /etc/JARVICE/jobenv.sh for env: one NAME=value line per
// variable, every character of the value escaped with a backslash (a
// newline as a quoted newline), so that sourcing it yields the values
// exactly.
func JobEnvFile(env []EnvVar) []byte {
	var b strings.Builder
	for _, e := range env {
		b.WriteString(e.Name)
		b.WriteByte('=')
		for _, r := range e.Value {
			if r == '\n' {
				b.WriteString("\"\n\"")
				continue
			}
			b.WriteByte('\\')
			b.WriteRune(r)
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}
