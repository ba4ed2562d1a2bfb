package structs

// An array job's CPU binding (--task-cpu-bind, "task_cpu_bind"): with
// "slots" every slot of a node runs its tasks on CPUs of its own (see
// docs/array-jobs.md); "none" runs them on every CPU of the pod; unset is
// flotilla-init's default.
//
// The hub carries it as a variable of the job's own environment, Job.Env
// ArrayTaskCPUBindVar, not as a field of ArrayJob: a job's array travels
// in the JobSubmit command as a JSON document that replicas from before
// this option would decode without it (they would store a different job
// than upgraded replicas), and its index spec's decoder refuses unknown
// fields (they would refuse the job). Job.Env is stored as it is by every
// replica; the store refuses FLOTILLA_* names there, so the variable has
// a plain name, and a user setting it with --env on an array job asks the
// same. flotilla-init reads it from its environment.
const (
	TaskCPUBindNone  = "none"
	TaskCPUBindSlots = "slots"
	// ArrayTaskCPUBindVar is the job variable that carries the binding.
	ArrayTaskCPUBindVar = "ARRAY_TASK_CPU_BIND"
)

// CheckTaskCPUBind checks a submission's binding: a value flotilla-init
// knows, on an array job, and the same as the job variable when both
// are set. Validate runs it; the portal's form shows its message.
func (r *JobSubmitRequest) CheckTaskCPUBind() error {
	if r.TaskCPUBind == "" {
		if v, ok := r.Env[ArrayTaskCPUBindVar]; ok && r.Array != nil && !validTaskCPUBind(v) {
			return &FieldError{Object: "job", Field: "env", Msg: ArrayTaskCPUBindVar + ": want none or slots"}
		}
		return nil
	}
	switch v, ok := r.Env[ArrayTaskCPUBindVar]; {
	case r.Array == nil:
		return &FieldError{Object: "job", Field: "task_cpu_bind", Msg: "needs an array"}
	case !validTaskCPUBind(r.TaskCPUBind):
		return &FieldError{Object: "job", Field: "task_cpu_bind", Msg: "want none or slots"}
	case ok && v != r.TaskCPUBind:
		return &FieldError{Object: "job", Field: "task_cpu_bind", Msg: "differs from the variable " + ArrayTaskCPUBindVar + " in env"}
	}
	return nil
}

func validTaskCPUBind(v string) bool { return v == TaskCPUBindNone || v == TaskCPUBindSlots }

// TaskCPUBind is an array job's binding as asked for ("" when none was:
// flotilla-init's default).
func (j *Job) TaskCPUBind() string {
	if j.Array == nil {
		return ""
	}
	return j.Env[ArrayTaskCPUBindVar]
}
