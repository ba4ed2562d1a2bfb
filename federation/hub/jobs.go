package hub

import (
	"context"
	"log/slog"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/jobs"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
)

// SubmitJob admits caller's submission (federation/jobs: Admit) on this
// replica's state and logs it. A request without an ID gets one here
// (then a retried request is a new job). Submitting an ID again returns
// the job stored under it, unchanged, if the same user submitted it (else
// ErrConflict): a retry never makes a second job — also when two attempts
// race, since the state machine refuses the second and resolve answers it
// with the first (implements api.Jobs).
func (h *Hub) SubmitJob(ctx context.Context, caller *authz.Identity, req *structs.JobSubmitRequest) (*structs.Job, error) {
	return h.submit(ctx, caller, req, "", nil)
}

// submit is SubmitJob of a job trigger ("" none) makes; batchApp, when
// not nil, is the batch app the job runs (SubmitScriptJob).
func (h *Hub) submit(ctx context.Context, caller *authz.Identity, req *structs.JobSubmitRequest, trigger string, batchApp *structs.App) (*structs.Job, error) {
	if req.ID == "" {
		req.ID = structs.NewJobID()
	}
	if req.CallbackURL != "" {
		if err := h.checkCallback(ctx, req.CallbackURL); err != nil {
			return nil, err
		}
	}
	if req.Dependency != "" {
		// The jobs it names may have been submitted through another
		// replica a moment ago: read at least what the leader committed.
		if err := h.ConsistentRead(ctx); err != nil {
			return nil, err
		}
	}
	snap, err := h.admissionView()
	if err != nil {
		return nil, err
	}
	if batchApp != nil {
		if snap, err = withBatchApp(snap, batchApp); err != nil {
			return nil, err
		}
	}
	adm, err := jobs.Admit(snap, caller, req, h.now())
	if err != nil {
		return nil, err
	}
	if adm.Stored != nil {
		h.log.Debug("job submitted again: the stored job answers", adm.Stored.LogAttrs()...)
		return adm.Stored, nil
	}
	if s, ok := snap.(batchAppSnapshot); ok {
		if _, err := h.Write(ctx, &fsm.AppUpsert{App: *s.app}); err != nil {
			return nil, err
		}
	}
	adm.Submit.Job.Trigger = trigger
	adm.Submit.Job.RequestID = api.RequestID(ctx)
	val, err := h.Write(ctx, submitCommand(adm.Submit))
	if err != nil {
		return nil, err
	}
	stored := val.(*structs.Job)
	if stored.Tenant != caller.Tenant || stored.Owner != caller.Username {
		return nil, structs.Errorf(structs.ErrConflict, "job id %q is taken", req.ID)
	}
	if h.log.Enabled(ctx, slog.LevelInfo) { // the job's logger costs allocations even when discarded
		h.jobLog(stored).Info("job submitted", "tenant", stored.Tenant, "owner", stored.Owner, "app", stored.App,
			"machine_type", stored.MachineType, "nodes", stored.Nodes, "state", stored.State)
	}
	return stored, nil
}

// admissionView is the store's view for admission, whose access rules
// are read once per change of their table instead of once per submission.
func (h *Hub) admissionView() (jobs.Snapshot, error) {
	changes := h.store.Changes(state.TableAccessRules) // before the view: see state.Store.Changes
	r := h.store.Read()
	v := h.rules.Load()
	if v == nil || v.changes != changes {
		rules, err := r.AccessRules()
		if err != nil {
			return nil, err
		}
		v = &rulesView{changes: changes, rules: rules, compiled: access.New(rules)}
		h.rules.Store(v)
	}
	return admissionSnapshot{ReadTxn: r, rules: v.rules, compiled: v.compiled}, nil
}

// rulesView is the access rules at one value of their table's change
// counter; never changed once stored (admission only reads them).
type rulesView struct {
	changes uint64
	rules   []*structs.AccessRule
	// compiled is rules compiled once (access.Rules is read-only).
	compiled *access.Rules
}

// admissionSnapshot is a read transaction whose access rules come from a
// rulesView no older than it.
type admissionSnapshot struct {
	*state.ReadTxn
	rules    []*structs.AccessRule
	compiled *access.Rules
}

// AccessRules implements jobs.Snapshot.
func (s admissionSnapshot) AccessRules() ([]*structs.AccessRule, error) { return s.rules, nil }

// CompiledAccessRules implements jobs.CompiledSnapshot: the rules
// compiled when they were read, not per submission.
func (s admissionSnapshot) CompiledAccessRules() (*access.Rules, error) { return s.compiled, nil }

// jobLog is the logger of the lines about job j (structs.Job.LogAttrs).
func (h *Hub) jobLog(j *structs.Job) *slog.Logger { return h.log.With(j.LogAttrs()...) }

// CancelJob stops job j for caller (federation/jobs: Cancel): CANCELED
// before it started, TERMINATED after. Stopping a job already cancelled
// or terminated returns it (implements api.Jobs).
func (h *Hub) CancelJob(ctx context.Context, caller *authz.Identity, j *structs.Job, verb, reason string) (*structs.Job, error) {
	cmd, err := jobs.Cancel(caller, j, verb, reason, h.now())
	if err != nil {
		return nil, err
	}
	val, err := h.Write(ctx, cmd)
	if err != nil {
		return nil, err
	}
	stopped := val.(*structs.Job)
	if h.log.Enabled(ctx, slog.LevelInfo) {
		h.jobLog(stopped).Info("job stopped", "verb", verb, "by", caller.Username, "state", stopped.State)
	}
	return stopped, nil
}

// submitCommand is fsm.SubmitCommand of sub's job, without a second copy
// of the job (632 bytes) when the command is a plain JobSubmit: admission
// built the job in sub already. TestSubmitCommandMatchesFSM holds it to
// fsm.SubmitCommand's choice.
func submitCommand(sub *fsm.JobSubmit) fsm.Command {
	if j := &sub.Job; j.HasArrayList() || j.HasSubmitExtensions() {
		return fsm.SubmitCommand(j)
	}
	return sub
}
