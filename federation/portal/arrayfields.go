package portal

import (
	"errors"
	"net/http"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// readArrayTaskFields reads an array's task walltime and CPU binding
// (flotilla submit's --task-walltime and --task-cpu-bind) into v and
// checks them as the API does, the binding with the API's own check and
// words (structs.JobSubmitRequest.CheckTaskCPUBind) on the array and
// the variables the form holds; false when one is refused. It runs
// after the array field and the environment are read.
func readArrayTaskFields(r *http.Request, v *submitView) bool {
	v.TaskWalltime, v.CPUBind = strings.TrimSpace(r.PostFormValue("task_walltime")), r.PostFormValue("cpu_bind")
	ok := true
	switch wt, err := structs.ParseWalltime(v.TaskWalltime); {
	case err != nil:
		v.TaskWalltimeError, ok = "Task walltime: "+err.Error()+".", false
	case wt != 0 && v.Array == "":
		v.TaskWalltimeError, ok = "Task walltime needs an array.", false
	}
	probe := structs.JobSubmitRequest{TaskCPUBind: v.CPUBind, Env: v.env}
	if v.Array != "" {
		probe.Array = &structs.ArraySpec{} // the check asks only whether there is one
	}
	var fe *structs.FieldError
	if err := probe.CheckTaskCPUBind(); errors.As(err, &fe) {
		if fe.Field == "env" {
			v.EnvError = "Environment: " + fe.Msg + "."
		} else {
			v.CPUBindError = "CPU binding: " + fe.Msg + "."
		}
		ok = false
	}
	return ok
}
