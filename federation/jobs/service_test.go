package jobs

import (
	"errors"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestServiceScopeSeesDefaultCommand: a service account's submission
// that names no command is checked against its scope as the job it
// becomes, running the app's only command (`flotilla submit` without
// --command, as the CLI's help offers), not as a command "".
func TestServiceScopeSeesDefaultCommand(t *testing.T) {
	st := world(t)
	account := func(commands ...string) *authz.Identity {
		return &authz.Identity{Username: "sa:acme/trainer", Tenant: "acme", Role: structs.RoleUser,
			Service: &structs.ServiceAccount{Tenant: "acme", Name: "trainer", Scope: structs.Scope{
				Apps:         []structs.AppGrant{{App: "solver", Commands: commands}},
				MachineTypes: []string{"n3"}, MaxNodes: 2}}}
	}
	cases := map[string]struct {
		caller  *authz.Identity
		command string
		rule    string // "" admitted
	}{
		"no command, the only one granted": {caller: account("run")},
		"no command, every command":        {caller: account()},
		"the command named":                {caller: account("run"), command: "run"},
		"no command, another granted":      {caller: account("other"), rule: "commands"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := req("solver", "n3", 1, command(tc.command))
			adm, err := Admit(st.Read(), tc.caller, &r, now)
			if tc.rule != "" {
				var se *structs.ScopeError
				if !errors.As(err, &se) || se.Rule != tc.rule || !errors.Is(err, structs.ErrForbidden) {
					t.Fatalf("Admit = %v, want a refusal by scope rule %q", err, tc.rule)
				}
				if want := `command "run" of app "solver" is not allowed`; se.Msg != want {
					t.Errorf("refusal %q, want %q", se.Msg, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if adm.Submit == nil || adm.Submit.Job.Command != "run" {
				t.Fatalf("admission %+v, want a job running command run", adm)
			}
		})
	}
}
