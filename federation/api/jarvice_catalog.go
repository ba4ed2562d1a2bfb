package api

import (
	"slices"
	"strings"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
)

// jarviceAppEntry is one app as /jarvice/apps lists it.
func jarviceAppEntry(a *structs.App) (structs.JarviceApp, error) {
	doc, err := appdef.Document(&a.AppDef)
	if err != nil {
		return structs.JarviceApp{}, err
	}
	privs := []string{}
	return structs.JarviceApp{ID: a.Name, Data: appdef.JarviceShape(doc), Public: a.Visibility == structs.VisibilityPublic,
		Privs: privs, Repo: a.Image, Src: a.Image, Walltime: a.AppDef.Walltime}, nil
}

// appDefVersion is an AppDef's appdefversion, 1 when it has none.
func appDefVersion(a *structs.App) int { return max(a.AppDef.AppDefVersion, 1) }

// jarviceApps is /jarvice/apps: the apps the caller may use, keyed by app
// name, or the one named (404 if it is unknown); version filters by
// appdefversion. A call without username and apikey lists public apps
// only, as the reference does (anonymousApp), without their images,
// unless the hub keeps its catalog private (Config.PrivateCatalog).
func (s *Server) jarviceApps(c *call) (any, error) {
	a, err := c.jarviceArgs()
	if err != nil {
		return nil, err
	}
	anonymous := !s.privateCatalog && a.Get("username") == "" && a.Get("apikey") == ""
	if anonymous {
		if err := s.limits.beforeAuth(c.r); err != nil {
			return nil, err
		}
	} else if err := c.jarviceAuth(&structs.JarviceUser{Username: a.Get("username"), APIKey: a.Get("apikey")}); err != nil {
		return nil, err
	}
	version, err := a.intArg("version", 0)
	if err != nil {
		return nil, err
	}
	// The batch apps of job scripts only when asked for: by name or all.
	withBatch, err := a.flag("all")
	if err != nil {
		return nil, err
	}
	txn := s.reads.Store().Read()
	all, err := txn.Apps()
	if err != nil {
		return nil, err
	}
	visible := func(app *structs.App) bool { return access.AppVisible(c.id.Access(), app) == nil }
	if anonymous {
		rules, err := txn.AccessRules()
		if err != nil {
			return nil, err
		}
		compiled := access.New(rules)
		visible = func(app *structs.App) bool { return anonymousApp(compiled, app) }
	}
	name := a.Get("name")
	withBatch = withBatch || name != ""
	out := map[string]structs.JarviceApp{}
	for _, app := range all {
		if (name != "" && app.Name != name) || (!withBatch && app.IsBatchApp()) ||
			!visible(app) || (version > 0 && appDefVersion(app) != version) {
			continue
		}
		e, err := jarviceAppEntry(app)
		if err != nil {
			return nil, err
		}
		if anonymous {
			e.Repo, e.Src = "", ""
		}
		out[app.Name] = e
	}
	if name != "" && len(out) == 0 {
		return nil, structs.Errorf(structs.ErrNotFound, "app %q", name)
	}
	return out, nil
}

// anonymousApp says whether /jarvice/apps lists app to a caller without
// credentials: a public app (not a job script's) that no access rule
// names — an app an administrator restricted to some users, tenants or
// clusters is not shown to everyone.
func anonymousApp(rules *access.Rules, app *structs.App) bool {
	return app.Visibility == structs.VisibilityPublic && !app.IsBatchApp() && !rules.NamesApp(app.Name)
}

// jarviceAppDef is /jarvice/appdef: one app's AppDef (404 if unknown).
func (s *Server) jarviceAppDef(c *call) (any, error) {
	a, err := s.jarviceLogin(c)
	if err != nil {
		return nil, err
	}
	name := a.Get("name")
	if name == "" {
		return nil, invalid("name is required")
	}
	app, err := fresh(c, func(r *state.ReadTxn) (*structs.App, error) { return r.App(name) })
	if err != nil {
		return nil, err
	}
	if err := access.AppVisible(c.id.Access(), app); err != nil {
		return nil, structs.Errorf(structs.ErrNotFound, "app %q", name)
	}
	doc, err := appdef.Document(&app.AppDef)
	if err != nil {
		return nil, err
	}
	return appdef.JarviceShape(doc), nil
}

