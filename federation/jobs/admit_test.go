package jobs

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
	"github.com/google/go-cmp/cmp"
)

var now = time.Date(2026, 12, 1, 9, 30, 0, 0, time.FixedZone("CET", 3600))

// world is the hub state the table admits against, written through the
// FSM as the hub writes it: tenants acme and globex; acme's users alice
// (team cfd, groups us-persons and gpu, uid/gid 5001), bob (no team), ada
// (tenant administrator) and tom (administrator of team cfd); machine
// types n3 (1..8 nodes), g3 (for group gpu), big (4..16) and eu-1;
// apps of every visibility; vaults; access rules of every object kind;
// and alice's job j-old.
func world(t testing.TB) *state.Store {
	t.Helper()
	st, err := state.New()
	if err != nil {
		t.Fatal(err)
	}
	param := func(typ structs.ParamType, mut func(*structs.Parameter)) structs.Parameter {
		p := structs.Parameter{Name: string(typ), Type: typ}
		if mut != nil {
			mut(&p)
		}
		return p
	}
	solverCmd := structs.Command{Path: "/opt/solve", Parameters: map[string]structs.Parameter{
		"np":    param(structs.ParamConst, func(p *structs.Parameter) { p.Value = json.RawMessage(`"%TCORES%"`) }),
		"steps": param(structs.ParamInt, func(p *structs.Parameter) { p.Min, p.Max = 1, 1000 }),
		"tol":   param(structs.ParamFloat, nil),
		"cfl":   param(structs.ParamRange, func(p *structs.Parameter) { p.Min, p.Max, p.Step = 0, 100, 25 }),
		"fast":  param(structs.ParamBool, nil),
		"mode":  param(structs.ParamSelection, func(p *structs.Parameter) { p.Values = []string{"fast", "exact"} }),
		"case":  param(structs.ParamFile, nil),
		"title": param(structs.ParamString, func(p *structs.Parameter) { p.Value = json.RawMessage(`"run"`) }),
	}}
	app := func(name, tenant, owner string, vis structs.Visibility, def structs.AppDef) *fsm.AppUpsert {
		if def.Commands == nil {
			def.Commands = map[string]structs.Command{"run": {Path: "/bin/" + name}}
		}
		return &fsm.AppUpsert{App: structs.App{Name: name, Tenant: tenant, Owner: owner, Visibility: vis, AppDef: def}}
	}
	user := func(name, tenant string, role structs.Role, teams, groups []string, uid int) *fsm.UserUpsert {
		return &fsm.UserUpsert{User: structs.User{Username: name, Tenant: tenant, Role: role, Teams: teams, Groups: groups,
			Identity: structs.Identity{UID: uid, GID: uid}}}
	}
	mt := func(name string, lo, hi int, privs ...string) *fsm.MachineTypeUpsert {
		return &fsm.MachineTypeUpsert{MachineType: structs.MachineType{Name: name, Cores: 16, RAM: 64, Cluster: "east",
			ScaleMin: lo, ScaleMax: hi, Privs: privs}}
	}
	rule := func(name string, obj structs.AccessObject, match string, mut func(*structs.AccessRule)) *fsm.AccessRuleUpsert {
		r := structs.AccessRule{Name: name, Object: obj, Match: match}
		mut(&r)
		return &fsm.AccessRuleUpsert{Rule: r}
	}
	cmds := []fsm.Command{
		&fsm.TenantUpsert{Tenant: structs.Tenant{Name: "acme"}},
		&fsm.TenantUpsert{Tenant: structs.Tenant{Name: "globex"}},
		&fsm.TenantUpsert{Tenant: structs.Tenant{Name: "system"}},
		&fsm.TeamUpsert{Team: structs.Team{Tenant: "acme", Name: "cfd", Admins: []string{"tom"}}},
		&fsm.TeamUpsert{Team: structs.Team{Tenant: "acme", Name: "ml"}},
		&fsm.TeamUpsert{Team: structs.Team{Tenant: "globex", Name: "g1"}},
		user("alice", "acme", structs.RoleUser, []string{"cfd"}, []string{"us-persons", "gpu"}, 5001),
		user("bob", "acme", structs.RoleUser, nil, nil, 0),
		user("ada", "acme", structs.RoleAdmin, nil, nil, 0),
		user("tom", "acme", structs.RoleTeamAdmin, []string{"cfd"}, nil, 0),
		user("gus", "globex", structs.RoleUser, []string{"g1"}, nil, 0),
		user("root", "system", structs.RoleAdmin, nil, nil, 0),
		&fsm.ClusterUpsert{Cluster: structs.Cluster{Name: "east"}},
		mt("n3", 1, 8), mt("g3", 1, 4, "gpu"), mt("big", 4, 16), mt("eu-1", 1, 8),
		app("solver", "", "", structs.VisibilityPublic, structs.AppDef{Name: "Solver", Machines: []string{"n*", "g*", "big", "eu-*"},
			ScaleMax: 8, Walltime: "02:00:00", Commands: map[string]structs.Command{"run": solverCmd}}),
		app("viz", "", "", structs.VisibilityPublic, structs.AppDef{Commands: map[string]structs.Command{
			"desktop": {Path: "/bin/desk"}, "batch": {Path: "/bin/batch", Parameters: map[string]structs.Parameter{
				"frames": param(structs.ParamInt, func(p *structs.Parameter) { p.Required = true })}}}}),
		app("onlyg", "", "", structs.VisibilityPublic, structs.AppDef{Machines: []string{"g*"}}),
		app("inhouse", "acme", "ada", structs.VisibilityTenant, structs.AppDef{}),
		app("mine", "acme", "alice", structs.VisibilityPrivate, structs.AppDef{}),
		app("gx", "globex", "gus", structs.VisibilityTenant, structs.AppDef{}),
		app("itar-cfd", "", "", structs.VisibilityPublic, structs.AppDef{}),
		&fsm.VaultUpsert{Vault: structs.Vault{Tenant: "acme", Name: "data", Kind: structs.VaultFile, AccessMode: structs.AccessRWX}},
		&fsm.VaultUpsert{Vault: structs.Vault{Tenant: "acme", Name: "secret", Kind: structs.VaultFile, AccessMode: structs.AccessRWX}},
		&fsm.VaultUpsert{Vault: structs.Vault{Tenant: "globex", Name: "gdata", Kind: structs.VaultFile, AccessMode: structs.AccessRWX}},
		rule("itar-us", structs.AccessObjectApp, "itar-*", func(r *structs.AccessRule) { r.Groups = []string{"us-persons"} }),
		rule("eu-tenant", structs.AccessObjectMachineType, "eu-*", func(r *structs.AccessRule) { r.Tenants = []string{"globex"} }),
		rule("secret-vault", structs.AccessObjectVault, "acme/secret", func(r *structs.AccessRule) { r.Groups = []string{"us-persons"} }),
		rule("cluster-rule", structs.AccessObjectCluster, "*", func(r *structs.AccessRule) { r.Groups = []string{"nobody"} }),
		rule("off", structs.AccessObjectApp, "*", func(r *structs.AccessRule) { r.Groups = []string{"nobody"}; r.Disabled = true }),
		&fsm.JobSubmit{Job: structs.Job{ID: "j-old", Tenant: "acme", Owner: "alice", App: "solver", Command: "run",
			MachineType: "n3", Nodes: 1, State: structs.JobQueued, SubmitTime: now.Add(-time.Hour)}},
	}
	f := fsm.New(st)
	for i, c := range cmds {
		for _, r := range f.ApplyCommands(uint64(i+1), [][]byte{fsm.MustEncode(c)}) {
			if err, ok := r.(error); ok {
				t.Fatalf("%T: %v", c, err)
			}
		}
	}
	return st
}

