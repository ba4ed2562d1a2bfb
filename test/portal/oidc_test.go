package portal

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestPortalOIDCLogin: signing in through a real Dex (authorization code
// with PKCE) creates the account the claim rules say — tenant physics,
// role user — and a second sign-in reuses it; a Dex user no rule admits
// is refused with the reason, and no account is made.
func TestPortalOIDCLogin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startSite(t, 1, true)
	if _, err := s.admin.PutTenant(ctx, &structs.Tenant{Name: "physics"}); err != nil {
		t.Fatal(err)
	}
	base := s.hubs.URL(0)
	b := newBrowser(t)
	loginDex(t, b, base, ssoEmail, "#jobs-table")
	if who := text(t, b, ".who span"); who != ssoEmail+" · physics" {
		t.Errorf("signed in as %q", who)
	}
	shot(t, b, "01-signed-in")
	u, err := s.admin.GetUser(ctx, ssoEmail)
	if err != nil || u.Tenant != "physics" || u.Role != structs.RoleUser || u.HasPassword {
		t.Fatalf("account made by the claim rule: %+v %v", u, err)
	}
	run(t, b, "sign out", chromedpClick("#logout"), chromedpWait("#login-submit"))
	loginDex(t, b, base, ssoEmail, "#jobs-table")
	if u2, err := s.admin.GetUser(ctx, ssoEmail); err != nil || u2.CreateIndex != u.CreateIndex {
		t.Errorf("second sign-in: %+v %v, want the same account", u2, err)
	}

	e := newBrowser(t)
	loginDex(t, e, base, strangerEmail, "#page-error")
	if msg := text(t, e, "#page-error"); !strings.Contains(msg, "no login rule admits "+strangerEmail) {
		t.Errorf("stranger's sign-in: %q", msg)
	}
	shot(t, e, "02-refused")
	if _, err := s.admin.GetUser(ctx, strangerEmail); err == nil {
		t.Error("an account was made for a token no rule admits")
	}
}