// jarviceMachines is /jarvice/machines: the machine types the caller may
// use keyed by name, or the one named (404 if unknown); with vault, only
// those whose cluster is in the vault's zone.
func (s *Server) jarviceMachines(c *call) (any, error) {
	a, err := s.jarviceLogin(c)
	if err != nil {
		return nil, err
	}
	txn := s.reads.Store().Read()
	zone, zoned := "", false
	if vn := a.Get("vault"); vn != "" {
		v, err := txn.Vault(c.id.Tenant, vn)
		if err != nil {
			return nil, err
		}
		if err := access.VaultVisible(c.id.Access(), v); err != nil {
			return nil, err
		}
		zone, zoned = v.Zone, v.Zone != ""
	}
	all, err := txn.MachineTypes()
	if err != nil {
		return nil, err
	}
	name := a.Get("name")
	out := map[string]*structs.MachineType{}
	for _, m := range all {
		if (name != "" && m.Name != name) || access.MachineTypeUsable(c.id.Access(), m) != nil {
			continue
		}
		if zoned {
			if cl, err := txn.Cluster(m.Cluster); err != nil || cl.Zone != zone {
				continue
			}
		}
		out[m.Name] = m
	}
	if name != "" && len(out) == 0 {
		return nil, structs.Errorf(structs.ErrNotFound, "machine type %q", name)
	}
	return out, nil
}

// jarviceQueues is /jarvice/queues: Flotilla has one queue per hub and no
// named JARVICE queues, so the list is empty (a named queue is 404).
func (s *Server) jarviceQueues(c *call) (any, error) {
	a, err := s.jarviceLogin(c)
	if err != nil {
		return nil, err
	}
	if name := a.Get("name"); name != "" {
		return nil, structs.Errorf(structs.ErrNotFound, "queue %q", name)
	}
	info, err := a.flag("info")
	if err != nil {
		return nil, err
	}
	if info {
		return map[string]structs.JarviceQueue{}, nil
	}
	return []structs.JarviceQueue{}, nil
}

// jarviceTeamUsers is /jarvice/teamusers: the members of the teams the
// caller administers other than the caller (team admins only).
func (s *Server) jarviceTeamUsers(c *call) (any, error) {
	if _, err := s.jarviceLogin(c); err != nil {
		return nil, err
	}
	txn := s.reads.Store().Read()
	teams, err := txn.TeamsByTenant(c.id.Tenant)
	if err != nil {
		return nil, err
	}
	out := map[string]structs.JarviceTeamUser{}
	admin := false
	for _, t := range teams {
		if !c.id.AdminsTeam(t.Tenant, t.Name) {
			continue
		}
		admin = true
		for _, m := range t.Members {
			if m == c.id.Username {
				continue // the reference lists the others
			}
			u, err := txn.UserRef(m)
			if err != nil {
				continue
			}
			out[m] = structs.JarviceTeamUser{Email: u.Email, Name: u.Username}
		}
	}
	if !admin {
		return nil, structs.Errorf(structs.ErrForbidden, "team admins only")
	}
	return out, nil
}

// jarviceProjects is /jarvice/projects (global administrators): each
// project jobs were submitted under, with the users who did.
func (s *Server) jarviceProjects(c *call) (any, error) {
	if _, err := s.jarviceLogin(c); err != nil {
		return nil, err
	}
	if err := c.id.CheckGlobalAdmin("projects"); err != nil {
		return nil, err
	}
	jobs, _, err := s.reads.Store().Read().ListJobs(state.JobFilter{})
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, j := range jobs {
		if j.Project != "" && !slices.Contains(out[j.Project], j.Owner) {
			out[j.Project] = append(out[j.Project], j.Owner)
		}
	}
	return out, nil
}

// jarviceVault is /jarvice/vault: the listing of a vault directory. The
// hub does not reach into vaults, so a known vault lists as empty (an
// unknown one is 404). vault and path are required; details (a boolean)
// and sort (n, s, m, upper case to reverse) are checked, as the reference
// takes them.
func (s *Server) jarviceVault(c *call) (any, error) {
	a, err := s.jarviceLogin(c)
	if err != nil {
		return nil, err
	}
	vn := a.Get("vault")
	if vn == "" || a.Get("path") == "" {
		return nil, invalid("vault and path are required")
	}
	if _, err := a.flag("details"); err != nil {
		return nil, err
	}
	if sort := a.Get("sort"); sort != "" && (len(sort) != 1 || !strings.Contains("nsmNSM", sort)) {
		return nil, invalid("sort %q: want n, s or m (name, size, modification time), upper case to reverse", sort)
	}
	v, err := s.reads.Store().Read().Vault(c.id.Tenant, vn)
	if err != nil {
		return nil, err
	}
	if err := access.VaultVisible(c.id.Access(), v); err != nil {
		return nil, err
	}
	return [][]any{}, nil
}

// jarviceLive and jarviceReady are the health endpoints (no credentials).
func (s *Server) jarviceLive(*call) (any, error) { return map[string]any{"status": "OK"}, nil }

func (s *Server) jarviceReady(c *call) (any, error) {
	if s.leader.Leader() == "" {
		return nil, structs.Errorf(structs.ErrUnavailable, "no leader known")
	}
	return map[string]any{"status": map[string]any{"ready": true}}, nil
}
