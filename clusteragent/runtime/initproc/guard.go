package initproc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Names under which a browser or client presents an interactive job's
// token to its guard.
const (
	GuardCookie = "flotilla_token" // HttpOnly cookie set on the first visit
	GuardQuery  = "flotilla_token" // query parameter of the job's URL
)

// GuardConfig configures the token guard in front of an interactive job
// (flotilla-init guard), run as a sidecar of the job's head pod: the only
// port of the job the ingress controller may reach.
type GuardConfig struct {
	Listen  string // address to serve, e.g. ":2224"
	Backend string // the app, host:port (in the pod: 127.0.0.1:PORT)
	// TokenFile holds the job's token (the job Secret's token key).
	TokenFile string
	// SharesDir, if set, holds one file per share link the owner handed
	// out (a mounted Secret); each file's content is a token that also
	// opens the job. Removing the file revokes it, cookies included: it
	// is read on every check.
	//
	// A file holds a token, or (as the agent writes the links made through
	// the hub) "sha256:" and the hex SHA-256 of the token, optionally
	// followed by " expires=" and an RFC 3339 time after which it opens
	// nothing.
	SharesDir string
	Log       *slog.Logger
	// Now reads the clock for share links' expiry; nil refuses every link
	// that has one.
	Now func() time.Time
}

// Guard checks an interactive job's token and forwards what passes to the
// app. Without a token a request gets 401, with a wrong one 403. A token in
// the query (the job's URL) is exchanged for an HttpOnly cookie and the
// browser redirected to the same URL without it, so the token leaves the
// address bar and the history. The app never sees the token: the cookie
// and a bearer header are removed before forwarding.
type Guard struct {
	cfg   GuardConfig
	token string
	proxy *httputil.ReverseProxy
}

// NewGuard reads the job's token and returns the guard.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Backend == "" || cfg.TokenFile == "" {
		return nil, fmt.Errorf("%w: guard needs --backend and --token-file", ErrUsage)
	}
	b, err := os.ReadFile(cfg.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("%w: guard token: %w", ErrSetup, err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) < 16 {
		return nil, fmt.Errorf("%w: guard token in %s is missing or too short", ErrSetup, cfg.TokenFile)
	}
	target := &url.URL{Scheme: "http", Host: cfg.Backend}
	g := &Guard{cfg: cfg, token: token}
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
			stripToken(pr.Out)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			cfg.Log.Warn("guard: app not reachable", "err", err)
			http.Error(w, "the job's app is not reachable (yet)", http.StatusBadGateway)
		},
	}
	return g, nil
}

// ServeHTTP checks the request's token and forwards it to the app.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if q := r.URL.Query(); q.Has(GuardQuery) {
		g.login(w, r, q)
		return
	}
	got := presentedToken(r)
	switch {
	case got == "":
		w.Header().Set("WWW-Authenticate", `Bearer realm="flotilla job"`)
		http.Error(w, "this job wants its token: open the job's URL", http.StatusUnauthorized)
	case !g.valid(got):
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
	default:
		g.proxy.ServeHTTP(w, r)
	}
}

// login exchanges a token in the query for the cookie.
func (g *Guard) login(w http.ResponseWriter, r *http.Request, q url.Values) {
	tok := q.Get(GuardQuery)
	if !g.valid(tok) {
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: GuardCookie, Value: tok, Path: "/", HttpOnly: true,
		Secure:   r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
		SameSite: http.SameSiteLaxMode,
	})
	q.Del(GuardQuery)
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	if u.Path == "" {
		u.Path = "/"
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.RequestURI(), http.StatusFound)
}

// valid reports whether tok is the job's token or a live share's.
func (g *Guard) valid(tok string) bool {
	if tok == "" {
		return false
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(g.token)) == 1 {
		return true
	}
	if g.cfg.SharesDir == "" {
		return false
	}
	entries, err := os.ReadDir(g.cfg.SharesDir)
	if err != nil {
		return false
	}
	ok := false
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") { // the Secret volume's own bookkeeping
			continue
		}
		b, err := os.ReadFile(filepath.Join(g.cfg.SharesDir, e.Name()))
		if err == nil && g.shareOpens(tok, strings.TrimSpace(string(b))) {
			ok = true
		}
	}
	return ok
}

// shareOpens reports whether tok opens the job by share, a shares file's
// content: a token, or a token's hash with an optional expiry.
func (g *Guard) shareOpens(tok, share string) bool {
	hash, ok := strings.CutPrefix(share, shareHashPrefix)
	if !ok {
		return len(share) >= 16 && subtle.ConstantTimeCompare([]byte(tok), []byte(share)) == 1
	}
	hash, rest, _ := strings.Cut(hash, " ")
	if exp, has := strings.CutPrefix(strings.TrimSpace(rest), "expires="); has {
		t, err := time.Parse(time.RFC3339, exp)
		if err != nil || g.cfg.Now == nil || !g.cfg.Now().Before(t) {
			return false
		}
	} else if rest != "" {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	want, err := hex.DecodeString(hash)
	return err == nil && len(want) == len(sum) && subtle.ConstantTimeCompare(sum[:], want) == 1
}

// shareHashPrefix starts a shares file holding a token's hash
// (structs.ShareHashPrefix).
const shareHashPrefix = "sha256:"

// presentedToken is the token a request carries: bearer, else cookie.
func presentedToken(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if scheme, tok, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
	}
	if c, err := r.Cookie(GuardCookie); err == nil {
		return c.Value
	}
	return ""
}

// stripToken removes the guard's credentials from a request to the app.
func stripToken(r *http.Request) {
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "Bearer ") {
		r.Header.Del("Authorization")
	}
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if c.Name != GuardCookie {
			r.AddCookie(c)
		}
	}
}

// RunGuard serves the guard until ctx ends.
func RunGuard(ctx context.Context, cfg GuardConfig) error {
	g, err := NewGuard(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("%w: guard: %w", ErrSetup, err)
	}
	srv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(g.cfg.Log.Handler(), slog.LevelWarn),
	}
	g.cfg.Log.Info("guard serving", "addr", ln.Addr().String(), "app", cfg.Backend)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("guard: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return nil
	}
}
