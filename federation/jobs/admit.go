package jobs

import (
	"errors"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
)

// Snapshot is the state admission reads: a consistent view of the hub's
// store (a *state.ReadTxn). Objects it returns are read, never changed.
type Snapshot interface {
	JobRef(id string) (*structs.Job, error)
	// JobByNumber is the job with that number (a dependency's).
	JobByNumber(number uint64) (*structs.Job, error)
	MachineTypeRef(name string) (*structs.MachineType, error)
	AppRef(name string) (*structs.App, error)
	Vault(tenant, name string) (*structs.Vault, error)
	Team(tenant, name string) (*structs.Team, error)
	UserRef(username string) (*structs.User, error)
	AccessRules() ([]*structs.AccessRule, error)
	// SubmitTimesSince is when owner submitted the jobs stored since then
	// (a service account's rate).
	SubmitTimesSince(owner string, since time.Time) ([]time.Time, error)
}

// Admission is Admit's verdict: the command that stores the job, or the
// job already stored under the request's ID by the same submitter (then
// Submit is nil and nothing is to be written).
type Admission struct {
	Submit *fsm.JobSubmit
	Stored *structs.Job
}

// Admit decides whether caller may submit req at now (see the package
// comment for the checks, in order). req.ID must be set. It returns the
// command to log, or the job stored under req.ID, or a typed error:
// ErrInvalid for a bad or unknown field, ErrForbidden (an
// *access.DeniedError for the access rules) for what the caller may not
// use, ErrConflict for another submitter's ID.
func Admit(snap Snapshot, caller *authz.Identity, req *structs.JobSubmitRequest, now time.Time) (Admission, error) {
	if !caller.IsUser() {
		return Admission{}, structs.Errorf(structs.ErrForbidden, "submit: users only")
	}
	if req.ID == "" {
		return Admission{}, structs.Errorf(structs.ErrInvalid, "job: id is required")
	}
	if err := req.Validate(); err != nil {
		return Admission{}, err
	}
	if old, err := snap.JobRef(req.ID); err == nil {
		if old.Tenant != caller.Tenant || old.Owner != caller.Username {
			return Admission{}, structs.Errorf(structs.ErrConflict, "job id %q is taken", req.ID)
		}
		return Admission{Stored: old.Copy()}, nil
	} else if !errors.Is(err, structs.ErrNotFound) {
		return Admission{}, err
	}
	team := req.Team
	if caller.Service != nil && team == "" {
		team = caller.Service.Team
	}
	if err := checkTeam(snap, caller, team); err != nil {
		return Admission{}, err
	}
	// The job is built in its command: no copy of it into the command.
	sub := &fsm.JobSubmit{Job: structs.Job{
		ID: req.ID, Label: req.Label, Project: req.Project,
		Tenant: caller.Tenant, Team: team, Owner: caller.Username, CallbackURL: req.CallbackURL,
		App: req.App, Command: req.Command, Parameters: req.Parameters,
		MachineType: req.MachineType, Nodes: req.Nodes, Vault: req.Vault,
		Walltime: req.Walltime, Priority: req.Priority, PullSecret: req.PullSecret,
		Env: req.JobEnv(), Workdir: req.Workdir,
		State: structs.JobQueued, SubmitTime: now.UTC(),
	}}
	j := &sub.Job
	if req.Array != nil {
		j.Array = &structs.ArrayJob{Spec: *req.Array, TaskRetries: req.TaskRetries, TaskWalltime: req.TaskWalltime}
	}
	mt, app, vault, err := resolve(snap, j)
	if err != nil {
		return Admission{}, err
	}
	defaultCommand(j, app)
	if err := checkService(snap, caller, j, now); err != nil {
		return Admission{}, err
	}
	rules, err := accessRules(snap)
	if err != nil {
		return Admission{}, err
	}
	if err := rules.CheckSubmit(caller.Access(), j, app, mt, vault); err != nil {
		return Admission{}, err
	}
	if err := fit(j, mt, app); err != nil {
		return Admission{}, err
	}
	if err := dependency(snap, caller, req.Dependency, j); err != nil {
		return Admission{}, err
	}
	if u, err := snap.UserRef(j.Owner); err == nil && (u.Identity.UID != 0 || u.Identity.GID != 0) {
		id := u.Identity
		j.Identity = &id
	}
	if err := j.ValidateSubmit(); err != nil {
		return Admission{}, err
	}
	return Admission{Submit: sub}, nil
}

// CompiledSnapshot is a Snapshot that keeps its access rules compiled
// (access.New of what AccessRules returns, made once per change of the
// rules): Admit checks a submission against them instead of compiling the
// rules for each one.
type CompiledSnapshot interface {
	Snapshot
	CompiledAccessRules() (*access.Rules, error)
}

// accessRules returns snap's access rules compiled.
func accessRules(snap Snapshot) (*access.Rules, error) {
	if c, ok := snap.(CompiledSnapshot); ok {
		return c.CompiledAccessRules()
	}
	rules, err := snap.AccessRules()
	if err != nil {
		return nil, err
	}
	return access.New(rules), nil
}

// checkTeam checks the team a job is charged to: one the caller is a
// member or an administrator of, which exists.
func checkTeam(snap Snapshot, caller *authz.Identity, team string) error {
	if team == "" {
		return nil
	}
	if !caller.MemberOf(caller.Tenant, team) && !caller.AdminsTeam(caller.Tenant, team) {
		return structs.Errorf(structs.ErrForbidden, "team %q: not a member", team)
	}
	if _, err := snap.Team(caller.Tenant, team); errors.Is(err, structs.ErrNotFound) {
		return structs.Errorf(structs.ErrInvalid, "unknown team %q", team)
	} else if err != nil {
		return err
	}
	return nil
}

// resolve finds the machine type, app and vault (nil if none) a job names.
func resolve(snap Snapshot, j *structs.Job) (*structs.MachineType, *structs.App, *structs.Vault, error) {
	mt, err := snap.MachineTypeRef(j.MachineType)
	if errors.Is(err, structs.ErrNotFound) {
		return nil, nil, nil, structs.Errorf(structs.ErrInvalid, "unknown machine type %q", j.MachineType)
	} else if err != nil {
		return nil, nil, nil, err
	}
	app, err := snap.AppRef(j.App)
	if errors.Is(err, structs.ErrNotFound) {
		return nil, nil, nil, structs.Errorf(structs.ErrInvalid, "unknown app %q", j.App)
	} else if err != nil {
		return nil, nil, nil, err
	}
	if j.Vault == "" {
		return mt, app, nil, nil
	}
	vault, err := snap.Vault(j.Tenant, j.Vault)
	if errors.Is(err, structs.ErrNotFound) {
		return nil, nil, nil, structs.Errorf(structs.ErrInvalid, "unknown vault %q", j.Vault)
	} else if err != nil {
		return nil, nil, nil, err
	}
	return mt, app, vault, nil
}
