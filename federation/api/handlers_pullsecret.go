package api

import (
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// An app's pull credential has endpoints of its own, beside PUT
// /v1/apps/{name} (which keeps the stored credential when the app is
// written without one, so that a catalog sync never drops it):
//
//	PUT    /v1/apps/{name}/pull-secret  {"pull_secret": "<docker config JSON>"}  set or rotate
//	DELETE /v1/apps/{name}/pull-secret                                          remove
//
// Both are allowed to whoever may write the app, change nothing else of
// it, answer 404 for an app that does not exist and 200 with the app as
// GET shows it (its credential's registries, never the credential). A
// write that changes nothing (removing a credential the app does not
// have, setting the one it has) is not logged again.

// setAppPullSecret is PUT /v1/apps/{name}/pull-secret.
func (s *Server) setAppPullSecret(c *call) (any, error) {
	req, err := decodeValue(c.body(), func(p *structs.AppPullSecret) error {
		if p.PullSecret == "" {
			return invalid("pull_secret: missing (DELETE /v1/apps/{name}/pull-secret removes the credential)")
		}
		_, err := structs.PullSecretRegistries("pull_secret", p.PullSecret)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.changeAppPullSecret(req.PullSecret)
}

// removeAppPullSecret is DELETE /v1/apps/{name}/pull-secret.
func (s *Server) removeAppPullSecret(c *call) (any, error) {
	return c.changeAppPullSecret("")
}

// changeAppPullSecret gives the app of the path the pull credential
// secret ("": none) by a read-modify-write on the stored app (see
// update): a concurrent edit of the app is kept, not overwritten.
func (c *call) changeAppPullSecret(secret string) (any, error) {
	name := c.r.PathValue("name")
	want, err := c.casQuery()
	if err != nil {
		return nil, err
	}
	if want != nil && want.ExpectAbsent {
		return nil, invalid("cas: the app's pull credential is changed on an existing app; give the modify index it was read at (> 0)")
	}
	var out *structs.App
	err = update(c, want, "app", name, func(r *state.ReadTxn) (*structs.App, error) { return r.App(name) },
		func(old *structs.App, cas structs.CAS) (fsm.Command, error) {
			if old == nil {
				return nil, structs.Errorf(structs.ErrNotFound, "app %q", name)
			}
			if err := c.id.CheckWriteApp(old); err != nil {
				return nil, err
			}
			out = old.Copy()
			if old.PullSecret == secret {
				return nil, nil // nothing to change
			}
			out.PullSecret = secret
			return &fsm.AppUpsert{App: *out, CAS: cas}, nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}