// callers of the table, as auth would build them from their records.
var callers = map[string]*authz.Identity{
	"alice": {Username: "alice", Tenant: "acme", Role: structs.RoleUser, Teams: []string{"cfd"}, Groups: []string{"us-persons", "gpu"}},
	"bob":   {Username: "bob", Tenant: "acme", Role: structs.RoleUser},
	"ada":   {Username: "ada", Tenant: "acme", Role: structs.RoleAdmin},
	"tom":   {Username: "tom", Tenant: "acme", Role: structs.RoleTeamAdmin, Teams: []string{"cfd"}, AdminTeams: []string{"cfd"}},
	"gus":   {Username: "gus", Tenant: "globex", Role: structs.RoleUser, Teams: []string{"g1"}},
	"root":  {Username: "root", Tenant: "system", Role: structs.RoleAdmin, Global: true},
	"agent": {Cluster: "east"},
}

// admitCase is one submission. want is the error's kind (nil: admitted);
// rule, when set, the access rule a denial names; field the request field
// a *structs.FieldError names; job checks the admitted job.
type admitCase struct {
	caller string
	req    structs.JobSubmitRequest
	want   error
	rule   string
	field  string
	stored bool // admitted as the job already stored under its ID
	job    func(t *testing.T, j *structs.Job)
}

