package api_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestSelfServiceApps publishes apps as JARVICE's PushToCompute lets
// users do: a user publishes private apps, a team administrator team apps
// for their team, a tenant administrator tenant apps; each is visible to
// exactly whom its visibility says, and nobody else may publish over it.
func TestSelfServiceApps(t *testing.T) {
	e := newEnv(t)
	alice := e.client(seedSmall(e))
	ctx := e.ctx()
	a := e.admin
	e.must(a.PutTeam(ctx, &structs.Team{Tenant: "ta", Name: "t1", Members: []string{"alice"}, Admins: []string{"lead"}}))
	users := map[string]*structs.UserSpec{
		"lead":  {Tenant: "ta", Role: structs.RoleTeamAdmin, Teams: []string{"t1"}},
		"carol": {Tenant: "ta", Role: structs.RoleUser},
		"boss":  {Tenant: "ta", Role: structs.RoleAdmin},
		"alice": {Tenant: "ta", Role: structs.RoleUser, Teams: []string{"t1"}}, // joins t1
	}
	for name, spec := range users {
		e.must(a.PutUser(ctx, name, spec))
	}
	lead := e.client(value[*structs.APIKeyCreated](t)(a.CreateAPIKey(ctx, "lead", "")).Key)
	carol := e.client(value[*structs.APIKeyCreated](t)(a.CreateAPIKey(ctx, "carol", "")).Key)
	boss := e.client(value[*structs.APIKeyCreated](t)(a.CreateAPIKey(ctx, "boss", "")).Key)

	app := func(name string, v structs.Visibility, team string) *structs.App {
		return &structs.App{Name: name, Visibility: v, Team: team, Image: "r/" + name + ":1", AppDef: tinyAppDef}
	}
	// Who may publish what.
	e.must(alice.PutApp(ctx, app("mine", structs.VisibilityPrivate, "")))
	e.must(lead.PutApp(ctx, app("teamapp", structs.VisibilityTeam, "t1")))
	e.must(boss.PutApp(ctx, app("tenantapp", structs.VisibilityTenant, "")))
	for name, tc := range map[string]struct {
		as  func() error
		err error
	}{
		"user publishes public":         {func() error { _, err := alice.PutApp(ctx, app("pub2", structs.VisibilityPublic, "")); return err }, structs.ErrForbidden},
		"user publishes team app":       {func() error { _, err := alice.PutApp(ctx, app("t2", structs.VisibilityTeam, "t1")); return err }, structs.ErrForbidden},
		"user publishes tenant app":     {func() error { _, err := alice.PutApp(ctx, app("t3", structs.VisibilityTenant, "")); return err }, structs.ErrForbidden},
		"user overwrites another's app": {func() error { _, err := carol.PutApp(ctx, app("mine", structs.VisibilityPrivate, "")); return err }, structs.ErrForbidden},
		"team admin, other team":        {func() error { _, err := lead.PutApp(ctx, app("t4", structs.VisibilityTeam, "t9")); return err }, structs.ErrForbidden},
		"team app without team":         {func() error { _, err := lead.PutApp(ctx, app("t5", structs.VisibilityTeam, "")); return err }, structs.ErrInvalid},
	} {
		if err := tc.as(); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", name, err, tc.err)
		}
	}
	// Who sees what.
	want := map[string][]string{
		"alice": {"mine", "pub", "teamapp", "tenantapp"},
		"lead":  {"pub", "teamapp", "tenantapp"},
		"carol": {"pub", "tenantapp"},
		"boss":  {"mine", "pub", "teamapp", "tenantapp"},
	}
	for who, cl := range map[string]*client.Client{"alice": alice, "lead": lead, "carol": carol, "boss": boss} {
		apps := value[[]*structs.App](t)(cl.ListApps(ctx))
		var got []string
		for _, ap := range apps {
			got = append(got, ap.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, want[who]) {
			t.Errorf("%s sees %v, want %v", who, got, want[who])
		}
	}
	// The owner runs its private app; another user may not.
	req := structs.JobSubmitRequest{App: "mine", MachineType: "n1", Nodes: 1}
	e.must(alice.SubmitJob(ctx, req))
	if _, err := carol.SubmitJob(ctx, req); !errors.Is(err, structs.ErrForbidden) {
		t.Errorf("carol submitting alice's private app: %v, want forbidden", err)
	}
}
