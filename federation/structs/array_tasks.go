package structs

// Default and largest page of GET /v1/jobs/{id}/tasks.
const (
	DefaultTaskListLimit = 1000
	MaxTaskListLimit     = 100_000
)

// ArrayTasks lists an array job's tasks in state (empty: every state),
// lowest index first, at most limit of them, from the progress its head
// last reported: succeeded tasks from Done, running ones from
// RunningTasks, failed and canceled ones (with exit code, attempts and
// output tail) from Failures; the rest are pending. Failures holds at most
// MaxTaskFailures tasks: when more failed, the list says Truncated and the
// ones not listed cannot be told from pending ones.
func ArrayTasks(a *ArrayJob, state TaskState, limit int) (*TaskList, error) {
	if state != "" && !state.Valid() {
		return nil, &FieldError{Object: "task list", Field: "state", Msg: "want pending, running, succeeded, failed or canceled"}
	}
	if limit <= 0 {
		limit = DefaultTaskListLimit
	}
	out := &TaskList{Tasks: []TaskResult{}}
	p := a.Progress
	if p == nil {
		p = &ArrayProgress{Total: a.Spec.Count(), Pending: a.Spec.Count()}
	}
	done := map[int]bool{}
	if err := ParseRanges(p.Done, func(i int) bool { done[i] = true; return true }); err != nil {
		return nil, err
	}
	running := map[int]bool{}
	for _, i := range p.RunningTasks {
		running[i] = true
	}
	failed := map[int]TaskResult{}
	for _, f := range p.Failures {
		failed[f.Index] = f
	}
	unlisted := p.Failed+p.Canceled > len(p.Failures)
	for _, i := range a.Spec.All() {
		t := TaskResult{Index: i, State: TaskPending}
		switch f, ok := failed[i]; {
		case done[i]:
			t.State = TaskSucceeded
		case running[i]:
			t.State = TaskRunning
		case ok:
			t = f
		}
		if state != "" && t.State != state {
			continue
		}
		if len(out.Tasks) == limit {
			out.Truncated = true
			break
		}
		out.Tasks = append(out.Tasks, t)
	}
	if unlisted && (state == "" || state == TaskFailed || state == TaskCanceled || state == TaskPending) {
		out.Truncated = true
	}
	return out, nil
}
