package state

import (
	"cmp"
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Team membership is kept on the users (User.Teams, indexed by "team"):
// a team's Members are derived when it is read, so the two can never
// disagree. A team stored with members (written before that, see
// fsm.TeamUpsert) keeps them in the snapshot, but no read shows them.

// teamKey is the key of a team in the users' "team" index.
func teamKey(tenant, team string) string { return tenant + "\x00" + team }

// Team returns a tenant's team, with its members, or ErrNotFound.
func (r *ReadTxn) Team(tenant, name string) (*structs.Team, error) {
	t, err := getByID[*structs.Team](r.txn, TableTeams, "team", tenant, name)
	if err != nil {
		return nil, err
	}
	return t, r.withMembers(t)
}

// Teams returns every team, with its members, by tenant then name.
func (r *ReadTxn) Teams() ([]*structs.Team, error) {
	return r.teamsWithMembers(listAll[*structs.Team](r.txn, TableTeams, "id"))
}

// TeamsByTenant returns a tenant's teams, with their members, by name.
func (r *ReadTxn) TeamsByTenant(tenant string) ([]*structs.Team, error) {
	return r.teamsWithMembers(listAll[*structs.Team](r.txn, TableTeams, "id", tenant))
}

func (r *ReadTxn) teamsWithMembers(teams []*structs.Team, err error) ([]*structs.Team, error) {
	if err != nil {
		return nil, err
	}
	for _, t := range teams {
		if err := r.withMembers(t); err != nil {
			return nil, err
		}
	}
	return teams, nil
}

// withMembers sets t.Members (a copy) to the users whose Teams name it.
func (r *ReadTxn) withMembers(t *structs.Team) error {
	members, err := r.membersOf(t.Tenant, t.Name)
	if err != nil {
		return err
	}
	t.Members = nil
	for _, u := range members {
		t.Members = append(t.Members, u.Username)
	}
	return nil
}

// membersOf returns the stored users (not copies) that are members of
// team, by username.
func (r *ReadTxn) membersOf(tenant, team string) ([]*structs.User, error) {
	it, err := r.txn.Get(TableUsers, "team", teamKey(tenant, team))
	if err != nil {
		return nil, err
	}
	var out []*structs.User
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*structs.User))
	}
	slices.SortFunc(out, func(a, b *structs.User) int { return cmp.Compare(a.Username, b.Username) })
	return out, nil
}

// UpsertTeam creates or replaces a team of an existing tenant if the
// stored one meets cas. t.Members is stored as given and never read (see
// UpsertTeamMembers for a write that sets the membership).
func (w *WriteTxn) UpsertTeam(t *structs.Team, cas structs.CAS) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := w.mustExist(tTenants, "tenant", t.Tenant); err != nil {
		return err
	}
	return w.upsert(tTeams, t.Copy(), cas, "team", t.Tenant, t.Name)
}

// UpsertTeamMembers creates or replaces a team as UpsertTeam does, and
// makes t.Members exactly its members in the same transaction: the users
// listed (each a user of the team's tenant, listed once) get the team in
// their Teams, its other members lose it. The team is stored without
// members. Each user it changes must be stored at the modify index
// memberCAS gives them (a user changed since the writer read it, or one
// the writer did not expect to change, is ErrConflict), so a concurrent
// change of a user is never lost.
func (w *WriteTxn) UpsertTeamMembers(t *structs.Team, cas structs.CAS, memberCAS map[string]uint64) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if err := w.mustExist(tTenants, "tenant", t.Tenant); err != nil {
		return err
	}
	raw, err := rawByID(w.txn, TableTeams, t.Tenant, t.Name)
	if err != nil {
		return err
	}
	existing, _ := raw.(stored)
	if err := checkCAS(cas, existing, "team", t.Tenant, t.Name); err != nil {
		return err
	}
	changed, err := w.membershipChanges(t.Tenant, t.Name, t.Members)
	if err != nil {
		return err
	}
	for _, u := range changed {
		if got, ok := memberCAS[u.Username]; !ok || got != u.ModifyIndex {
			return structs.Errorf(structs.ErrConflict, "user %q changed concurrently (modify index %d); read the team again",
				u.Username, u.ModifyIndex)
		}
	}
	for _, u := range changed {
		next := u.Copy()
		if slices.Contains(next.Teams, t.Name) {
			next.Teams = withoutTeam(next.Teams, t.Name)
		} else {
			next.Teams = append(next.Teams, t.Name)
		}
		if err := w.insert(tUsers, next, u); err != nil {
			return err
		}
	}
	team := t.Copy()
	team.Members = nil
	return w.insert(tTeams, team, existing)
}

// membershipChanges returns the stored users whose membership of team a
// write listing members changes: those listed and not members, and the
// members not listed, by username. A listed name that is not a user of
// tenant, or is listed twice, is ErrInvalid.
func (w *WriteTxn) membershipChanges(tenant, team string, members []string) ([]*structs.User, error) {
	listed := make(map[string]bool, len(members))
	var changed []*structs.User
	for _, name := range members {
		if listed[name] {
			return nil, structs.Errorf(structs.ErrInvalid, "team %q: member %q listed twice", team, name)
		}
		listed[name] = true
		u, err := refByID[*structs.User](w.txn, TableUsers, "user", name)
		if err != nil || u.Tenant != tenant {
			return nil, structs.Errorf(structs.ErrInvalid, "team %q: unknown user %q of tenant %q", team, name, tenant)
		}
		if !slices.Contains(u.Teams, team) {
			changed = append(changed, u)
		}
	}
	current, err := w.membersOf(tenant, team)
	if err != nil {
		return nil, err
	}
	for _, u := range current {
		if !listed[u.Username] {
			changed = append(changed, u)
		}
	}
	slices.SortFunc(changed, func(a, b *structs.User) int { return cmp.Compare(a.Username, b.Username) })
	return changed, nil
}

// withoutTeam returns teams without team, nil when none is left (as a
// user decoded from a snapshot has it).
func withoutTeam(teams []string, team string) []string {
	out := slices.DeleteFunc(teams, func(t string) bool { return t == team })
	if len(out) == 0 {
		return nil
	}
	return out
}

// DeleteTeam deletes a team. Its members keep its name in their Teams
// (see DeleteTeamAndMembership).
func (w *WriteTxn) DeleteTeam(tenant, name string) error {
	return w.remove(tTeams, "team", tenant, name)
}

// DeleteTeamAndMembership deletes a team and takes it out of its
// members' Teams in the same transaction, so that a team made again
// under its name starts without members.
func (w *WriteTxn) DeleteTeamAndMembership(tenant, name string) error {
	if err := w.mustExist(tTeams, "team", tenant, name); err != nil {
		return notFound("team", tenant, name)
	}
	members, err := w.membersOf(tenant, name)
	if err != nil {
		return err
	}
	for _, u := range members {
		next := u.Copy()
		next.Teams = withoutTeam(next.Teams, name)
		if err := w.insert(tUsers, next, u); err != nil {
			return err
		}
	}
	return w.remove(tTeams, "team", tenant, name)
}
