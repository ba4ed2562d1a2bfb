package api_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

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

// TestAgentRegistrationRetried: an agent registers a key it made; sent
// again after the token is spent on it (a lost reply), the same key is
// accepted and no other is; a malformed key or one whose id is another
// cluster's is refused and leaves the token unspent.
func TestAgentRegistrationRetried(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	for _, c := range []string{"east", "west"} {
		e.must(e.admin.PutCluster(ctx, c, &structs.ClusterSpec{}))
	}
	tok, err := e.admin.CreateBootstrapToken(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	anon := e.client("")
	for _, bad := range []string{"fla_nothex", "flk_0123456789abcdef_" + strings.Repeat("a", 64), "fla_0123456789ABCDEF_" + strings.Repeat("a", 64)} {
		if _, err := anon.RegisterKey(ctx, "east", tok.Key, bad); client.StatusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "agent_key") {
			t.Errorf("agent key %q: %v, want 400 naming agent_key", bad, err)
		}
	}
	// west's agent registers a hub-made key; east may not take its id.
	wtok, err := e.admin.CreateBootstrapToken(ctx, "west")
	if err != nil {
		t.Fatal(err)
	}
	wkey, err := anon.Register(ctx, "west", wtok.Key)
	if err != nil {
		t.Fatal(err)
	}
	_, wid, _ := structs.ParseKey(wkey.Key)
	taken := "fla_" + wid + "_" + strings.Repeat("b", 64)
	if _, err := anon.RegisterKey(ctx, "east", tok.Key, taken); !errors.Is(err, structs.ErrConflict) {
		t.Errorf("east registers west's key id: %v, want conflict", err)
	}

	key, _ := structs.NewKey(structs.AgentKeyPrefix, time.Now())
	first, err := anon.RegisterKey(ctx, "east", tok.Key, key)
	if err != nil {
		t.Fatalf("registration after refused ones (the token must be unspent): %v", err)
	}
	_, id, _ := structs.ParseKey(key)
	if first.Key != key || first.ID != id {
		t.Errorf("registered %+v, want the agent's key %s", first.APIKeyInfo, id)
	}
	again, err := anon.RegisterKey(ctx, "east", tok.Key, key)
	if err != nil {
		t.Fatalf("the same registration sent again: %v", err)
	}
	if again.ID != first.ID || !again.Created.Equal(first.Created) {
		t.Errorf("sent again: %+v, want %+v", again.APIKeyInfo, first.APIKeyInfo)
	}
	other, _ := structs.NewKey(structs.AgentKeyPrefix, time.Now())
	if _, err := anon.RegisterKey(ctx, "east", tok.Key, other); !errors.Is(err, structs.ErrUnauthorized) {
		t.Errorf("another key with the spent token: %v, want unauthorized", err)
	}
	if _, err := anon.Register(ctx, "east", tok.Key); !errors.Is(err, structs.ErrUnauthorized) {
		t.Errorf("a hub-made key with the spent token: %v, want unauthorized", err)
	}
	if _, err := e.client(key).Assignments(ctx, "east", client.AssignmentQuery{}); err != nil {
		t.Errorf("the agent's own key: %v", err)
	}
	if _, err := e.client(other).Assignments(ctx, "east", client.AssignmentQuery{}); err == nil {
		t.Error("a refused key works")
	}
	if _, err := e.client(wkey.Key).Assignments(ctx, "west", client.AssignmentQuery{}); err != nil {
		t.Errorf("west's key after east's attempt on its id: %v", err)
	}
}
