package portal

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Administration pages. What each shows comes from the API as the
// caller: a tenant or team administrator sees their own tenant's users,
// teams and limits; clusters, machine types and burst rules are for
// global administrators.

func (p *Portal) adminIndex(w http.ResponseWriter, r *http.Request, s *session) error {
	return p.render(w, http.StatusOK, "admin.html", p.newView(s, "Administration", "admin", nil))
}

// clusterRow is a cluster with its health and capacity per machine type.
type clusterRow struct {
	*structs.Cluster
	Age      string
	Stale    bool
	Capacity []capacityRow
	Apps     []appRow
	Chart    chart
}

// appRow is an app's image on one machine type of a cluster, as its agent
// reported it.
type appRow struct {
	App, MachineType, Image string
	State                   structs.AppPresence
	Ready, Nodes            int
	Reason                  string
}

// appRows lists a cluster's catalog report by app, then machine type.
func appRows(c *structs.ClusterCatalog) []appRow {
	if c == nil {
		return nil
	}
	var rows []appRow
	for _, app := range sortedKeys(c.Apps) {
		a := c.Apps[app]
		for _, mt := range sortedKeys(a.MachineTypes) {
			on := a.MachineTypes[mt]
			rows = append(rows, appRow{App: app, MachineType: mt, Image: a.Image, State: on.State,
				Ready: on.Ready, Nodes: on.Nodes, Reason: on.Reason})
		}
	}
	return rows
}

type capacityRow struct {
	MachineType      string
	Free, Total, Use int
	Percent          int
}

func (p *Portal) adminClusters(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := s.id.CheckGlobalAdmin("clusters"); err != nil {
		return err
	}
	cs, err := p.api.ListClusters(withIdentity(r.Context(), s.id))
	if err != nil {
		return err
	}
	now := p.hub.Now()
	rows := make([]clusterRow, 0, len(cs))
	for _, c := range cs {
		row := clusterRow{Cluster: c, Age: "never", Stale: true}
		if !c.LastHeartbeat.IsZero() {
			age := now.Sub(c.LastHeartbeat).Round(time.Second)
			row.Age, row.Stale = age.String()+" ago", age > time.Minute
		}
		for _, mt := range sortedKeys(c.Capacity) {
			cp := c.Capacity[mt]
			cr := capacityRow{MachineType: mt, Free: cp.Free, Total: cp.Total, Use: cp.Total - cp.Free}
			if cp.Total > 0 {
				cr.Percent = 100 * cr.Use / cp.Total
			}
			row.Capacity = append(row.Capacity, cr)
		}
		row.Apps = appRows(c.Catalog)
		row.Chart = chartOf(p.history.samples(c.Name), now)
		rows = append(rows, row)
	}
	return p.render(w, http.StatusOK, "admin_clusters.html", p.newView(s, "Clusters", "admin", rows))
}

func (p *Portal) adminMachineTypes(w http.ResponseWriter, r *http.Request, s *session) error {
	mts, err := p.api.ListMachineTypes(withIdentity(r.Context(), s.id))
	if err != nil {
		return err
	}
	return p.render(w, http.StatusOK, "admin_machinetypes.html", p.newView(s, "Machine types", "admin", mts))
}

// burstData is the burst rules page: the rules, the editor and a dry run.
type burstData struct {
	Rules        []*structs.BurstRule
	Edit         *structs.BurstRule
	MachineTypes []string
	DryRun       *dryRunResult
	DryJob       dryRunJob
}

func (p *Portal) burstView(r *http.Request, s *session, edit *structs.BurstRule) (*burstData, error) {
	if err := s.id.CheckGlobalAdmin("burst rules"); err != nil {
		return nil, err
	}
	ctx := withIdentity(r.Context(), s.id)
	rules, err := p.api.ListBurstRules(ctx)
	if err != nil {
		return nil, err
	}
	mts, err := p.api.ListMachineTypes(ctx)
	if err != nil {
		return nil, err
	}
	d := &burstData{Rules: rules, Edit: edit, DryJob: dryRunJob{Nodes: 1}}
	for _, m := range mts {
		d.MachineTypes = append(d.MachineTypes, m.Name)
	}
	if d.Edit == nil {
		name := r.URL.Query().Get("edit")
		if i := slices.IndexFunc(rules, func(b *structs.BurstRule) bool { return b.Name == name }); i >= 0 {
			d.Edit = rules[i]
		} else {
			d.Edit = &structs.BurstRule{}
		}
	}
	return d, nil
}

