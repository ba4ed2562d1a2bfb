package api_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestTeamMembersAreUsersTeams: team membership has one home, the users'
// Teams. A team written with members changes its users; a user written
// with teams changes the teams' members; a team written without members
// leaves them; a deleted team leaves no user in it, so a team made again
// under its name starts empty.
func TestTeamMembersAreUsersTeams(t *testing.T) {
	e := newEnv(t)
	ctx, a := e.ctx(), e.admin
	e.must(a.PutTenant(ctx, &structs.Tenant{Name: "ta"}))
	e.must(a.PutTeam(ctx, &structs.Team{Tenant: "ta", Name: "a1"}))
	e.must(a.PutTeam(ctx, &structs.Team{Tenant: "ta", Name: "a2"}))
	for _, u := range []string{"ann", "bob", "cid"} {
		e.must(a.PutUser(ctx, u, &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser}))
	}
	members := func(team string) []string {
		t.Helper()
		return value[*structs.Team](t)(a.GetTeam(ctx, "ta", team)).Members
	}
	teams := func(user string) []string {
		t.Helper()
		return value[*structs.UserView](t)(a.GetUser(ctx, user)).Teams
	}
	check := func(step string, got, want any) {
		t.Helper()
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", step, d)
		}
	}

	e.must(a.PutTeam(ctx, &structs.Team{Tenant: "ta", Name: "a1", Members: []string{"bob", "ann"}}))
	check("team a1 set to ann, bob", members("a1"), []string{"ann", "bob"})
	check("ann's teams", teams("ann"), []string{"a1"})

	e.must(a.PutUser(ctx, "cid", &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser, Teams: []string{"a1", "a2"}}))
	check("cid joins a1 and a2 as a user", members("a1"), []string{"ann", "bob", "cid"})
	check("a2", members("a2"), []string{"cid"})

	e.must(a.PutTeam(ctx, &structs.Team{Tenant: "ta", Name: "a1", Members: []string{"cid"}}))
	check("team a1 set to cid", members("a1"), []string{"cid"})
	check("bob's teams", teams("bob"), []string(nil))
	check("cid's teams", teams("cid"), []string{"a1", "a2"})

	e.must(a.PutTeam(ctx, &structs.Team{Tenant: "ta", Name: "a1", Admins: []string{"cid"}}))
	check("a1 written without members", members("a1"), []string{"cid"})

	if _, err := a.PutTeam(ctx, &structs.Team{Tenant: "ta", Name: "a1", Members: []string{"cid", "nobody"}}); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("a member who is no user: %v, want ErrInvalid", err)
	}
	check("a1 after the refused write", members("a1"), []string{"cid"})

	e.must(nil, a.DeleteTeam(ctx, "ta", "a1"))
	check("cid's teams once a1 is deleted", teams("cid"), []string{"a2"})
	e.must(a.PutTeam(ctx, &structs.Team{Tenant: "ta", Name: "a1"}))
	check("a1 made again", members("a1"), []string(nil))
}
