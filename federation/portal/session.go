package portal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Cookie names.
const (
	sessionCookie = "flotilla_session"
	oidcCookie    = "flotilla_oidc"
	loginCookie   = "flotilla_login" // CSRF token of the login form
)

// session is the caller of one portal request.
type session struct {
	id   *authz.Identity
	key  string // the session key from the cookie
	csrf string
}

// csrfOf derives the CSRF token of a session key: only a page served to
// the cookie's holder can know it.
func csrfOf(key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte("flotilla portal csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// setCookie sets an HttpOnly, SameSite=Lax cookie for the portal's path,
// Secure unless configured otherwise; maxAge < 0 deletes it.
func (p *Portal) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Prefix + "/", MaxAge: maxAge,
		HttpOnly: true, Secure: !p.cfg.InsecureCookies, SameSite: http.SameSiteLaxMode})
}

// current authenticates the request's session cookie. A session this
// replica does not know yet (made on another replica a moment ago) makes
// the replica's view current once before it is refused.
func (p *Portal) current(r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, structs.Errorf(structs.ErrUnauthorized, "not logged in")
	}
	id, _, err := p.authn.Session(c.Value, p.hub.Now())
	if errors.Is(err, auth.ErrUnknownKey) {
		if cerr := p.hub.ConsistentRead(r.Context()); cerr == nil {
			id, _, err = p.authn.Session(c.Value, p.hub.Now())
		}
	}
	if err != nil {
		return nil, err
	}
	return &session{id: id, key: c.Value, csrf: csrfOf(c.Value)}, nil
}

// startSession stores a new session for username (pruning the user's
// expired ones) and sets its cookie.
func (p *Portal) startSession(ctx context.Context, w http.ResponseWriter, username string) error {
	now := p.hub.Now()
	key, stored := auth.NewSession(now, p.cfg.SessionTTL)
	err := p.editUser(ctx, username, func(u *structs.User) (bool, error) {
		u.APIKeys = slices.DeleteFunc(u.APIKeys, func(k structs.APIKeyHash) bool {
			return k.Session && !now.Before(k.Expires)
		})
		u.APIKeys = append(u.APIKeys, stored)
		return true, nil
	})
	if err != nil {
		return err
	}
	p.setCookie(w, sessionCookie, key, int(p.cfg.SessionTTL.Seconds()))
	return nil
}

// endSession removes the session from the user's record: every replica
// refuses it once the write is applied.
func (p *Portal) endSession(ctx context.Context, s *session) error {
	sid := auth.SessionID(s.key)
	return p.editUser(ctx, s.id.Username, func(u *structs.User) (bool, error) {
		n := len(u.APIKeys)
		u.APIKeys = slices.DeleteFunc(u.APIKeys, func(k structs.APIKeyHash) bool { return k.Session && k.ID == sid })
		return len(u.APIKeys) != n, nil
	})
}

// casAttempts bounds the read-modify-write retries of editUser.
const casAttempts = 8

// editUser changes a stored user by read-modify-write, conditional on the
// record not having changed since it was read (retried on conflict).
// edit returns false when there is nothing to change.
func (p *Portal) editUser(ctx context.Context, username string, edit func(*structs.User) (bool, error)) error {
	var err error
	for range casAttempts {
		if err = p.hub.ConsistentRead(ctx); err != nil {
			return err
		}
		u, rerr := p.hub.Store().Read().User(username)
		if rerr != nil {
			return rerr
		}
		u = u.Copy()
		if change, err := edit(u); err != nil || !change {
			return err
		}
		_, err = p.hub.Write(ctx, &fsm.UserUpsert{User: *u, CAS: structs.CASOf(&u.RaftIndex)})
		if !errors.Is(err, structs.ErrConflict) {
			return err
		}
	}
	return err
}

// checkCSRF refuses a state-changing request whose form token does not
// match the session's, or whose Origin is another site.
func checkCSRF(r *http.Request, want string) error {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			return structs.Errorf(structs.ErrForbidden, "cross-site request refused")
		}
	}
	got := r.PostFormValue("csrf")
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return structs.Errorf(structs.ErrForbidden, "missing or wrong CSRF token")
	}
	return nil
}
