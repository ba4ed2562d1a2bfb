package auth

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"golang.org/x/crypto/bcrypt"
)

func TestKeys(t *testing.T) {
	key, stored := NewKey(UserKeyPrefix, time.Unix(100, 0))
	prefix, id, ok := ParseKey(key)
	if !ok || prefix != UserKeyPrefix || id != stored.ID || !stored.Matches(key) || stored.Created.Unix() != 100 {
		t.Fatalf("NewKey = %q, %+v; ParseKey = %q, %q, %v", key, stored, prefix, id, ok)
	}
	if strings.Contains(stored.SHA256, key) || stored.Matches(key+"x") {
		t.Error("stored form reveals or accepts the wrong key")
	}
	other, _ := NewKey(UserKeyPrefix, time.Time{})
	if other == key {
		t.Error("two keys are equal")
	}
	for _, bad := range []string{"", "flk", "flk_", "flk_abc_def", key + "x", strings.ToUpper(key),
		"flk_" + strings.Repeat("g", 16) + "_" + strings.Repeat("0", 64)} {
		if _, _, ok := ParseKey(bad); ok {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse", bcrypt.MinCost)
	if err != nil || !CheckPassword(h, "correct horse") || CheckPassword(h, "wrong horse") || CheckPassword("", "") {
		t.Fatalf("HashPassword = %q, %v", h, err)
	}
	for _, bad := range []string{"short", strings.Repeat("x", 73)} {
		if _, err := HashPassword(bad, bcrypt.MinCost); !errors.Is(err, structs.ErrInvalid) {
			t.Errorf("HashPassword(%d bytes) = %v, want ErrInvalid", len(bad), err)
		}
	}
}

// fixture stores tenants sys and acme (and disabled "gone"), teams, users
// and a cluster, and returns the authenticator and keys by owner.
func fixture(t testing.TB) (*Authenticator, map[string]string) {
	t.Helper()
	store, err := state.New()
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	pw, _ := HashPassword("correct horse", bcrypt.MinCost)
	w := store.Write(1)
	for _, tn := range []*structs.Tenant{{Name: "sys"}, {Name: "acme"}, {Name: "gone", Disabled: true}} {
		if err := w.UpsertTenant(tn, structs.CAS{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tm := range []*structs.Team{{Tenant: "acme", Name: "a1", Admins: []string{"tom"}}, {Tenant: "acme", Name: "a2"}} {
		if err := w.UpsertTeam(tm, structs.CAS{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []*structs.User{
		{Username: "root", Tenant: "sys", Role: structs.RoleAdmin},
		{Username: "ann", Tenant: "acme", Role: structs.RoleAdmin, PasswordHash: pw},
		{Username: "tom", Tenant: "acme", Role: structs.RoleTeamAdmin, Teams: []string{"a1"}},
		{Username: "uma", Tenant: "acme", Role: structs.RoleUser, Teams: []string{"a2"}},
		{Username: "off", Tenant: "acme", Role: structs.RoleUser, Disabled: true},
		{Username: "ghost", Tenant: "gone", Role: structs.RoleUser},
	} {
		k, stored := NewKey(UserKeyPrefix, time.Now())
		keys[u.Username] = k
		u.APIKeys = []structs.APIKeyHash{stored}
		if err := w.UpsertUser(u, structs.CAS{}); err != nil {
			t.Fatal(err)
		}
	}
	k, stored := NewKey(AgentKeyPrefix, time.Now())
	keys["agent"] = k
	if err := w.UpsertCluster(&structs.Cluster{Name: "east", AgentKey: stored}, structs.CAS{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	a, err := New(store, Config{SystemTenant: "sys", BcryptCost: bcrypt.MinCost,
		Bootstrap: &BootstrapAdmin{Username: "boot", APIKey: "bootstrap-key-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	return a, keys
}

func TestAuthenticator(t *testing.T) {
	a, keys := fixture(t)
	id, err := a.Key(keys["root"])
	if err != nil || !id.IsGlobalAdmin() || id.Tenant != "sys" {
		t.Errorf("root = %+v, %v", id, err)
	}
	id, err = a.Key(keys["ann"])
	if err != nil || id.IsGlobalAdmin() || !id.AdminsTenant("acme") || id.AdminsTenant("sys") {
		t.Errorf("ann = %+v, %v", id, err)
	}
	id, err = a.Key(keys["tom"])
	if err != nil || len(id.AdminTeams) != 1 || id.AdminTeams[0] != "a1" || !id.AdminsTeam("acme", "a1") || id.AdminsTeam("acme", "a2") {
		t.Errorf("tom = %+v, %v", id, err)
	}
	id, err = a.Key(keys["agent"])
	if err != nil || !id.IsAgent() || id.Cluster != "east" || id.IsUser() || id.InTenant("acme") {
		t.Errorf("agent = %+v, %v", id, err)
	}
	id, err = a.Key("bootstrap-key-0123456789")
	if err != nil || !id.IsGlobalAdmin() || id.Username != "boot" || id.Tenant != "sys" {
		t.Errorf("bootstrap = %+v, %v", id, err)
	}
	if id, err := a.UserKey("uma", keys["uma"]); err != nil || id.Username != "uma" {
		t.Errorf("UserKey(uma) = %+v, %v", id, err)
	}
	if id, err := a.Password("ann", "correct horse"); err != nil || id.Username != "ann" {
		t.Errorf("Password(ann) = %+v, %v", id, err)
	}
	unknownKey, _ := NewKey(UserKeyPrefix, time.Time{})
	for name, f := range map[string]func() (*authz.Identity, error){
		"wrong secret":    func() (*authz.Identity, error) { return a.Key(flipLast(keys["uma"])) },
		"garbage":         func() (*authz.Identity, error) { return a.Key("nonsense") },
		"unknown id":      func() (*authz.Identity, error) { return a.Key(unknownKey) },
		"disabled user":   func() (*authz.Identity, error) { return a.Key(keys["off"]) },
		"disabled tenant": func() (*authz.Identity, error) { return a.Key(keys["ghost"]) },
		"other's key":     func() (*authz.Identity, error) { return a.UserKey("ann", keys["uma"]) },
		"agent as user":   func() (*authz.Identity, error) { return a.UserKey("east", keys["agent"]) },
		"wrong password":  func() (*authz.Identity, error) { return a.Password("ann", "wrong horse!") },
		"no password":     func() (*authz.Identity, error) { return a.Password("uma", "correct horse") },
		"no such user":    func() (*authz.Identity, error) { return a.Password("nobody", "correct horse") },
	} {
		id, err := f()
		if !errors.Is(err, structs.ErrUnauthorized) {
			t.Errorf("%s: %+v, %v; want unauthorized", name, id, err)
		}
		if err != nil && strings.Contains(err.Error(), "correct horse") {
			t.Errorf("%s: error %q shows the secret", name, err)
		}
	}
	if _, err := a.Key(unknownKey); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key id: %v, want ErrUnknownKey", err)
	}

	req, _ := http.NewRequest("GET", "/", nil)
	if _, err := a.Request(req); !errors.Is(err, structs.ErrUnauthorized) {
		t.Errorf("no credentials: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+keys["uma"])
	if id, err := a.Request(req); err != nil || id.Username != "uma" {
		t.Errorf("bearer: %+v, %v", id, err)
	}
	req.SetBasicAuth("ann", "correct horse")
	if id, err := a.Request(req); err != nil || id.Username != "ann" {
		t.Errorf("basic: %+v, %v", id, err)
	}
	ten, u, err := a.BootstrapRecords()
	if err != nil || ten.Name != "sys" || u.Username != "boot" || u.Role != structs.RoleAdmin || u.PasswordHash != "" {
		t.Errorf("BootstrapRecords = %+v, %+v, %v", ten, u, err)
	}
}

// flipLast changes the last character of a key, so the secret no longer matches.
func flipLast(key string) string {
	last := key[len(key)-1]
	if last == '0' {
		return key[:len(key)-1] + "1"
	}
	return key[:len(key)-1] + "0"
}

// TestBootstrapKeyFollowsTheRecord: the configured bootstrap key is the
// administrator's only until the record is stored; then disabling that
// user revokes the key, as it revokes every key of theirs.
func TestBootstrapKeyFollowsTheRecord(t *testing.T) {
	a, _ := fixture(t)
	const bootKey = "bootstrap-key-0123456789"
	if id, err := a.Key(bootKey); err != nil || !id.IsGlobalAdmin() {
		t.Fatalf("before the record is stored: %+v, %v", id, err)
	}
	store := a.store
	w := store.Write(2)
	if err := w.UpsertUser(&structs.User{Username: "boot", Tenant: "sys", Role: structs.RoleAdmin}, structs.CAS{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if id, err := a.Key(bootKey); err != nil || !id.IsGlobalAdmin() {
		t.Fatalf("with the record stored: %+v, %v", id, err)
	}
	w = store.Write(3)
	if err := w.UpsertUser(&structs.User{Username: "boot", Tenant: "sys", Role: structs.RoleAdmin, Disabled: true}, structs.CAS{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if id, err := a.Key(bootKey); !errors.Is(err, structs.ErrUnauthorized) {
		t.Fatalf("bootstrap key of a disabled administrator: %+v, %v; want unauthorized", id, err)
	}
}
