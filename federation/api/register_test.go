package api_test

import (
	"errors"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestAgentRegistration: an administrator issues a bootstrap token; the
// agent exchanges it once for an agent key that works on its cluster's
// endpoints; the token does not work twice, and wrong tokens get 401.
func TestAgentRegistration(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	e.must(e.admin.PutCluster(ctx, "east", &structs.ClusterSpec{}))
	tok, err := e.admin.CreateBootstrapToken(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	anon := e.client("")
	if _, err := anon.Register(ctx, "east", tok.Key+"0"); !errors.Is(err, structs.ErrUnauthorized) {
		t.Errorf("malformed token: %v, want unauthorized", err)
	}
	if _, err := anon.Register(ctx, "west", tok.Key); !errors.Is(err, structs.ErrUnauthorized) {
		t.Errorf("token for an unknown cluster: %v, want unauthorized", err)
	}
	key, err := anon.Register(ctx, "east", tok.Key)
	if err != nil {
		t.Fatal(err)
	}
	agent := e.client(key.Key)
	if _, err := agent.Assignments(ctx, "east", client.AssignmentQuery{}); err != nil {
		t.Errorf("agent key from registration: %v", err)
	}
	if _, err := agent.Assignments(ctx, "west", client.AssignmentQuery{}); err == nil {
		t.Error("agent key of east reads west's assignments")
	}
	if _, err := anon.Register(ctx, "east", tok.Key); !errors.Is(err, structs.ErrUnauthorized) {
		t.Errorf("second use of the token: %v, want unauthorized", err)
	}
	cl, err := e.admin.GetCluster(ctx, "east")
	if err != nil || cl.BootstrapToken != (structs.APIKeyHash{}) {
		t.Errorf("bootstrap token not cleared: %+v, %v", cl, err)
	}
	// A non-administrator cannot issue tokens.
	if _, err := agent.CreateBootstrapToken(ctx, "east"); !errors.Is(err, structs.ErrForbidden) && !errors.Is(err, structs.ErrUnauthorized) {
		t.Errorf("agent issued a bootstrap token: %v", err)
	}
}
