package runtime

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// CommandArgs builds the argv of an AppDef command for a job: the command's
// path, then its parameters in the order of their keys (the AppDef's map
// does not keep the order of its JSON source). A positional parameter adds
// its value; any other adds its key, then its value; a BOOL that is not
// positional adds its key alone when true and nothing when false. A CONST
// always takes its AppDef value, in which %CORES% (cores per node), %TCORES%
// (cores of the job), %NODES%, %GPUS% (per node) and %MACHINETYPE% are
// substituted; other parameters take the job's value, else the AppDef
// default. An optional parameter without a value is left out.
func CommandArgs(cmd structs.Command, job *structs.Job, mt *structs.MachineType) ([]string, error) {
	if cmd.Path == "" {
		return nil, structs.Errorf(structs.ErrInvalid, "job %q: command %q has no path", job.ID, job.Command)
	}
	for k := range job.Parameters {
		if _, ok := cmd.Parameters[k]; !ok {
			return nil, structs.Errorf(structs.ErrInvalid, "job %q: unknown parameter %q", job.ID, k)
		}
	}
	subst := strings.NewReplacer(
		"%CORES%", strconv.Itoa(mt.Cores),
		"%TCORES%", strconv.Itoa(mt.Cores*job.Nodes),
		"%NODES%", strconv.Itoa(job.Nodes),
		"%GPUS%", strconv.Itoa(mt.GPUs),
		"%MACHINETYPE%", mt.Name,
	)
	args := []string{cmd.Path}
	keys := parameterOrder(cmd)
	for _, k := range keys {
		p := cmd.Parameters[k]
		var v string
		var set bool
		if p.Type == structs.ParamConst {
			d, err := defaultValue(p.Value)
			if err != nil {
				return nil, structs.Errorf(structs.ErrInvalid, "job %q: parameter %q: %v", job.ID, k, err)
			}
			v, set = subst.Replace(d), true
		} else if v, set = job.Parameters[k]; !set {
			d, err := defaultValue(p.Value)
			if err != nil {
				return nil, structs.Errorf(structs.ErrInvalid, "job %q: parameter %q: %v", job.ID, k, err)
			}
			v, set = d, d != ""
		}
		if !set {
			if p.Required {
				return nil, structs.Errorf(structs.ErrInvalid, "job %q: required parameter %q has no value", job.ID, k)
			}
			continue
		}
		switch {
		case p.Positional:
			args = append(args, v)
		case p.Type == structs.ParamBool:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, structs.Errorf(structs.ErrInvalid, "job %q: parameter %q: %q is not a boolean", job.ID, k, v)
			}
			if b {
				args = append(args, k)
			}
		default:
			args = append(args, k, v)
		}
	}
	return args, nil
}

// defaultValue turns an AppDef parameter value (a JSON string, number or
// boolean) into its text; an absent or null value is "".
func defaultValue(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case float64:
		return strings.TrimSpace(string(raw)), nil // the literal: 8, not 8e+00
	}
	return "", structs.Errorf(structs.ErrInvalid, "value %s is not a string, number or boolean", raw)
}

// parameterOrder lists the command's parameters in the AppDef's order, then
// any it does not list, sorted.
func parameterOrder(cmd structs.Command) []string {
	keys := make([]string, 0, len(cmd.Parameters))
	seen := make(map[string]bool, len(cmd.Parameters))
	for _, k := range cmd.ParameterOrder {
		if _, ok := cmd.Parameters[k]; ok && !seen[k] {
			keys = append(keys, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range cmd.Parameters {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(keys, rest...)
}