func req(app, mt string, nodes int, mut ...func(*structs.JobSubmitRequest)) structs.JobSubmitRequest {
	r := structs.JobSubmitRequest{ID: "j-new", App: app, MachineType: mt, Nodes: nodes}
	for _, m := range mut {
		m(&r)
	}
	return r
}

func params(kv ...string) func(*structs.JobSubmitRequest) {
	return func(r *structs.JobSubmitRequest) {
		r.Parameters = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			r.Parameters[kv[i]] = kv[i+1]
		}
	}
}

func team(name string) func(*structs.JobSubmitRequest) {
	return func(r *structs.JobSubmitRequest) { r.Team = name }
}
func vault(name string) func(*structs.JobSubmitRequest) {
	return func(r *structs.JobSubmitRequest) { r.Vault = name }
}
func command(c string) func(*structs.JobSubmitRequest) {
	return func(r *structs.JobSubmitRequest) { r.Command = c }
}

func admitCases() map[string]admitCase {
	inv, forb := structs.ErrInvalid, structs.ErrForbidden
	return map[string]admitCase{
		// The submission's own fields.
		"plain submission": {caller: "alice", req: req("solver", "n3", 2), job: func(t *testing.T, j *structs.Job) {
			want := &structs.Job{ID: "j-new", Tenant: "acme", Owner: "alice", App: "solver", Command: "run",
				MachineType: "n3", Nodes: 2, Walltime: structs.Duration(2 * time.Hour), State: structs.JobQueued,
				SubmitTime: now.UTC(), Identity: &structs.Identity{UID: 5001, GID: 5001}}
			if diff := cmp.Diff(want, j); diff != "" {
				t.Errorf("job (-want +got):\n%s", diff)
			}
		}},
		"agent submits":     {caller: "agent", req: req("solver", "n3", 1), want: forb},
		"no id":             {caller: "alice", req: req("solver", "n3", 1, func(r *structs.JobSubmitRequest) { r.ID = "" }), want: inv},
		"no app":            {caller: "alice", req: req("", "n3", 1), want: inv, field: "app"},
		"no machine type":   {caller: "alice", req: req("solver", "", 1), want: inv, field: "machine_type"},
		"zero nodes":        {caller: "alice", req: req("solver", "n3", 0), want: inv, field: "nodes"},
		"too many nodes":    {caller: "alice", req: req("solver", "n3", structs.MaxJobNodes+1), want: inv, field: "nodes"},
		"negative walltime": {caller: "alice", req: req("solver", "n3", 1, func(r *structs.JobSubmitRequest) { r.Walltime = -1 }), want: inv, field: "walltime"},
		"unknown priority":  {caller: "alice", req: req("solver", "n3", 1, func(r *structs.JobSubmitRequest) { r.Priority = "urgent" }), want: inv, field: "priority"},
		"control character": {caller: "alice", req: req("sol\x01ver", "n3", 1), want: inv},
		"explicit walltime kept": {caller: "alice", req: req("solver", "n3", 1, func(r *structs.JobSubmitRequest) { r.Walltime = structs.Duration(30 * time.Minute) }), job: func(t *testing.T, j *structs.Job) {
			if j.Walltime != structs.Duration(30*time.Minute) {
				t.Errorf("walltime %v", j.Walltime)
			}
		}},

		// The ID: a retry finds the job; another's ID is taken.
		"resubmit own id":        {caller: "alice", req: req("solver", "n3", 1, func(r *structs.JobSubmitRequest) { r.ID = "j-old" }), stored: true},
		"resubmit another's id":  {caller: "bob", req: req("solver", "n3", 1, func(r *structs.JobSubmitRequest) { r.ID = "j-old" }), want: structs.ErrConflict},
		"id of another tenant's": {caller: "gus", req: req("solver", "n3", 1, func(r *structs.JobSubmitRequest) { r.ID = "j-old" }), want: structs.ErrConflict},

		// Teams.
		"own team":                     {caller: "alice", req: req("solver", "n3", 1, team("cfd")), job: func(t *testing.T, j *structs.Job) { wantTeam(t, j, "cfd") }},
		"team not the caller's":        {caller: "bob", req: req("solver", "n3", 1, team("cfd")), want: forb},
		"team of another tenant":       {caller: "alice", req: req("solver", "n3", 1, team("g1")), want: forb},
		"team administrator's team":    {caller: "tom", req: req("solver", "n3", 1, team("cfd")), job: func(t *testing.T, j *structs.Job) { wantTeam(t, j, "cfd") }},
		"tenant administrator, a team": {caller: "ada", req: req("solver", "n3", 1, team("ml")), job: func(t *testing.T, j *structs.Job) { wantTeam(t, j, "ml") }},
		"unknown team":                 {caller: "ada", req: req("solver", "n3", 1, team("nope")), want: inv},

		// The catalog.
		"unknown machine type":           {caller: "alice", req: req("solver", "n9", 1), want: inv},
		"unknown app":                    {caller: "alice", req: req("nosuch", "n3", 1), want: inv},
		"unknown vault":                  {caller: "alice", req: req("solver", "n3", 1, vault("nope")), want: inv},
		"vault of another tenant":        {caller: "alice", req: req("solver", "n3", 1, vault("gdata")), want: inv},
		"own tenant's vault":             {caller: "bob", req: req("solver", "n3", 1, vault("data")), job: func(t *testing.T, j *structs.Job) { wantVault(t, j, "data") }},
		"below the machine type's scale": {caller: "alice", req: req("solver", "big", 2), want: inv},
		"above the machine type's scale": {caller: "alice", req: req("inhouse", "n3", 9), want: inv},
		"above the app's scale_max":      {caller: "alice", req: req("solver", "big", 10), want: inv},
		"app not on the machine type":    {caller: "alice", req: req("onlyg", "n3", 1), want: inv},
		"command to choose":              {caller: "alice", req: req("viz", "n3", 1), want: inv},
		"unknown command":                {caller: "alice", req: req("solver", "n3", 1, command("nope")), want: inv},
		"chosen command":                 {caller: "alice", req: req("viz", "n3", 1, command("desktop")), job: func(t *testing.T, j *structs.Job) { wantCommand(t, j, "desktop") }},

		// Parameters of the command.
		"parameters of every type": {caller: "alice", req: req("solver", "n3", 1, params("steps", "500", "tol", "1e-6", "cfl", "75",
			"fast", "true", "mode", "exact", "case", "/data/a.cas", "title", "x", "np", "%TCORES%")), job: func(t *testing.T, j *structs.Job) {
			if j.Parameters["steps"] != "500" || len(j.Parameters) != 8 {
				t.Errorf("parameters %v", j.Parameters)
			}
		}},
		"unknown parameter":            {caller: "alice", req: req("solver", "n3", 1, params("color", "red")), want: inv, field: "parameters.color"},
		"integer parameter not an int": {caller: "alice", req: req("solver", "n3", 1, params("steps", "1.5")), want: inv, field: "parameters.steps"},
		"integer out of bounds":        {caller: "alice", req: req("solver", "n3", 1, params("steps", "5000")), want: inv, field: "parameters.steps"},
		"float parameter not a number": {caller: "alice", req: req("solver", "n3", 1, params("tol", "small")), want: inv, field: "parameters.tol"},
		"range off its step":           {caller: "alice", req: req("solver", "n3", 1, params("cfl", "30")), want: inv, field: "parameters.cfl"},
		"range out of bounds":          {caller: "alice", req: req("solver", "n3", 1, params("cfl", "200")), want: inv, field: "parameters.cfl"},
		"bool parameter not a bool":    {caller: "alice", req: req("solver", "n3", 1, params("fast", "maybe")), want: inv, field: "parameters.fast"},
		"selection not a choice":       {caller: "alice", req: req("solver", "n3", 1, params("mode", "slow")), want: inv, field: "parameters.mode"},
		"required parameter missing":   {caller: "alice", req: req("viz", "n3", 1, command("batch")), want: inv, field: "parameters.frames"},
		"required parameter given":     {caller: "alice", req: req("viz", "n3", 1, command("batch"), params("frames", "24"))},
		"parameters without commands":  {caller: "alice", req: req("inhouse", "n3", 1, command("run"), params("x", "1")), want: inv},

		// Access: app visibility, machine-type privileges, vaults, named rules.
		"tenant app of own tenant":           {caller: "bob", req: req("inhouse", "n3", 1)},
		"tenant app of another tenant":       {caller: "gus", req: req("inhouse", "n3", 1), want: forb, rule: access.RuleAppVisibility},
		"private app of its owner":           {caller: "alice", req: req("mine", "n3", 1)},
		"private app not visible":            {caller: "bob", req: req("mine", "n3", 1), want: forb, rule: access.RuleAppVisibility},
		"private app, tenant administrator":  {caller: "ada", req: req("mine", "n3", 1)},
		"global administrator, another's":    {caller: "root", req: req("gx", "n3", 1)},
		"machine type of the caller's group": {caller: "alice", req: req("solver", "g3", 1)},
		"machine type of another group":      {caller: "bob", req: req("solver", "g3", 1), want: forb, rule: access.RuleMachineTypePriv},
		"app rule passes":                    {caller: "alice", req: req("itar-cfd", "n3", 1)},
		"app rule denies":                    {caller: "bob", req: req("itar-cfd", "n3", 1), want: forb, rule: "itar-us"},
		"app rule binds a global admin":      {caller: "root", req: req("itar-cfd", "n3", 1), want: forb, rule: "itar-us"},
		"machine type rule by tenant":        {caller: "bob", req: req("solver", "eu-1", 1), want: forb, rule: "eu-tenant"},
		"machine type rule passes":           {caller: "gus", req: req("solver", "eu-1", 1)},
		"vault rule denies":                  {caller: "bob", req: req("solver", "n3", 1, vault("secret")), want: forb, rule: "secret-vault"},
		"vault rule passes":                  {caller: "alice", req: req("solver", "n3", 1, vault("secret"))},
	}
}

