package authz

import (
	"errors"
	"slices"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func TestRBACUsers(t *testing.T) {
	tom := &Identity{Username: "tom", Tenant: "acme", Role: structs.RoleTeamAdmin, Teams: []string{"a1"}, AdminTeams: []string{"a1"}}
	uma := &Identity{Username: "uma", Tenant: "acme", Role: structs.RoleUser, Teams: []string{"a1"}}
	user := func(teams ...string) *structs.User {
		return &structs.User{Username: "uma", Tenant: "acme", Role: structs.RoleUser, Teams: teams}
	}
	with := func(u *structs.User, f func(*structs.User)) *structs.User { f(u); return u }
	cases := map[string]struct {
		id        *Identity
		old, next *structs.User
		ok        bool
	}{
		"team admin adds a user to their team":    {tom, nil, user("a1"), true},
		"team admin adds a user to another team":  {tom, nil, user("a2"), false},
		"team admin adds a user to no team":       {tom, nil, user(), false},
		"team admin creates an admin":             {tom, nil, with(user("a1"), func(u *structs.User) { u.Role = structs.RoleAdmin }), false},
		"team admin moves own member to a2":       {tom, user("a1"), user("a2"), false},
		"team admin removes from own team":        {tom, user("a1", "a2"), user("a2"), true},
		"team admin deletes own member":           {tom, user("a1"), nil, true},
		"team admin deletes other member":         {tom, user("a2"), nil, false},
		"team admin changes identity":             {tom, user("a1"), with(user("a1"), func(u *structs.User) { u.Identity.UID = 0; u.Identity.GID = 7 }), true},
		"user changes own identity":               {uma, user("a1"), with(user("a1"), func(u *structs.User) { u.Identity.UID = 7 }), false},
		"user changes own email":                  {uma, user("a1"), with(user("a1"), func(u *structs.User) { u.Email = "u@x" }), true},
		"user joins a team":                       {uma, user("a1"), user("a1", "a2"), false},
		"user promotes self":                      {uma, user("a1"), with(user("a1"), func(u *structs.User) { u.Role = structs.RoleTeamAdmin }), false},
		"user moves self to another tenant":       {uma, user("a1"), with(user("a1"), func(u *structs.User) { u.Tenant = "other" }), false},
		"team admin moves member to other tenant": {tom, user("a1"), with(user("a1"), func(u *structs.User) { u.Tenant = "other" }), false},
	}
	for name, tc := range cases {
		if err := tc.id.CheckWriteUser(tc.old, tc.next); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want allowed=%v", name, err, tc.ok)
		} else if err != nil && !errors.Is(err, structs.ErrForbidden) {
			t.Errorf("%s: %v is not ErrForbidden", name, err)
		}
	}
}

// TestCredentialsAndIdentities: only a user and their tenant's
// administrators manage the user's keys and password — a team
// administrator never, not even for a plain member of their team; a
// uid/gid is set by a global administrator, or by whoever may write the
// user when the tenant has an id range.
func TestCredentialsAndIdentities(t *testing.T) {
	ids := map[string]*Identity{
		"uma":    {Username: "uma", Tenant: "acme", Role: structs.RoleUser, Teams: []string{"a1"}},
		"tom":    {Username: "tom", Tenant: "acme", Role: structs.RoleTeamAdmin, Teams: []string{"a1"}, AdminTeams: []string{"a1"}},
		"ada":    {Username: "ada", Tenant: "acme", Role: structs.RoleAdmin},
		"gus":    {Username: "gus", Tenant: "globex", Role: structs.RoleAdmin},
		"root":   {Username: "root", Tenant: "system", Role: structs.RoleAdmin, Global: true},
		"agent":  {Cluster: "east"},
		"self":   {Username: "tom", Tenant: "acme", Role: structs.RoleTeamAdmin, AdminTeams: []string{"a1"}},
		"member": {Username: "ann", Tenant: "acme", Role: structs.RoleUser, Teams: []string{"a1"}},
	}
	uma := &structs.User{Username: "uma", Tenant: "acme", Role: structs.RoleUser, Teams: []string{"a1"}}
	tom := &structs.User{Username: "tom", Tenant: "acme", Role: structs.RoleTeamAdmin, Teams: []string{"a1"}}
	for name, tc := range map[string]struct {
		u     *structs.User
		allow []string
	}{
		"uma's credentials": {uma, []string{"uma", "ada", "root"}},
		"tom's credentials": {tom, []string{"self", "tom", "ada", "root"}},
	} {
		for who, id := range ids {
			err := id.CheckCredentials(tc.u)
			if allowed := slices.Contains(tc.allow, who); allowed != (err == nil) {
				t.Errorf("%s by %s: %v, want allowed=%v", name, who, err, allowed)
			} else if err != nil && !errors.Is(err, structs.ErrForbidden) {
				t.Errorf("%s by %s: %v is not ErrForbidden", name, who, err)
			}
		}
	}

	ranged := &structs.Tenant{Name: "acme", IDRange: structs.IDRange{Min: 5000, Max: 5999}}
	rangeless := &structs.Tenant{Name: "acme"}
	withID := func(uid int) *structs.User {
		u := uma.Copy()
		u.Identity = structs.Identity{UID: uid, GID: uid}
		return u
	}
	for name, tc := range map[string]struct {
		who       string
		t         *structs.Tenant
		old, next *structs.User
		ok        bool
	}{
		"unchanged, no range":            {"tom", rangeless, withID(7), withID(7), true},
		"team admin, no range":           {"tom", rangeless, uma, withID(5001), false},
		"tenant admin, no range":         {"ada", rangeless, uma, withID(5001), false},
		"new user with one, no range":    {"ada", rangeless, nil, withID(5001), false},
		"global admin, no range":         {"root", rangeless, uma, withID(5001), true},
		"team admin, a range":            {"tom", ranged, uma, withID(5001), true},
		"tenant admin, a range":          {"ada", ranged, nil, withID(5001), true},
		"unknown tenant":                 {"ada", nil, uma, withID(5001), false},
		"taking one away, no range":      {"ada", rangeless, withID(7), uma, false},
		"new user without one, no range": {"ada", rangeless, nil, uma, true},
	} {
		err := ids[tc.who].CheckSetIdentity(tc.t, tc.old, tc.next)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want allowed=%v", name, err, tc.ok)
		}
	}
}
