package hub

import (
	"bytes"
	"context"
	"errors"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/jobs"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// SubmitScriptJob is SubmitJob of a job of app, the caller's batch app
// for a job script's image (federation/api: scriptJob), which the store
// may not hold yet, or hold with an earlier hub's AppDef. The job is
// admitted against the state as it would be with app in the catalog;
// only an admitted job's app is written (made or brought to app's
// AppDef), then the job. A refused job leaves the catalog as it was
// (implements api.Jobs).
func (h *Hub) SubmitScriptJob(ctx context.Context, caller *authz.Identity, req *structs.JobSubmitRequest, app *structs.App) (*structs.Job, error) {
	if app == nil || req.App != app.Name {
		return nil, structs.Errorf(structs.ErrInvalid, "job script: the job must run the batch app it brings")
	}
	return h.submit(ctx, caller, req, "", app)
}

// withBatchApp is snap with app in place of the stored app of its name
// when the store lacks it or holds another AppDef (a batchAppSnapshot:
// the app is to be written once the job is admitted); else snap itself.
func withBatchApp(snap jobs.Snapshot, app *structs.App) (jobs.Snapshot, error) {
	stored, err := snap.AppRef(app.Name)
	switch {
	case errors.Is(err, structs.ErrNotFound):
	case err != nil:
		return nil, err
	case bytes.Equal(stored.AppDef.Raw, app.AppDef.Raw):
		return snap, nil
	}
	return batchAppSnapshot{Snapshot: snap, app: app}, nil
}

// batchAppSnapshot is an admission view with a batch app that is not
// written yet.
type batchAppSnapshot struct {
	jobs.Snapshot
	app *structs.App
}

// AppRef implements jobs.Snapshot: the batch app under its name.
func (s batchAppSnapshot) AppRef(name string) (*structs.App, error) {
	if name == s.app.Name {
		return s.app, nil
	}
	return s.Snapshot.AppRef(name)
}
