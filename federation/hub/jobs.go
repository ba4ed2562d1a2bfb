package hub

import (
	"context"
	"errors"
	"path"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// SubmitJob checks j against the catalog (machine type, app, scale,
// vault), asks the Admission hook for its initial state, stamps the submit
// time and logs it. j.ID, Tenant and Owner must be set. Submitting an ID
// again returns the job stored under it, unchanged, if the same user
// submitted it (else ErrConflict): a retry never makes a second job.
func (h *Hub) SubmitJob(ctx context.Context, j *structs.Job) (*structs.Job, error) {
	txn := h.store.Read()
	if old, err := txn.JobRef(j.ID); err == nil {
		return sameSubmitter(old.Copy(), j)
	}
	if err := checkCatalog(txn, j); err != nil {
		return nil, err
	}
	j.SubmitTime = h.now().UTC()
	if u, err := txn.UserRef(j.Owner); err == nil && (u.Identity.UID != 0 || u.Identity.GID != 0) {
		id := u.Identity
		j.Identity = &id
	}
	d, err := h.cfg.Admission.Admit(ctx, txn, j)
	if err != nil {
		return nil, err
	}
	switch d.State {
	case structs.JobSubmitted, structs.JobHeld, structs.JobQueued:
	default:
		return nil, structs.Errorf(structs.ErrInvalid, "admission: initial state %q", d.State)
	}
	j.State, j.Substatus = d.State, d.Substatus
	if err := j.ValidateSubmit(); err != nil {
		return nil, err
	}
	val, err := h.Write(ctx, &fsm.JobSubmit{Job: *j})
	if err != nil {
		return nil, err
	}
	return sameSubmitter(val.(*structs.Job), j)
}

// sameSubmitter returns stored if it was submitted by j's owner.
func sameSubmitter(stored, j *structs.Job) (*structs.Job, error) {
	if stored.Tenant != j.Tenant || stored.Owner != j.Owner {
		return nil, structs.Errorf(structs.ErrConflict, "job id %q is taken", j.ID)
	}
	return stored, nil
}

// checkCatalog checks a submission against the machine type and app it
// names, filling the command and walltime from the app's defaults.
func checkCatalog(txn *state.ReadTxn, j *structs.Job) error {
	mt, err := txn.MachineTypeRef(j.MachineType) // read only
	if errors.Is(err, structs.ErrNotFound) {
		return structs.Errorf(structs.ErrInvalid, "unknown machine type %q", j.MachineType)
	} else if err != nil {
		return err
	}
	lo, hi := max(mt.ScaleMin, 1), mt.ScaleMax
	if hi == 0 {
		hi = structs.MaxJobNodes
	}
	if j.Nodes < lo || j.Nodes > hi {
		return structs.Errorf(structs.ErrInvalid, "nodes %d outside the scale %d..%d of machine type %q",
			j.Nodes, lo, hi, mt.Name)
	}
	app, err := txn.AppRef(j.App) // read only
	if errors.Is(err, structs.ErrNotFound) {
		return structs.Errorf(structs.ErrInvalid, "unknown app %q", j.App)
	} else if err != nil {
		return err
	}
	def := &app.AppDef
	if def.ScaleMax > 0 && j.Nodes > def.ScaleMax {
		return structs.Errorf(structs.ErrInvalid, "nodes %d above app %q scale_max %d", j.Nodes, app.Name, def.ScaleMax)
	}
	if !machineAllowed(def.Machines, mt.Name) {
		return structs.Errorf(structs.ErrInvalid, "app %q does not run on machine type %q", app.Name, mt.Name)
	}
	if len(def.Commands) > 0 {
		if j.Command == "" && len(def.Commands) == 1 {
			for name := range def.Commands {
				j.Command = name
			}
		}
		if _, ok := def.Commands[j.Command]; !ok {
			return structs.Errorf(structs.ErrInvalid, "app %q has no command %q", app.Name, j.Command)
		}
	}
	if j.Walltime == 0 && def.Walltime != "" {
		if j.Walltime, err = structs.ParseDuration(def.Walltime); err != nil {
			return structs.Errorf(structs.ErrInvalid, "app %q: default walltime %q", app.Name, def.Walltime)
		}
	}
	if j.Vault != "" {
		if _, err := txn.Vault(j.Tenant, j.Vault); errors.Is(err, structs.ErrNotFound) {
			return structs.Errorf(structs.ErrInvalid, "unknown vault %q", j.Vault)
		} else if err != nil {
			return err
		}
	}
	if j.Team != "" {
		if _, err := txn.Team(j.Tenant, j.Team); errors.Is(err, structs.ErrNotFound) {
			return structs.Errorf(structs.ErrInvalid, "unknown team %q", j.Team)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// machineAllowed reports whether an AppDef's machine patterns (e.g. "n*")
// admit machine type name; no patterns admit all.
func machineAllowed(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return len(patterns) == 0
}

// CancelJob stops a job: CANCELED before it started, TERMINATED after.
// Cancelling a job already cancelled or terminated returns it.
func (h *Hub) CancelJob(ctx context.Context, id, reason string) (*structs.Job, error) {
	val, err := h.Write(ctx, &fsm.JobCancel{ID: id, Reason: reason, Time: h.now().UTC()})
	if err != nil {
		return nil, err
	}
	return val.(*structs.Job), nil
}
