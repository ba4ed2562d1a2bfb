package jobs

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// checkParameters checks a job's parameter values against its command's
// parameters: each must be one of them and parse as its type (an INT an
// integer, a FLOAT or RANGE a number within the bounds the app gives, a
// BOOL a boolean, a selection one of its values); a required parameter
// without a default needs one. A CONST takes the app's value whatever the
// job says, as the agent builds the command line. Such a job would only
// fail on its cluster: it is refused here, before anything is stored.
func checkParameters(j *structs.Job, cmd structs.Command) error {
	bad := func(k, format string, args ...any) error {
		return &structs.FieldError{Object: "job", Field: "parameters." + k, Msg: fmt.Sprintf(format, args...)}
	}
	for k, v := range j.Parameters {
		p, ok := cmd.Parameters[k]
		if !ok {
			return bad(k, "is not a parameter of command %q", j.Command)
		}
		switch p.Type {
		case structs.ParamInt:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad(k, "%q is not an integer", v)
			}
			if err := inBounds(p, float64(n)); err != "" {
				return bad(k, "%d %s", n, err)
			}
		case structs.ParamFloat, structs.ParamRange:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return bad(k, "%q is not a number", v)
			}
			if err := inBounds(p, f); err != "" {
				return bad(k, "%s %s", v, err)
			}
			if p.Type == structs.ParamRange && p.Step > 0 && !onStep(f, p.Min, p.Step) {
				return bad(k, "%s is not min %g plus a multiple of step %g", v, p.Min, p.Step)
			}
		case structs.ParamBool:
			if _, err := strconv.ParseBool(v); err != nil {
				return bad(k, "%q is not a boolean", v)
			}
		case structs.ParamSelection:
			if !slices.Contains(p.Values, v) {
				return bad(k, "%q is not one of %q", v, p.Values)
			}
		}
	}
	for k, p := range cmd.Parameters {
		if _, set := j.Parameters[k]; !set && p.Required && p.Type != structs.ParamConst && !hasDefault(p) {
			return bad(k, "is required by command %q", j.Command)
		}
	}
	return nil
}

// inBounds checks f against the bounds of p, when p has any (Max > Min);
// it returns what is wrong, or "".
func inBounds(p structs.Parameter, f float64) string {
	if p.Max > p.Min && (f < p.Min || f > p.Max) {
		return "out of " + strconv.FormatFloat(p.Min, 'g', -1, 64) + ".." + strconv.FormatFloat(p.Max, 'g', -1, 64)
	}
	return ""
}

// onStep reports whether f is min plus a whole number of steps.
func onStep(f, lo, step float64) bool {
	n := (f - lo) / step
	return math.Abs(n-math.Round(n)) < 1e-9
}

// hasDefault reports whether the app gives p a value.
func hasDefault(p structs.Parameter) bool {
	v := bytes.TrimSpace(p.Value)
	return len(v) > 0 && !bytes.Equal(v, []byte("null")) && !bytes.Equal(v, []byte(`""`))
}
