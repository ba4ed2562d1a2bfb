package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
)

// submitView is the generated submit form.
type submitView struct {
	App        *structs.App
	Title      string
	CommandKey string
	Command    structs.Command
	Commands   []string
	JobID      string
	Label      string
	Fields     []field
	Machines   []machineChoice
	Nodes      int
	NodesMin   int
	NodesMax   int
	NodesError string
	MTError    string
	// Array, TaskRetries, TaskWalltime and CPUBind are the array job
	// fields (Array empty: not an array); CPUBind is --task-cpu-bind.
	Array             string
	ArrayError        string
	TaskRetries       string
	TaskWalltime      string
	TaskWalltimeError string
	CPUBind           string
	CPUBindError      string
	// Walltime is as flotilla submit's --time takes it (Slurm's forms or
	// a duration); Priority normal, high or highest ("" normal).
	Walltime      string
	WalltimeError string
	Priority      string
	PriorityError string
	Priorities    []structs.PriorityClass
	// Dependency, Env and Workdir are flotilla submit's --dependency,
	// --env and --chdir; env holds the values, which no page shows.
	Dependency      string
	DependencyError string
	DepChoices      []depChoice
	Env             []envRow
	EnvError        string
	env             map[string]string
	Workdir         string
	WorkdirError    string
	// Signal is flotilla submit's --signal: [B:]SIG[@TIME] before the
	// walltime ends.
	Signal      string
	SignalError string
	Vaults      []string
	Vault       string
	Teams       []string
	Team        string
	Preview     string
}

// commandOf picks the command named by key, or the app's first one.
func commandOf(a *structs.App, key string) (string, structs.Command, error) {
	keys := sortedKeys(a.AppDef.Commands)
	if key == "" && len(keys) > 0 {
		key = keys[0]
	}
	c, ok := a.AppDef.Commands[key]
	if !ok {
		return "", c, structs.Errorf(structs.ErrNotFound, "command %q of app %s not found", key, a.Name)
	}
	return key, c, nil
}

// formFor builds the form of app's command for s.
func (p *Portal) formFor(ctx context.Context, s *session, a *structs.App, key string) (*submitView, error) {
	key, cmd, err := commandOf(a, key)
	if err != nil {
		return nil, err
	}
	v := &submitView{App: a, Title: cardTitle(a), CommandKey: key, Command: cmd, Commands: sortedKeys(a.AppDef.Commands),
		Fields: buildFields(cmd, nil), Teams: s.id.Teams,
		Priorities: []structs.PriorityClass{structs.PriorityNormal, structs.PriorityHigh, structs.PriorityHighest}}
	ctx = withIdentity(ctx, s.id)
	mts, err := p.api.ListMachineTypes(ctx)
	if err != nil {
		return nil, err
	}
	pats, appMax := a.AppDef.MachinesOf(key), a.AppDef.ScaleMaxOf(key)
	for _, m := range mts {
		if !matchesAny(pats, m.Name) || access.MachineTypeUsable(s.id.Access(), m) != nil {
			continue
		}
		hi := m.ScaleMax
		if appMax > 0 && (hi == 0 || appMax < hi) {
			hi = appMax
		}
		lo := max(m.ScaleMin, 1)
		v.Machines = append(v.Machines, machineChoice{Name: m.Name, Description: m.Description, Cluster: m.Cluster,
			Cores: m.Cores, GPUs: m.GPUs, RAM: m.RAM, Price: m.Price, ScaleMin: lo, ScaleMax: hi})
	}
	if len(v.Machines) > 0 {
		v.Machines[0].Selected = true
		v.Nodes, v.NodesMin, v.NodesMax = v.Machines[0].ScaleMin, v.Machines[0].ScaleMin, v.Machines[0].ScaleMax
	}
	vaults, err := p.api.ListVaults(ctx, s.id.Tenant)
	if err == nil {
		for _, vt := range vaults {
			v.Vaults = append(v.Vaults, vt.Name)
		}
	}
	v.DepChoices = p.dependencyChoices(ctx, s)
	v.JobID = structs.NewJobID()
	return v, nil
}

