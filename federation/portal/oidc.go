package portal

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// OIDCConfig configures single sign-on with an OpenID Connect provider.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL (discovery at
	// Issuer/.well-known/openid-configuration).
	Issuer       string `json:"issuer"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"-"` // from a file or the environment, never in a settings file or a log
	// RedirectURL is the portal's callback as the provider knows it:
	// https://<portal>/ui/oidc/callback.
	RedirectURL string `json:"redirect_url"`
	// Scopes beyond openid; default email, profile and groups.
	Scopes []string `json:"scopes,omitempty"`
	// DisplayName labels the sign-in button ("Sign in with <name>").
	DisplayName string `json:"display_name,omitempty"`
	// Rules map the ID token's claims to accounts (see ClaimRule).
	Rules []ClaimRule `json:"rules"`
}

func (c *OIDCConfig) validate() error {
	if c.Issuer == "" || c.ClientID == "" || c.RedirectURL == "" {
		return errors.New("portal: oidc: issuer, client_id and redirect_url are required")
	}
	for i := range c.Rules {
		if err := validateRule(&c.Rules[i]); err != nil {
			return err
		}
	}
	return nil
}

// oidcClient is a discovered provider.
type oidcClient struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// provider discovers the provider once (it may start after the hub).
func (p *Portal) provider(ctx context.Context) (*oidcClient, error) {
	p.oidcMu.Lock()
	defer p.oidcMu.Unlock()
	if p.oidc != nil {
		return p.oidc, nil
	}
	cfg := p.cfg.OIDC
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	prov, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, structs.Errorf(structs.ErrUnavailable, "identity provider unreachable: %v", err)
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{"email", "profile", "groups"}
	}
	p.oidc = &oidcClient{
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: prov.Endpoint(),
			RedirectURL: cfg.RedirectURL, Scopes: append([]string{oidc.ScopeOpenID}, scopes...)},
		verifier: prov.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: p.hub.Now}),
	}
	return p.oidc, nil
}

func randomToken() string { return rand.Text() }

// oidcStart sends the browser to the provider with a fresh state, nonce
// and PKCE verifier, kept in a short-lived cookie until the callback.
func (p *Portal) oidcStart(w http.ResponseWriter, r *http.Request) {
	if p.cfg.OIDC == nil {
		p.notFound(w, r)
		return
	}
	oc, err := p.provider(r.Context())
	if err != nil {
		p.loginPage(w, r, http.StatusServiceUnavailable, err.Error())
		return
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	p.setCookie(w, oidcCookie, state+"."+nonce+"."+verifier, 600)
	http.Redirect(w, r, oc.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// oidcCallback completes the login: the state must match the cookie's,
// the code is exchanged with the PKCE verifier, the ID token verified
// (issuer, audience, expiry, signature, nonce), its claims mapped by the
// rules to an account, which is created or brought up to date, and a
// session started.
func (p *Portal) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if p.cfg.OIDC == nil {
		p.notFound(w, r)
		return
	}
	fail := func(code int, msg string) {
		p.setCookie(w, oidcCookie, "", -1)
		p.loginPage(w, r, code, msg)
	}
	q := r.URL.Query()
	c, err := r.Cookie(oidcCookie)
	parts := []string{}
	if err == nil {
		parts = strings.Split(c.Value, ".")
	}
	if len(parts) != 3 || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(q.Get("state"))) != 1 {
		fail(http.StatusBadRequest, "The sign-in expired or was started elsewhere; please try again.")
		return
	}
	if e := q.Get("error"); e != "" {
		fail(http.StatusUnauthorized, "The identity provider refused the sign-in: "+e)
		return
	}
	oc, err := p.provider(r.Context())
	if err != nil {
		fail(http.StatusServiceUnavailable, err.Error())
		return
	}
	tok, err := oc.oauth.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(parts[2]))
	if err != nil {
		fail(http.StatusUnauthorized, "The sign-in code was refused by the identity provider.")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := oc.verifier.Verify(r.Context(), raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(parts[1])) != 1 {
		fail(http.StatusUnauthorized, "The identity provider's token could not be verified.")
		return
	}
	var claims Claims
	if err := idt.Claims(&claims); err != nil {
		fail(http.StatusUnauthorized, "The identity provider's token could not be read.")
		return
	}
	acct, err := MapClaims(p.claimRules(), claims)
	if err == nil {
		err = p.provision(r.Context(), acct)
	}
	if err == nil {
		err = p.startSession(r.Context(), w, acct.Username)
	}
	if err == nil {
		p.auditSession(r, acct.Username, acct.Tenant, "session.login", http.StatusOK, "")
	}
	if err != nil {
		p.log.Info("oidc login refused", "email", claims.Email, "error", err)
		fail(statusOf(err), "Sign-in refused: "+err.Error())
		return
	}
	p.setCookie(w, oidcCookie, "", -1)
	http.Redirect(w, r, Prefix+"/jobs", http.StatusFound)
}

// provision creates the account a token maps to, or brings the stored
// one's teams, role, groups and email in line with the rules. An existing
// account of another tenant is never moved.
func (p *Portal) provision(ctx context.Context, a *Account) error {
	if err := p.hub.ConsistentRead(ctx); err != nil {
		return err
	}
	if _, err := p.hub.Store().Read().User(a.Username); errors.Is(err, structs.ErrNotFound) {
		u := structs.User{Username: a.Username, Email: a.Email, Tenant: a.Tenant, Teams: a.Teams, Role: a.Role, Groups: a.Groups}
		_, err := p.hub.Write(ctx, &fsm.UserUpsert{User: u, CAS: structs.CAS{ExpectAbsent: true}})
		if !errors.Is(err, structs.ErrConflict) {
			return err
		}
	}
	return p.editUser(ctx, a.Username, func(u *structs.User) (bool, error) {
		if u.Tenant != a.Tenant {
			return false, structs.Errorf(structs.ErrForbidden, "account %s belongs to another tenant", a.Username)
		}
		same := u.Role == a.Role && u.Email == a.Email && slices.Equal(u.Teams, a.Teams) && slices.Equal(u.Groups, a.Groups)
		u.Role, u.Email, u.Teams, u.Groups = a.Role, a.Email, a.Teams, a.Groups
		return !same, nil
	})
}
