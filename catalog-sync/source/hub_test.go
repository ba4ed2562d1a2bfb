package source_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/catalog-sync/source"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func def(t *testing.T, name, desc string) structs.AppDef {
	t.Helper()
	var d structs.AppDef
	doc := `{"name":"` + name + `","description":"` + desc + `","commands":{"run":{"path":"/opt/run","name":"Run"}}}`
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// hubWithUsers starts a one-replica hub with tenant acme, team physics
// and users ann, bob and carol (carol in physics); it returns the admin's
// client and one per user.
func hubWithUsers(ctx context.Context, t *testing.T) (*hubtest.Cluster, *client.Client, map[string]*client.Client) {
	t.Helper()
	h := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	if _, err := h.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	adm, err := client.New(h.URLs(), h.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutTeam(ctx, &structs.Team{Tenant: "acme", Name: "physics"}); err != nil {
		t.Fatal(err)
	}
	users := map[string]*client.Client{}
	for u, teams := range map[string][]string{"ann": nil, "bob": nil, "carol": {"physics"}} {
		if _, err := adm.PutUser(ctx, u, &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser, Teams: teams}); err != nil {
			t.Fatal(err)
		}
		k, err := adm.CreateAPIKey(ctx, u, "t")
		if err != nil {
			t.Fatal(err)
		}
		if users[u], err = client.New(h.URLs(), k.Key); err != nil {
			t.Fatal(err)
		}
	}
	return h, adm, users
}

func appNames(ctx context.Context, t *testing.T, c *client.Client) []string {
	t.Helper()
	apps, err := c.ListApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range apps {
		out = append(out, a.Name)
	}
	sort.Strings(out)
	return out
}

// TestCatalogSyncBetweenHubs: an upstream hub's catalog syncs into a
// downstream hub through its API. Added, changed and removed apps
// propagate; a second sync changes nothing; a private app stays its
// owner's, a team-restricted app stays invisible outside the team; an
// app registered directly downstream is neither replaced nor removed.
func TestCatalogSyncBetweenHubs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	up, upAdm, _ := hubWithUsers(ctx, t)
	_, downAdm, users := hubWithUsers(ctx, t)
	for _, a := range []*structs.App{
		{Name: "pub", Visibility: structs.VisibilityPublic, Image: "pub:1", AppDef: def(t, "Pub", "v1")},
		{Name: "priv", Visibility: structs.VisibilityPrivate, Owner: "ann", Tenant: "acme", Image: "priv:1", AppDef: def(t, "Priv", "mine")},
		{Name: "teamapp", Visibility: structs.VisibilityTeam, Tenant: "acme", Team: "physics", Image: "t:1", AppDef: def(t, "Team", "physics only")},
		{Name: "local", Visibility: structs.VisibilityPublic, Image: "up-local:1", AppDef: def(t, "Upstream local", "")},
	} {
		if _, err := upAdm.PutApp(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := downAdm.PutApp(ctx, &structs.App{Name: "local", Visibility: structs.VisibilityPublic, Image: "local:1", AppDef: def(t, "Local", "")}); err != nil {
		t.Fatal(err)
	}
	src := &source.Hub{URL: up.URL(0), Client: upAdm}
	down := source.HubCatalog{Client: downAdm}
	sync := func(what string) *source.Report {
		t.Helper()
		rep, err := source.Sync(ctx, src, down)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return rep
	}

	rep := sync("first sync")
	if !slices.Equal(rep.Added, []string{"priv", "pub", "teamapp"}) || len(rep.Refused) != 1 || rep.Refused[0].App != "local" {
		t.Fatalf("first sync: %+v", rep)
	}
	for u, want := range map[string][]string{"ann": {"local", "priv", "pub"}, "bob": {"local", "pub"}, "carol": {"local", "pub", "teamapp"}} {
		if got := appNames(ctx, t, users[u]); !slices.Equal(got, want) {
			t.Errorf("%s sees %v downstream, want %v", u, got, want)
		}
	}
	if _, err := users["bob"].GetApp(ctx, "teamapp"); err == nil {
		t.Error("bob, outside the team, reads the team app downstream")
	}
	if _, err := users["bob"].SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "priv", Command: "run", MachineType: "x", Nodes: 1}); err == nil {
		t.Error("bob submits ann's private app downstream")
	}
	got, err := downAdm.GetApp(ctx, "priv")
	if err != nil || got.Owner != "ann" || got.Visibility != structs.VisibilityPrivate || got.Origin != src.Origin() {
		t.Errorf("priv downstream: %+v %v", got, err)
	}
	if l, _ := downAdm.GetApp(ctx, "local"); l == nil || l.Image != "local:1" || l.Origin != "" {
		t.Errorf("the downstream's own app was touched: %+v", l)
	}

	if rep := sync("again"); rep.Changed() || len(rep.Unchanged) != 3 {
		t.Errorf("second sync: %+v", rep)
	}

	if _, err := upAdm.PutApp(ctx, &structs.App{Name: "pub", Visibility: structs.VisibilityPublic, Image: "pub:2", AppDef: def(t, "Pub", "v2")}); err != nil {
		t.Fatal(err)
	}
	if err := upAdm.DeleteApp(ctx, "priv"); err != nil {
		t.Fatal(err)
	}
	rep = sync("after changes")
	if !slices.Equal(rep.Updated, []string{"pub"}) || !slices.Equal(rep.Removed, []string{"priv"}) || len(rep.Added) != 0 {
		t.Fatalf("sync after a change and a removal: %+v", rep)
	}
	if p, err := users["bob"].GetApp(ctx, "pub"); err != nil || p.Image != "pub:2" || p.AppDef.Description != "v2" {
		t.Errorf("pub downstream after the change: %+v %v", p, err)
	}
	if got := appNames(ctx, t, users["ann"]); !slices.Equal(got, []string{"local", "pub"}) {
		t.Errorf("ann sees %v after priv was removed upstream", got)
	}
}

// TestHubSyncsConfiguredSources: a hub configured with a directory source
// syncs it on its leader at start and periodically: an AppDef file added
// later appears, one removed goes, each app tagged with the directory's
// origin.
func TestHubSyncsConfiguredSources(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	write := func(name, title string) {
		doc := `{"name":"` + title + `","commands":{"run":{"path":"/opt/run","name":"Run"}}}`
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("first", "First")
	h := hubtest.New(t, 1, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) {
		cfg.CatalogSync = hub.CatalogSync{Sources: []source.Spec{{Source: dir}}, Interval: 200 * time.Millisecond}
	}})
	if _, err := h.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	adm, err := client.New(h.URLs(), h.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	waitApps := func(want ...string) {
		t.Helper()
		for {
			got := appNames(ctx, t, adm)
			if slices.Equal(got, want) {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("catalog %v, want %v", got, want)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	waitApps("first")
	a, err := adm.GetApp(ctx, "first")
	if err != nil || a.Origin != (&source.Dir{Path: dir}).Origin() || a.Visibility != structs.VisibilityPublic {
		t.Fatalf("synced app: %+v %v", a, err)
	}
	write("second", "Second")
	waitApps("first", "second")
	if err := os.Remove(filepath.Join(dir, "first.json")); err != nil {
		t.Fatal(err)
	}
	waitApps("second")
}
