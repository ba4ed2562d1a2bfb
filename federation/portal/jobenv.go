package portal

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The submit form's dependency, environment and working directory: the
// same fields as flotilla submit's --dependency, --env and --chdir, and
// the same checks as the API (structs.JobSubmitRequest.Validate).

// maxDependencyChoices bounds the jobs the dependency field offers.
const maxDependencyChoices = 200

// hiddenValue stands for an environment value wherever the form would
// show it (the preview): values may be secrets and never go back to a
// page.
const hiddenValue = "(hidden)"

// envRow is one NAME=value row of the form. Its value is never rendered:
// HadValue says a value was entered, so a form sent back with errors can
// ask for it again.
type envRow struct {
	Name     string
	HadValue bool
	Error    string
}

// depChoice is one of the caller's active jobs the dependency field
// offers.
type depChoice struct {
	Number uint64
	Name   string
	State  structs.JobState
}

// dependencyChoices lists the caller's own active jobs, newest first, for
// the dependency field (a job of anyone else may still be typed).
func (p *Portal) dependencyChoices(ctx context.Context, s *session) []depChoice {
	jobs, err := p.listJobs(ctx, s, client.JobQuery{Owner: s.id.Username, Active: true, Limit: 10000})
	if err != nil {
		return nil
	}
	var out []depChoice
	for _, j := range jobs {
		if len(out) == maxDependencyChoices {
			break
		}
		out = append(out, depChoice{Number: j.Number, Name: j.Name, State: j.State})
	}
	return out
}

// readJobEnv reads the dependency, environment, working directory and
// signal before the walltime ends of a posted form into v and checks them
// as the API does (with v's walltime). It reports whether they are valid.
func readJobEnv(r *http.Request, v *submitView) bool {
	v.Dependency = strings.TrimSpace(r.PostFormValue("dependency"))
	v.Workdir = strings.TrimSpace(r.PostFormValue("workdir"))
	v.Signal = strings.TrimSpace(r.PostFormValue("signal"))
	names, values := r.PostForm["env_name"], r.PostForm["env_value"]
	v.env = map[string]string{}
	ok := true
	for i, name := range names {
		name = strings.TrimSpace(name)
		val := ""
		if i < len(values) {
			val = values[i]
		}
		if name == "" && val == "" {
			continue
		}
		row := envRow{Name: name, HadValue: val != ""}
		switch _, dup := v.env[name]; {
		case name == "":
			row.Error = "A value needs a name."
		case dup:
			row.Error = name + " is set twice."
		default:
			if err := structs.CheckEnvName(name); err != nil {
				row.Error = fieldMessage(err)
			}
		}
		if row.Error == "" {
			v.env[name] = val
		} else {
			ok = false
		}
		v.Env = append(v.Env, row)
	}
	if !ok {
		return false
	}
	// The API's one check of the request's own fields, for what the rows
	// do not show alone (sizes, newlines, the working directory, the
	// dependency's syntax).
	req := structs.JobSubmitRequest{App: "-", MachineType: "-", Nodes: 1, Env: v.env, Workdir: v.Workdir, Dependency: v.Dependency, Signal: v.Signal}
	if wt, err := structs.ParseWalltime(v.Walltime); err == nil {
		req.Walltime = wt
	}
	if err := req.Validate(); err != nil {
		var fe *structs.FieldError
		if !errors.As(err, &fe) {
			v.EnvError = err.Error()
			return false
		}
		switch fe.Field {
		case "dependency":
			v.DependencyError = "Dependency: " + fe.Msg + "."
		case "workdir":
			v.WorkdirError = "Working directory: " + fe.Msg + "."
		case "signal":
			v.SignalError = "Signal: " + fe.Msg + "."
		default:
			v.EnvError = "Environment: " + fe.Msg + "."
		}
		return false
	}
	return true
}

// fieldMessage is a field error's own message, without the object and
// kind the API's form of it adds.
func fieldMessage(err error) string {
	var fe *structs.FieldError
	if errors.As(err, &fe) {
		return fe.Msg + "."
	}
	return err.Error()
}

// envRowsToShow are the rows the form renders: those entered, and at
// least one empty row to add to.
func envRowsToShow(rows []envRow) []envRow {
	out := slices.Clone(rows)
	out = append(out, envRow{})
	for len(out) < 2 {
		out = append(out, envRow{})
	}
	return out
}

// redactedEnv is env with every value hidden, for the preview.
func redactedEnv(env map[string]string) map[string]string {
	if len(env) == 0 {
		return nil
	}
	out := make(map[string]string, len(env))
	for k := range env {
		out[k] = hiddenValue
	}
	return out
}

// envNames are a job's variable names, sorted: what the job page shows
// of its environment.
func envNames(env map[string]string) string {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// depCondition is one condition of a job's dependency as its page shows
// it: the earlier job (linked when the caller may read it) and whether
// the condition holds yet.
type depCondition struct {
	Type   structs.DependencyType
	Number uint64
	JobID  string // "" when the caller cannot read the job
	State  structs.JobState
	Holds  bool
}

// dependencyOf reads the jobs a dependency names (those the caller may
// see) for the job page.
func (p *Portal) dependencyOf(ctx context.Context, s *session, d *structs.JobDependency) map[uint64]*structs.Job {
	if d == nil {
		return nil
	}
	ctx = withIdentity(ctx, s.id)
	out := map[uint64]*structs.Job{}
	for _, c := range d.Conditions {
		if _, seen := out[c.Job]; seen {
			continue
		}
		page, err := p.api.ListJobs(ctx, client.JobQuery{After: c.Job - 1, Limit: 1})
		if err == nil && len(page.Jobs) == 1 && page.Jobs[0].Number == c.Job {
			out[c.Job] = page.Jobs[0]
		}
	}
	return out
}

// depConditions lists d's conditions with the earlier jobs in jobs.
func depConditions(d *structs.JobDependency, jobs map[uint64]*structs.Job) []depCondition {
	if d == nil {
		return nil
	}
	out := make([]depCondition, 0, len(d.Conditions))
	for _, c := range d.Conditions {
		dc := depCondition{Type: c.Type, Number: c.Job}
		if j := jobs[c.Job]; j != nil {
			dc.JobID, dc.State = j.ID, j.State
			dc.Holds, _ = c.Holds(j)
		}
		out = append(out, dc)
	}
	return out
}

// waitingText says what a job held for its dependency waits for, in
// words: "waiting for job 12 to succeed and job 13 to end". Conditions
// that hold already are left out; an earlier job the caller cannot read
// is still named.
func waitingText(d *structs.JobDependency, conds []depCondition) string {
	var parts []string
	for _, c := range conds {
		if c.Holds {
			continue
		}
		parts = append(parts, "job "+strconv.FormatUint(c.Number, 10)+" to "+conditionVerb(c.Type))
	}
	if len(parts) == 0 {
		return "waiting for its dependency to be checked again"
	}
	sep := " and "
	if d != nil && d.Any {
		sep = " or "
	}
	return "waiting for " + strings.Join(parts, sep)
}

// conditionVerb is what a condition type waits for the earlier job to do.
func conditionVerb(t structs.DependencyType) string {
	switch t {
	case structs.DependAfter:
		return "start"
	case structs.DependAfterAny:
		return "end"
	case structs.DependAfterOK:
		return "succeed"
	case structs.DependAfterNotOK:
		return "fail"
	}
	return string(t)
}

// EnvRows are the environment rows the form shows (see envRowsToShow).
func (v *submitView) EnvRows() []envRow { return envRowsToShow(v.Env) }