func (p *Portal) submitForm(w http.ResponseWriter, r *http.Request, s *session) error {
	a, err := p.appOf(r, s)
	if err != nil {
		return err
	}
	v, err := p.formFor(r.Context(), s, a, r.URL.Query().Get("command"))
	if err != nil {
		return err
	}
	v.Preview = previewOf(v)
	return p.render(w, http.StatusOK, "submit.html", p.newView(s, "Submit: "+v.Title, "catalog", v))
}

// submitPost validates the form like the browser does and submits the
// job through the API; a form with errors comes back with the messages
// next to the fields and nothing submitted.
func (p *Portal) submitPost(w http.ResponseWriter, r *http.Request, s *session) error {
	a, err := p.appOf(r, s)
	if err != nil {
		return err
	}
	v, err := p.formFor(r.Context(), s, a, r.PostFormValue("command"))
	if err != nil {
		return err
	}
	values := map[string]string{}
	type upload struct {
		name string
		size int
		msg  string
	}
	uploads := map[string]upload{}
	for _, f := range v.Fields {
		switch f.Input {
		case "checkbox":
			values[f.Key] = strconv.FormatBool(r.PostFormValue("p."+f.Key) != "")
		case "file":
			val, name, size, msg := readUpload(r, f.Key)
			if val != "" {
				values[f.Key] = val
			}
			uploads[f.Key] = upload{name, size, msg}
		case "hidden":
			// CONST: the AppDef's value, whatever the form says.
		default:
			values[f.Key] = r.PostFormValue("p." + f.Key)
		}
	}
	v.Fields = buildFields(v.Command, values)
	ok := validateFields(v.Fields)
	for i := range v.Fields {
		if u, is := uploads[v.Fields[i].Key]; is {
			f := &v.Fields[i]
			f.UploadName, f.UploadSize = u.name, u.size
			if u.msg != "" {
				f.Error, ok = f.Label+": "+u.msg, false
			}
		}
	}
	if id := r.PostFormValue("job_id"); strings.HasPrefix(id, "j-") {
		v.JobID = id
	}
	v.Label, v.Vault, v.Team = r.PostFormValue("label"), r.PostFormValue("vault"), r.PostFormValue("team")
	mt := r.PostFormValue("machine_type")
	i := slices.IndexFunc(v.Machines, func(m machineChoice) bool { return m.Name == mt })
	for j := range v.Machines {
		v.Machines[j].Selected = j == i
	}
	v.Nodes, _ = strconv.Atoi(r.PostFormValue("nodes"))
	if i < 0 {
		v.MTError, ok = "Choose a machine type.", false
	} else {
		m := v.Machines[i]
		v.NodesMin, v.NodesMax = m.ScaleMin, m.ScaleMax
		if v.Nodes < m.ScaleMin || (m.ScaleMax > 0 && v.Nodes > m.ScaleMax) {
			v.NodesError, ok = "Nodes must be between "+strconv.Itoa(m.ScaleMin)+" and "+strconv.Itoa(m.ScaleMax)+".", false
		}
	}
	v.Array, v.TaskRetries = strings.TrimSpace(r.PostFormValue("array")), strings.TrimSpace(r.PostFormValue("task_retries"))
	if _, _, err := arrayOf(v); err != nil {
		v.ArrayError, ok = err.Error(), false
	}
	v.Walltime, v.Priority = strings.TrimSpace(r.PostFormValue("walltime")), r.PostFormValue("priority")
	if _, err := structs.ParseWalltime(v.Walltime); err != nil {
		v.WalltimeError, ok = "Walltime: "+err.Error()+".", false
	}
	if v.Priority != "" && !structs.PriorityClass(v.Priority).Valid() {
		v.Priority, v.PriorityError, ok = "", "Priority: choose normal, high or highest.", false
	}
	if !readJobEnv(r, v) {
		ok = false
	}
	if !readArrayTaskFields(r, v) {
		ok = false
	}
	req := requestOf(v)
	v.Preview = previewOf(v)
	if !ok {
		view := p.newView(s, "Submit: "+v.Title, "catalog", v)
		view.Error = "The form has errors; nothing was submitted."
		return p.render(w, http.StatusBadRequest, "submit.html", view)
	}
	j, err := p.api.SubmitJob(withIdentity(r.Context(), s.id), req)
	if err != nil {
		placed := hubFieldErrors(v, err)
		view := p.newView(s, "Submit: "+v.Title, "catalog", v)
		view.Error = "The hub refused the job: " + err.Error()
		if placed {
			view.Error = "The hub refused the job; nothing was submitted. See the messages next to the fields."
		}
		return p.render(w, statusOf(err), "submit.html", view)
	}
	http.Redirect(w, r, Prefix+"/jobs/"+j.ID, http.StatusSeeOther)
	return nil
}

