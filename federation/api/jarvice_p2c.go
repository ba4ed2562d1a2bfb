package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/catalog-sync/source"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
)

// The PushToCompute endpoints: pull, build, history. In JARVICE an app
// (the "target") has a Docker repository; pull copies the repository's
// image into the app, with the AppDef the image carries, and build makes
// the image from a Git source first. In Flotilla an app names its image
// and the clusters' agents pre-pull it onto the machine types the app
// runs on (clusteragent/prepull), so a pull reads the image from its
// registry, pins the app to the digest its tag names now (the nodes keep
// that image however the tag moves, until the next pull), takes the
// AppDef the image carries, and the agents pull it; Flotilla builds no
// images.

// Replies of /jarvice/pull.
const (
	pullScheduled = "Pull successfully scheduled"
	pullUnchanged = "Image unchanged: the app already runs this image (its tag names the same digest) with its AppDef"
	pullNoPrePull = "Image set; the app is not pre-pulled (no_prepull): nodes pull it when a job starts"
)

// pullTimeout bounds a pull's reading of the registry.
const pullTimeout = 2 * time.Minute

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

// pullable refuses a pull into an app whose image is not its own to set:
// a job-script app's, or one a catalog source syncs (an app registered
// from an image, origin "image:REF", is pullable: no sync rewrites it).
func pullable(app *structs.App) error {
	switch {
	case app.IsBatchApp():
		return invalid("pull: app %q runs job scripts in its own image; it cannot be re-pointed", app.Name)
	case app.Origin != "" && !strings.HasPrefix(app.Origin, "image:"):
		return invalid("pull: app %q is synced from %s, which sets its image: change it there", app.Name, app.Origin)
	}
	return nil
}

// jarvicePull is /jarvice/pull: repo (an image reference, as docker pull
// takes it) becomes the image of the app target, which the caller may
// publish. The hub reads the image from its registry (with the app's pull
// credential): the app is pinned to the digest repo names now, and takes
// the AppDef the image carries (/etc/NAE/AppDef.json, or its label; an
// image without one keeps the app's, an invalid one is refused). The
// clusters' agents see the catalog change and pull that digest onto the
// nodes of the machine types the app runs on; a tag pushed again is
// pulled again only by the next pull. A job-script app's image is fixed,
// and a synced app's is its source's (400).
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
	if err := pullable(app); err != nil {
		return nil, err
	}
	c.object, c.detail = app.Name, "repo "+repo
	got, def, err := s.readPull(c, repo, app.PullSecret)
	if err != nil {
		return nil, err
	}
	c.detail = "repo " + got.Ref
	status := pullScheduled
	err = update(c, nil, "app", app.Name, func(r *state.ReadTxn) (*structs.App, error) { return r.App(app.Name) },
		func(old *structs.App, cas structs.CAS) (fsm.Command, error) {
			if old == nil {
				return nil, structs.Errorf(structs.ErrNotFound, "app %q", app.Name)
			}
			if err := c.checkTarget(old); err != nil {
				return nil, err
			}
			if err := pullable(old); err != nil {
				return nil, err
			}
			if old.PullSecret != app.PullSecret {
				return nil, structs.Errorf(structs.ErrConflict, "pull: the pull credential of app %q changed meanwhile: pull again", old.Name)
			}
			status = pullScheduled
			if old.NoPrePull {
				status = pullNoPrePull
			}
			n := old.Copy()
			n.Image = got.Ref
			if def != nil {
				n.AppDef = *def
			}
			if strings.HasPrefix(old.Origin, "image:") {
				n.Origin = "image:" + got.Ref
			}
			if n.Image == old.Image && n.Origin == old.Origin && bytes.Equal(n.AppDef.Raw, old.AppDef.Raw) {
				if !old.NoPrePull {
					status = pullUnchanged
				}
				return nil, nil
			}
			return &fsm.AppUpsert{App: *n, CAS: cas}, nil
		})
	if err != nil {
		return nil, err
	}
	return &structs.JarviceAction{Status: status}, nil
}

// readPull reads what a pull takes from the registry: the pinned image
// and its AppDef, decoded and checked as any registration's (nil when
// the image carries none). An image the registry refuses or lacks, and
// an AppDef that is not valid, are 400; a registry that cannot be read
// is 503. Nothing is written.
func (s *Server) readPull(c *call, repo, pullSecret string) (*source.Pulled, *structs.AppDef, error) {
	ctx, cancel := context.WithTimeout(c.r.Context(), pullTimeout)
	defer cancel()
	c.writeWithin(pullTimeout + replyTimeout)
	var opts []source.Option
	if pullSecret != "" {
		opts = append(opts, source.WithDockerConfig(pullSecret))
	}
	got, err := source.ReadPull(ctx, repo, opts...)
	if err != nil {
		var pe *source.PullError
		if errors.As(err, &pe) && pe.Refused {
			return nil, nil, invalid("pull: %v", err)
		}
		return nil, nil, structs.Errorf(structs.ErrUnavailable, "pull: %v", err)
	}
	if got.AppDef == nil {
		return got, nil, nil
	}
	if _, res := appdef.Parse(got.AppDef); res.Err() != nil {
		return nil, nil, fmt.Errorf("pull: the AppDef in %s: %w", got.Ref, res.Err())
	}
	def := &structs.AppDef{}
	if err := def.UnmarshalJSON(got.AppDef); err != nil {
		return nil, nil, invalid("pull: the AppDef in %s: %v", got.Ref, err)
	}
	return got, def, nil
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