func wantTeam(t *testing.T, j *structs.Job, want string) {
	if j.Team != want {
		t.Errorf("team %q, want %q", j.Team, want)
	}
}

func wantVault(t *testing.T, j *structs.Job, want string) {
	if j.Vault != want {
		t.Errorf("vault %q, want %q", j.Vault, want)
	}
}

func wantCommand(t *testing.T, j *structs.Job, want string) {
	if j.Command != want {
		t.Errorf("command %q, want %q", j.Command, want)
	}
}

// TestAdmitTable admits each submission against one state: what is
// refused is refused with the right kind (and rule or field), what is
// admitted is the command that stores the job as it should run, and the
// state is left as it was. A cluster rule never refuses a submission:
// where a job may run is placement's to decide.
func TestAdmitTable(t *testing.T) {
	st := world(t)
	before := st.LatestIndex()
	cases := admitCases()
	if len(cases) < 30 {
		t.Fatalf("%d cases, want at least 30", len(cases))
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := tc.req
			adm, err := Admit(st.Read(), callers[tc.caller], &r, now)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Admit = %+v, %v; want %v", adm, err, tc.want)
				}
				var denied *access.DeniedError
				if tc.rule != "" && (!errors.As(err, &denied) || denied.Rule != tc.rule) {
					t.Errorf("denial %v, want one naming rule %s", err, tc.rule)
				}
				if tc.field != "" && !namesField(err, tc.field) {
					t.Errorf("error %v, want one naming field %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.stored {
				if adm.Submit != nil || adm.Stored == nil || adm.Stored.ID != r.ID || adm.Stored.SubmitTime.Equal(now) {
					t.Fatalf("admission %+v, want the stored job", adm)
				}
				return
			}
			if adm.Stored != nil || adm.Submit == nil {
				t.Fatalf("admission %+v, want a command", adm)
			}
			j := &adm.Submit.Job
			if j.ID != r.ID || j.Owner != tc.caller || j.Tenant != callers[tc.caller].Tenant || j.State != structs.JobQueued {
				t.Errorf("job %+v", j)
			}
			if err := j.ValidateSubmit(); err != nil {
				t.Error(err)
			}
			if tc.job != nil {
				tc.job(t, j)
			}
		})
	}
	if st.LatestIndex() != before {
		t.Error("admission changed the state")
	}
}

