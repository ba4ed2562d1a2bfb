package authz

import (
	"errors"
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
		"team admin changes identity":             {tom, user("a1"), with(user("a1"), func(u *structs.User) { u.Identity.UID = 0; u.Identity.GID = 7 }), false},
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
