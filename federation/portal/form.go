package portal

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// field is one control of the form generated from an AppDef parameter.
type field struct {
	Key, Label, Help string
	Kind             structs.ParamType
	Input            string // the HTML input type; "select", "checkbox", "hidden"
	Required         bool
	Value            string
	Min, Max, Step   string
	Options          []string
	Checked          bool
	Accept           string // FILE pattern
	Error            string
	// UploadName and UploadSize describe an UPLOAD's file the page
	// carries from an earlier try (its base64 is Value; readUpload).
	UploadName string
	UploadSize int
}

// machineChoice is a machine type the command may run on and the caller
// may use.
type machineChoice struct {
	Name, Description, Cluster string
	Cores, GPUs, RAM           int
	Price                      float64
	ScaleMin, ScaleMax         int
	Selected                   bool
}

// defaultOf returns a parameter's default as the form shows it.
func defaultOf(p structs.Parameter) string {
	if len(p.Value) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(p.Value, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(p.Value))
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// paramOrder is the command's parameter order: parameter_order first,
// then the rest by key.
func paramOrder(c structs.Command) []string {
	out := slices.Clone(c.ParameterOrder)
	for _, k := range sortedKeys(c.Parameters) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return slices.DeleteFunc(out, func(k string) bool { _, ok := c.Parameters[k]; return !ok })
}

// buildFields turns a command's parameters into form fields, filled with
// values (the defaults where values has none).
func buildFields(c structs.Command, values map[string]string) []field {
	var out []field
	for _, k := range paramOrder(c) {
		pm := c.Parameters[k]
		f := field{Key: k, Label: pm.Name, Help: pm.Description, Kind: pm.Type, Required: pm.Required, Value: defaultOf(pm)}
		if f.Label == "" {
			f.Label = k
		}
		if v, ok := values[k]; ok {
			f.Value = v
		}
		switch pm.Type {
		case structs.ParamConst:
			f.Input = "hidden"
			f.Required = false // the AppDef's value, not the user's (some are "")
		case structs.ParamBool:
			f.Input = "checkbox"
			f.Checked = f.Value == "true"
			f.Required = false // a checkbox always has a value
		case structs.ParamInt, structs.ParamFloat, structs.ParamRange:
			f.Input = "number"
			if pm.Type == structs.ParamRange {
				f.Input = "range"
			}
			if pm.Min != 0 || pm.Max != 0 {
				f.Min, f.Max = num(pm.Min), num(pm.Max)
			}
			switch {
			case pm.Step > 0:
				f.Step = num(pm.Step)
			case pm.Type == structs.ParamInt:
				f.Step = "1"
			default:
				f.Step = "any"
			}
		case structs.ParamSelection:
			// A selection always has a value: the job gets the first
			// one when none is given, so the form shows that one.
			f.Input = "select"
			f.Options = slices.Clone(pm.Values)
			if _, given := values[k]; !given && !slices.Contains(f.Options, f.Value) && len(f.Options) > 0 {
				f.Value = f.Options[0]
			}
		case structs.ParamFile:
			f.Input = "text"
			f.Accept = pm.Filter
		case structs.ParamUpload:
			f.Input = "file"
		default:
			f.Input = "text"
		}
		out = append(out, f)
	}
	return out
}

// validateFields checks values against the fields' constraints, the same
// ones the browser checks, and sets each field's message. It reports
// whether all are valid. (The hub validates the submission again.)
func validateFields(fields []field) bool {
	ok := true
	for i := range fields {
		f := &fields[i]
		f.Error = fieldError(f)
		ok = ok && f.Error == ""
	}
	return ok
}

func fieldError(f *field) string {
	if f.Kind == structs.ParamSelection {
		// a listed value, also a blank one (" " is a value some AppDefs offer)
		if len(f.Options) > 0 && !slices.Contains(f.Options, f.Value) {
			return f.Label + ": choose one of the listed values."
		}
		return ""
	}
	v := strings.TrimSpace(f.Value)
	if v == "" {
		if f.Required {
			return f.Label + " is required."
		}
		return ""
	}
	switch f.Kind {
	case structs.ParamInt, structs.ParamFloat, structs.ParamRange:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || (f.Kind == structs.ParamInt && x != float64(int64(x))) {
			if f.Kind == structs.ParamInt {
				return f.Label + " must be a whole number."
			}
			return f.Label + " must be a number."
		}
		if f.Min != "" || f.Max != "" {
			lo, _ := strconv.ParseFloat(f.Min, 64)
			hi, _ := strconv.ParseFloat(f.Max, 64)
			if x < lo || x > hi {
				return fmt.Sprintf("%s must be between %s and %s.", f.Label, f.Min, f.Max)
			}
		}
	case structs.ParamBool:
		if v != "true" && v != "false" {
			return f.Label + " must be on or off."
		}
	case structs.ParamFile:
		if !filterMatch(f.Accept, path.Base(v)) {
			return fmt.Sprintf("%s must match %s.", f.Label, f.Accept)
		}
	}
	return ""
}

// filterMatch reports whether a file name passes a FILE parameter's
// filter as JARVICE's file picker reads it: alternatives joined by "|"
// ("*.png|*.jpg"), each a shell wildcard or, without one, a suffix
// (".json"). No filter passes every name.
func filterMatch(filter, name string) bool {
	if strings.TrimSpace(filter) == "" {
		return true
	}
	for _, alt := range strings.Split(filter, "|") {
		alt = strings.TrimSpace(alt)
		if alt == "" {
			continue
		}
		if !strings.ContainsAny(alt, "*?[") {
			if strings.HasSuffix(name, alt) {
				return true
			}
			continue
		}
		if ok, _ := path.Match(alt, name); ok {
			return true
		}
	}
	return false
}

func matchesAny(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