// TestAdmittedJobApplies: the command Admit returns is what the state
// machine stores, with the number and name it gives.
func TestAdmittedJobApplies(t *testing.T) {
	st := world(t)
	r := req("solver", "n3", 2, team("cfd"), vault("data"), params("steps", "10"))
	adm, err := Admit(st.Read(), callers["alice"], &r, now)
	if err != nil {
		t.Fatal(err)
	}
	res := fsm.New(st).ApplyCommands(st.LatestIndex()+1, [][]byte{fsm.MustEncode(adm.Submit)})
	j, ok := res[0].(*structs.Job)
	if !ok {
		t.Fatalf("apply: %v", res[0])
	}
	if j.Number == 0 || j.Name != structs.JobName("alice", now, j.Number) || j.Vault != "data" || j.Team != "cfd" {
		t.Errorf("stored %+v", j)
	}
}

// TestCancel: who may stop a job, and the reason and time the command
// carries.
func TestCancel(t *testing.T) {
	j := &structs.Job{ID: "j-1", Tenant: "acme", Owner: "alice", Team: "cfd", State: structs.JobRunning}
	for name, tc := range map[string]struct {
		caller, reason, wantReason string
		want                       error
	}{
		"owner":                  {caller: "alice", wantReason: "canceled by alice"},
		"owner with a reason":    {caller: "alice", reason: "wrong input", wantReason: "wrong input"},
		"team administrator":     {caller: "tom", wantReason: "canceled by tom"},
		"tenant administrator":   {caller: "ada", wantReason: "canceled by ada"},
		"global administrator":   {caller: "root", wantReason: "canceled by root"},
		"another user":           {caller: "bob", want: structs.ErrForbidden},
		"user of another tenant": {caller: "gus", want: structs.ErrForbidden},
		"an agent":               {caller: "agent", want: structs.ErrForbidden},
	} {
		t.Run(name, func(t *testing.T) {
			cmd, err := Cancel(callers[tc.caller], j, "canceled", tc.reason, now)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Cancel = %v, want %v", err, tc.want)
				}
				return
			}
			want := &fsm.JobCancel{ID: "j-1", Reason: tc.wantReason, Time: now.UTC(), Account: true}
			if err != nil || !cmp.Equal(want, cmd) {
				t.Errorf("Cancel = %+v, %v; want %+v", cmd, err, want)
			}
		})
	}
}

// namesField reports whether err names the request's field: a
// *structs.FieldError of it, or a *structs.ValidationError (the catalog's
// check of parameter values) with an error at its JSON path.
func namesField(err error, field string) bool {
	var fe *structs.FieldError
	if errors.As(err, &fe) {
		return fe.Field == field
	}
	var ve *structs.ValidationError
	if errors.As(err, &ve) {
		for _, pe := range ve.Errors {
			if pe.Path == "$."+field {
				return true
			}
		}
	}
	return false
}