// requestOf is the API request the form stands for.
func requestOf(v *submitView) structs.JobSubmitRequest {
	req := structs.JobSubmitRequest{ID: v.JobID, App: v.App.Name, Command: v.CommandKey, Nodes: v.Nodes,
		Vault: v.Vault, Label: v.Label, Team: v.Team, Parameters: map[string]string{},
		Dependency: v.Dependency, Workdir: v.Workdir, Signal: v.Signal, Priority: structs.PriorityClass(v.Priority)}
	if wt, err := structs.ParseWalltime(v.Walltime); err == nil {
		req.Walltime = wt
	}
	if len(v.env) > 0 {
		req.Env = v.env
	}
	for _, m := range v.Machines {
		if m.Selected {
			req.MachineType = m.Name
		}
	}
	if spec, retries, err := arrayOf(v); err == nil && spec != nil {
		req.Array, req.TaskRetries = spec, retries
		req.TaskCPUBind = v.CPUBind
		if wt, err := structs.ParseWalltime(v.TaskWalltime); err == nil {
			req.TaskWalltime = wt
		}
	}
	for _, f := range v.Fields {
		if f.Value != "" || f.Kind == structs.ParamBool {
			req.Parameters[f.Key] = f.Value
			if f.Kind == structs.ParamBool {
				req.Parameters[f.Key] = strconv.FormatBool(f.Checked)
			}
		}
	}
	return req
}

// arrayOf reads the form's array job fields: nil when Array is empty.
func arrayOf(v *submitView) (*structs.ArraySpec, int, error) {
	if v.Array == "" {
		if v.TaskRetries != "" && v.TaskRetries != "0" {
			return nil, 0, errors.New("Task retries need an array.")
		}
		return nil, 0, nil
	}
	spec, err := structs.ParseArraySpec(v.Array)
	if err != nil {
		why := ""
		var fe *structs.FieldError
		if errors.As(err, &fe) {
			why = " (" + fe.Msg + ")"
		}
		return nil, 0, errors.New("Array: want START-END[:STEP] ranges or single indices, comma-separated, then an optional %MAX, e.g. 1-1000%64 or 1,3,7-9%2" + why + ".")
	}
	retries := 0
	if v.TaskRetries != "" {
		if retries, err = strconv.Atoi(v.TaskRetries); err != nil || retries < 0 || retries > structs.MaxTaskRetries {
			return nil, 0, fmt.Errorf("Task retries must be between 0 and %d.", structs.MaxTaskRetries)
		}
	}
	return &spec, retries, nil
}

// previewOf is the JSON body of POST /v1/jobs for the form, exact but
// for the environment's values, which it hides.
func previewOf(v *submitView) string {
	req := requestOf(v)
	req.Env = redactedEnv(req.Env)
	for _, f := range v.Fields {
		if _, ok := req.Parameters[f.Key]; ok && f.Input == "file" {
			req.Parameters[f.Key] = "(base64 of " + f.UploadName + ", " + strconv.Itoa(f.UploadSize) + " bytes)"
		}
	}
	b, _ := json.MarshalIndent(req, "", "  ")
	return string(b)
}
