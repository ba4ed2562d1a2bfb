package portal

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/state"
)

// Prefix is the path the portal is served under.
const Prefix = "/ui"

// Hub is what the portal needs of its replica directly.
type Hub interface {
	// Store is the replica's local state.
	Store() *state.Store
	// Write logs cmd through raft (forwarded to the leader).
	Write(ctx context.Context, cmd fsm.Command) (any, error)
	// ConsistentRead makes the next local read linearizable.
	ConsistentRead(ctx context.Context) error
	// Now is the hub's clock.
	Now() time.Time
}

// API serves a request as an already authenticated caller
// (api.Server.ServeAs).
type API interface {
	ServeAs(w http.ResponseWriter, r *http.Request, id *authz.Identity)
}

// Config configures a Portal.
type Config struct {
	Hub  Hub
	API  API
	Auth *auth.Authenticator
	// OIDC, if set, offers single sign-on; local accounts always work.
	OIDC *OIDCConfig
	// SessionTTL bounds a session's life; 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	// InsecureCookies drops the Secure attribute, for a hub serving plain
	// HTTP (development on loopback only; browsers treat localhost as
	// secure anyway).
	InsecureCookies bool
	// Logger receives the portal's logs; nil discards them.
	Logger *slog.Logger
}

// DefaultSessionTTL is how long a session lasts unless configured.
const DefaultSessionTTL = 12 * time.Hour

// Portal serves the web portal. It is safe for concurrent use.
type Portal struct {
	cfg   Config
	hub   Hub
	authn *auth.Authenticator
	api   *client.Client
	log   *slog.Logger
	tmpl  map[string]*template.Template
	mux   *http.ServeMux
	// wall is the real clock, for network deadlines (the hub's clock may
	// be a test's).
	wall     func() time.Time
	oidcMu   sync.Mutex
	oidc     *oidcClient // discovered on first use
	history  *history
	throttle loginThrottle
	// stopped ends the event streams (Stop), so that a graceful shutdown
	// of the server is not held up by them.
	stopped  context.Context
	stopOnce context.CancelFunc
}

// Stop ends every open event stream; call it when the server shuts down.
func (p *Portal) Stop() { p.stopOnce() }

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns the portal.
func New(cfg Config) (*Portal, error) {
	if cfg.Hub == nil || cfg.API == nil || cfg.Auth == nil {
		return nil, errors.New("portal: Hub, API and Auth are required")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	p := &Portal{cfg: cfg, hub: cfg.Hub, authn: cfg.Auth, log: cfg.Logger, mux: http.NewServeMux(), history: newHistory(), wall: time.Now}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.stopped, p.stopOnce = context.WithCancel(context.Background())
	if cfg.OIDC != nil {
		if err := cfg.OIDC.validate(); err != nil {
			return nil, err
		}
	}
	c, err := client.New([]string{"http://portal.invalid"}, "",
		client.WithHTTPClient(&http.Client{Transport: inProcess{cfg.API}}),
		client.WithRetryTimeout(30*time.Second))
	if err != nil {
		return nil, err
	}
	p.api = c
	if p.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	p.routes()
	return p, nil
}

// Wrap returns a handler serving the portal under Prefix, redirecting
// GET / to it, and everything else to next (the API).
func (p *Portal) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			http.Redirect(w, r, Prefix+"/", http.StatusFound)
		case r.URL.Path == Prefix || strings.HasPrefix(r.URL.Path, Prefix+"/"):
			p.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// ServeHTTP serves the portal's own paths.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self' https: http:")
	p.mux.ServeHTTP(w, r)
}

// idKey carries the caller's identity to the in-process API transport.
type idKey struct{}

func withIdentity(ctx context.Context, id *authz.Identity) context.Context {
	return context.WithValue(ctx, idKey{}, id)
}

// inProcess hands the typed client's requests to the API as the identity
// their context carries; without one the API sees an anonymous request.
type inProcess struct{ api API }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	id, _ := r.Context().Value(idKey{}).(*authz.Identity)
	if id == nil {
		return nil, errors.New("portal: no identity for an API call")
	}
	if src, ok := r.Context().Value(srcKey{}).(string); ok {
		r.RemoteAddr = src // the browser's, for the audit trail
	}
	return client.HandlerTransport(func(w http.ResponseWriter, r *http.Request) { t.api.ServeAs(w, r, id) }).RoundTrip(r)
}