func (p *Portal) adminBurstRules(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := p.burstView(r, s, nil)
	if err != nil {
		return err
	}
	return p.render(w, http.StatusOK, "admin_burstrules.html", p.newView(s, "Burst rules", "admin", d))
}

// burstRuleOf reads the editor's fields.
func burstRuleOf(r *http.Request) (*structs.BurstRule, error) {
	b := &structs.BurstRule{Name: strings.TrimSpace(r.PostFormValue("name")), From: r.PostFormValue("from"),
		WhenFull: r.PostFormValue("when_full") != "", Disabled: r.PostFormValue("disabled") != ""}
	for _, t := range strings.Split(r.PostFormValue("to"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			b.To = append(b.To, t)
		}
	}
	if v := strings.TrimSpace(r.PostFormValue("after")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return b, structs.Errorf(structs.ErrInvalid, "after: a duration such as 30s or 5m")
		}
		b.After = structs.Duration(d)
	}
	if v := strings.TrimSpace(r.PostFormValue("cap")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return b, structs.Errorf(structs.ErrInvalid, "cap: a whole number, 0 for none")
		}
		b.Cap = n
	}
	if v := strings.TrimSpace(r.PostFormValue("price_ceiling")); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return b, structs.Errorf(structs.ErrInvalid, "price ceiling: a number, 0 for none")
		}
		b.PriceCeiling = f
	}
	return b, nil
}

// adminBurstRuleSave writes the edited rule through the API.
func (p *Portal) adminBurstRuleSave(w http.ResponseWriter, r *http.Request, s *session) error {
	b, err := burstRuleOf(r)
	if err == nil {
		_, err = p.api.PutBurstRule(withIdentity(r.Context(), s.id), b)
	}
	if err != nil {
		d, verr := p.burstView(r, s, b)
		if verr != nil {
			return verr
		}
		v := p.newView(s, "Burst rules", "admin", d)
		v.Error = "Not saved: " + err.Error()
		return p.render(w, statusOf(err), "admin_burstrules.html", v)
	}
	http.Redirect(w, r, Prefix+"/admin/burstrules?edit="+b.Name, http.StatusSeeOther)
	return nil
}

func (p *Portal) adminLimits(w http.ResponseWriter, r *http.Request, s *session) error {
	tenant := ""
	if !s.id.IsGlobalAdmin() {
		tenant = s.id.Tenant
	}
	ls, err := p.api.ListLimits(withIdentity(r.Context(), s.id), tenant)
	if err != nil {
		return err
	}
	return p.render(w, http.StatusOK, "admin_limits.html", p.newView(s, "Limits", "admin", ls))
}

// tenancyData is the tenants, teams and users page.
type tenancyData struct {
	Tenants []*structs.Tenant
	Teams   []*structs.Team
	Users   []*structs.UserView
	Rules   []ClaimRule
}

func (p *Portal) adminTenancy(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := withIdentity(r.Context(), s.id)
	d := &tenancyData{}
	var err error
	if s.id.IsGlobalAdmin() {
		if d.Tenants, err = p.api.ListTenants(ctx); err != nil {
			return err
		}
	} else {
		d.Tenants = []*structs.Tenant{{Name: s.id.Tenant}}
	}
	for _, t := range d.Tenants {
		teams, err := p.api.ListTeams(ctx, t.Name)
		if err == nil {
			d.Teams = append(d.Teams, teams...)
		}
		users, err := p.api.ListUsers(ctx, t.Name)
		if err == nil {
			d.Users = append(d.Users, users...)
		}
	}
	if s.id.IsGlobalAdmin() {
		d.Rules = p.claimRules()
	}
	return p.render(w, http.StatusOK, "admin_tenancy.html", p.newView(s, "Tenants, teams and users", "admin", d))
}

func (p *Portal) adminAccess(w http.ResponseWriter, r *http.Request, s *session) error {
	rules, err := p.api.ListAccessRules(withIdentity(r.Context(), s.id))
	if err != nil {
		return err
	}
	return p.render(w, http.StatusOK, "admin_access.html", p.newView(s, "Access rules", "admin", rules))
}
