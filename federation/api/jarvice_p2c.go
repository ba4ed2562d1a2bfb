package api

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
)

// The PushToCompute endpoints: pull, build, history. In JARVICE an app
// (the "target") has a Docker repository; pull copies the repository's
// image into the app, build makes the image from a Git source first. In
// Flotilla an app names its image and the clusters' agents pre-pull it
// onto the machine types the app runs on (clusteragent/prepull), so a
// pull re-points the app at the image and the agents pull it; Flotilla
// builds no images.

// Replies of /jarvice/pull.
const (
	pullScheduled = "Pull successfully scheduled"
	pullUnchanged = "Image unchanged: the clusters keep it pulled (a tag pushed again is not pulled again: pull a new tag or a digest)"
	pullNoPrePull = "Image set; the app is not pre-pulled (no_prepull): nodes pull it when a job starts"
)

// jarviceTarget reads the target app of a PushToCompute call: it must
// exist and be visible to the caller (404 otherwise, as for an unknown
// app), and the caller must be allowed to publish it (403).
func (c *call) jarviceTarget(a *jarviceArgs, what string) (*structs.App, error) {
	target := a.Get("target")
	if target == "" {
		return nil, invalid("%s: target is required (the app's ID)", what)
	}
	app, err := fresh(c, func(r *state.ReadTxn) (*structs.App, error) { return r.App(target) })
	if err != nil {
		return nil, err
	}
	return app, c.checkTarget(app)
}

// checkTarget is jarviceTarget's check of an app read.
func (c *call) checkTarget(app *structs.App) error {
	if access.AppVisible(c.id.Access(), app) != nil {
		return structs.Errorf(structs.ErrNotFound, "app %q", app.Name)
	}
	return c.id.CheckWriteApp(app)
}

// jarvicePull is /jarvice/pull: repo (an image reference, as docker pull
// takes it) becomes the image of the app target, which the caller may
// publish; the clusters' agents see the catalog change and pull it onto
// the nodes of the machine types the app runs on. The app's AppDef is
// kept (Flotilla reads an image's AppDef with `flotilla app register
// IMAGE` or a catalog source, not here). A job-script app's image is
// fixed, and a synced app's is its source's (400).
func (s *Server) jarvicePull(c *call) (any, error) {
	a, err := s.jarviceLogin(c)
	if err != nil {
		return nil, err
	}
	repo := strings.TrimSpace(a.Get("repo"))
	if repo == "" {
		return nil, invalid("pull: repo is required (the image to pull, as docker pull takes it)")
	}
	if _, err := name.ParseReference(repo); err != nil {
		return nil, invalid("pull: repo %q is not an image reference", repo)
	}
	app, err := c.jarviceTarget(a, "pull")
	if err != nil {
		return nil, err
	}
	if app.IsBatchApp() {
		return nil, invalid("pull: app %q runs job scripts in its own image; it cannot be re-pointed", app.Name)
	}
	if app.Origin != "" {
		return nil, invalid("pull: app %q is synced from %s, which sets its image: change it there", app.Name, app.Origin)
	}
	c.object, c.detail = app.Name, "repo "+repo
	status := pullScheduled
	err = update(c, nil, "app", app.Name, func(r *state.ReadTxn) (*structs.App, error) { return r.App(app.Name) },
		func(old *structs.App, cas structs.CAS) (fsm.Command, error) {
			if old == nil {
				return nil, structs.Errorf(structs.ErrNotFound, "app %q", app.Name)
			}
			if err := c.checkTarget(old); err != nil {
				return nil, err
			}
			if old.Origin != "" {
				return nil, invalid("pull: app %q is synced from %s, which sets its image: change it there", old.Name, old.Origin)
			}
			status = pullScheduled
			if old.NoPrePull {
				status = pullNoPrePull
			}
			if old.Image == repo {
				if !old.NoPrePull {
					status = pullUnchanged
				}
				return nil, nil
			}
			n := old.Copy()
			n.Image = repo
			return &fsm.AppUpsert{App: *n, CAS: cas}, nil
		})
	if err != nil {
		return nil, err
	}
	return &structs.JarviceAction{Status: status}, nil
}

// jarviceBuild is /jarvice/build: JARVICE builds the app's image from its
// Git source; Flotilla builds no images, so once the target is checked
// (it exists, the caller may publish it) the call is refused with what to
// do instead. With abort there is no build to abort.
func (s *Server) jarviceBuild(c *call) (any, error) {
	a, err := s.jarviceLogin(c)
	if err != nil {
		return nil, err
	}
	abort, err := a.flag("abort")
	if err != nil {
		return nil, err
	}
	if _, err := a.flag("pull"); err != nil {
		return nil, err
	}
	app, err := c.jarviceTarget(a, "build")
	if err != nil {
		return nil, err
	}
	if abort {
		return nil, invalid("build: no build of %q is running: Flotilla does not build images", app.Name)
	}
	return nil, invalid("build: Flotilla does not build images: build and push the image of %q with your own tools "+
		"(docker build and push, a CI pipeline), then call /jarvice/pull with repo=IMAGE target=%s", app.Name, app.Name)
}

// jarviceHistory is /jarvice/history: the pulls of the target app, most
// recent first, from the audit trail (one line each: when, who, the
// image, the outcome), at most limit (default 100); reltime=false gives
// absolute times (RFC 3339, UTC). Blank when the target is unknown, the
// caller may not publish it, or it has no pulls (yet), as the reference's
// blank output.
func (s *Server) jarviceHistory(c *call) (any, error) {
	a, err := s.jarviceLogin(c)
	if err != nil {
		return nil, err
	}
	limit, err := a.intArg("limit", 100)
	if err != nil {
		return nil, err
	}
	rel := true
	if a.Get("reltime") != "" {
		if rel, err = a.flag("reltime"); err != nil {
			return nil, err
		}
	}
	if a.Get("target") == "" {
		return nil, invalid("target is required")
	}
	reply := &rawReply{contentType: jarviceText}
	app, err := c.jarviceTarget(a, "history")
	if err != nil {
		if structs.KindOf(err) == structs.ErrNotFound || structs.KindOf(err) == structs.ErrForbidden {
			return reply, nil
		}
		return nil, err
	}
	evs, err := s.reads.Store().Read().QueryAudit(state.AuditQuery{Object: "app/" + app.Name, Action: "app.pull"})
	if err != nil {
		return nil, err
	}
	now := s.now()
	var b strings.Builder
	for i := len(evs) - 1; i >= 0 && (limit == 0 || len(evs)-1-i < limit); i-- {
		e := evs[i]
		when := e.Time.UTC().Format(time.RFC3339)
		if rel {
			when = max(now.Sub(e.Time), 0).Round(time.Second).String() + " ago"
		}
		if e.Outcome == "ok" {
			fmt.Fprintf(&b, "%s pull %s by %s: scheduled\n", when, strings.TrimPrefix(e.Detail, "repo "), e.Actor)
		} else {
			fmt.Fprintf(&b, "%s pull by %s: refused (%d)\n", when, e.Actor, e.Status)
		}
	}
	reply.body = []byte(b.String())
	return reply, nil
}
