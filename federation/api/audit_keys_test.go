package api_test

import (
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestAuditNamesKeyOwners: the audit event of a key the hub issues names
// whose key it is and its id: a user's API key (apikey/USER/ID), a
// cluster's agent key and bootstrap token (cluster/NAME/ID), never an
// empty owner (cluster//ID).
func TestAuditNamesKeyOwners(t *testing.T) {
	e := newEnv(t)
	ctx, a := e.ctx(), e.admin
	e.must(a.PutTenant(ctx, &structs.Tenant{Name: "ta"}))
	e.must(a.PutUser(ctx, "carol", &structs.UserSpec{Tenant: "ta", Role: structs.RoleUser}))
	e.must(a.PutCluster(ctx, "west", &structs.ClusterSpec{}))
	userKey := value[*structs.APIKeyCreated](t)(a.CreateAPIKey(ctx, "carol", ""))
	agentKey := value[*structs.APIKeyCreated](t)(a.CreateAgentKey(ctx, "west"))
	token := value[*structs.APIKeyCreated](t)(a.CreateBootstrapToken(ctx, "west"))

	want := map[string]string{
		"apikey.create":          "apikey/carol/" + userKey.ID,
		"cluster.agentkey":       "cluster/west/" + agentKey.ID,
		"cluster.bootstraptoken": "cluster/west/" + token.ID,
	}
	got := map[string]string{}
	for _, ev := range value[[]*structs.AuditEvent](t)(a.Audit(ctx, client.AuditQuery{})) {
		if _, ok := want[ev.Action]; ok {
			got[ev.Action] = ev.ObjectKind + "/" + ev.ObjectName
		}
	}
	for action, object := range want {
		if got[action] != object {
			t.Errorf("%s: object %q, want %q", action, got[action], object)
		}
	}
}
