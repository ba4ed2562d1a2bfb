package portal

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/client"
)

// hubFieldErrors puts the hub's refusal of a submission beside the
// fields it names (client.APIError.Errors: "$.dependency",
// "$.parameters.n", ...), as the form's own checks do, and reports
// whether it placed every one; what it cannot place stays for the
// message above the form.
func hubFieldErrors(v *submitView, err error) bool {
	var ae *client.APIError
	if !errors.As(err, &ae) || len(ae.Errors) == 0 {
		return false
	}
	all := true
	for _, pe := range ae.Errors {
		msg := strings.TrimSuffix(pe.Rule, ".") + "."
		switch {
		case pe.Path == "$.dependency":
			v.DependencyError = "Dependency: " + msg
		case pe.Path == "$.workdir":
			v.WorkdirError = "Working directory: " + msg
		case pe.Path == "$.task_walltime":
			v.TaskWalltimeError = "Task walltime: " + msg
		case pe.Path == "$.task_cpu_bind":
			v.CPUBindError = "CPU binding: " + msg
		case pe.Path == "$.signal":
			v.SignalError = "Signal: " + msg
		case strings.HasPrefix(pe.Path, "$.parameters"):
			key, ok := paramKeyOf(strings.TrimPrefix(pe.Path, "$.parameters"))
			i := -1
			for j := range v.Fields {
				if ok && v.Fields[j].Key == key && v.Fields[j].Input != "hidden" {
					i = j
				}
			}
			if i < 0 {
				all = false
				continue
			}
			v.Fields[i].Error = v.Fields[i].Label + ": " + msg
		default:
			all = false
		}
	}
	return all
}

// paramKeyOf reads the key of a JSON path's last step: ".name" or
// ["key"] (a key that is not an identifier).
func paramKeyOf(step string) (string, bool) {
	if k, ok := strings.CutPrefix(step, "."); ok && k != "" && !strings.ContainsAny(k, ".[") {
		return k, true
	}
	if strings.HasPrefix(step, "[") && strings.HasSuffix(step, "]") {
		var k string
		if json.Unmarshal([]byte(step[1:len(step)-1]), &k) == nil {
			return k, true
		}
	}
	return "", false
}
