package portal

import (
	"bytes"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// routes registers every page.
func (p *Portal) routes() {
	static, _ := fs.Sub(staticFS, "static")
	p.mux.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/static/", http.FileServerFS(static)))
	p.mux.HandleFunc(Prefix+"/", p.notFound)
	p.mux.HandleFunc("GET "+Prefix+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/jobs", http.StatusFound)
	})
	p.mux.HandleFunc("GET "+Prefix+"/login", func(w http.ResponseWriter, r *http.Request) { p.loginPage(w, r, http.StatusOK, "") })
	p.mux.HandleFunc("POST "+Prefix+"/login", p.localLogin)
	p.mux.HandleFunc("GET "+Prefix+"/oidc/start", p.oidcStart)
	p.mux.HandleFunc("GET "+Prefix+"/oidc/callback", p.oidcCallback)
	p.page("POST /logout", p.logout)

	p.page("GET /catalog", p.catalog)
	p.page("GET /apps/{app}", p.appPage)
	p.page("GET /apps/{app}/icon", p.appIcon)
	p.page("GET /apps/{app}/submit", p.submitForm)
	p.page("POST /apps/{app}/submit", p.submitPost)

	p.page("GET /jobs", p.jobsPage)
	p.page("GET /jobs/rows", p.jobsRows)
	p.page("GET /jobs/events", p.jobsEvents)
	p.page("GET /jobs/{id}", p.jobPage)
	p.page("GET /jobs/{id}/status", p.jobStatus)
	p.page("GET /jobs/{id}/events", p.jobEvents)
	p.page("POST /jobs/{id}/cancel", p.jobCancel)
	p.page("POST /jobs/{id}/signal", p.jobSignal)
	p.page("POST /jobs/{id}/shares", p.jobShareCreate)
	p.page("POST /jobs/{id}/shares/{name}/revoke", p.jobShareRevoke)

	p.page("GET /keys", p.keysPage)
	p.page("POST /keys", p.keyCreate)
	p.page("POST /keys/{id}/revoke", p.keyRevoke)

	p.page("GET /admin", p.adminIndex)
	p.page("GET /admin/clusters", p.adminClusters)
	p.page("GET /admin/machinetypes", p.adminMachineTypes)
	p.page("GET /admin/burstrules", p.adminBurstRules)
	p.page("POST /admin/burstrules", p.adminBurstRuleSave)
	p.page("POST /admin/burstrules/dryrun", p.adminBurstDryRun)
	p.page("GET /admin/limits", p.adminLimits)
	p.page("GET /admin/tenancy", p.adminTenancy)
	p.page("GET /admin/access", p.adminAccess)
	p.page("GET /admin/audit", p.adminAudit)
	p.page("GET /admin/claimrules", p.adminClaimRules)
	p.page("POST /admin/claimrules", p.adminClaimRuleSave)
	p.page("POST /admin/claimrules/{name}/delete", p.adminClaimRuleDelete)
	p.page("GET /accounting", p.accountingPage)
	p.page("GET /accounting.csv", p.accountingCSV)
}

// pageHandler serves one page for a logged-in caller.
type pageHandler func(w http.ResponseWriter, r *http.Request, s *session) error

// page registers h behind the session check; state-changing methods also
// need the session's CSRF token. Without a session a page redirects to
// the login (and an XHR or event stream gets 401).
func (p *Portal) page(pattern string, h pageHandler) {
	method, route, _ := strings.Cut(pattern, " ")
	p.mux.HandleFunc(method+" "+Prefix+route, func(w http.ResponseWriter, r *http.Request) {
		s, err := p.current(r)
		if err != nil {
			if method == http.MethodGet && r.Header.Get("Accept") != "text/event-stream" && r.Header.Get("X-Requested-With") == "" {
				http.Redirect(w, r, Prefix+"/login?next="+pathEscapeNext(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			p.errorPage(w, r, nil, err)
			return
		}
		if method != http.MethodGet && method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := checkCSRF(r, s.csrf); err != nil {
				p.errorPage(w, r, s, err)
				return
			}
		}
		if err := h(w, r.WithContext(withSource(r.Context(), r)), s); err != nil {
			p.errorPage(w, r, s, err)
		}
	})
}

// pathEscapeNext keeps only a local path for the post-login redirect.
func pathEscapeNext(u string) string {
	if !strings.HasPrefix(u, Prefix+"/") {
		return ""
	}
	return strings.NewReplacer("&", "%26", "#", "%23", "?", "%3F").Replace(u)
}

// statusOf maps an error kind to the page's status code. Forbidden
// objects are reported as not found by the handlers that read them.
func statusOf(err error) int {
	switch {
	case errors.Is(err, structs.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, structs.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, structs.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, structs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, structs.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, structs.ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, structs.ErrUnavailable), errors.Is(err, structs.ErrNotLeader):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// hidden turns "forbidden" into "not found": a caller learns nothing
// about objects of other tenants, not even that they exist.
func hidden(err error, what string) error {
	if errors.Is(err, structs.ErrForbidden) || errors.Is(err, structs.ErrNotFound) {
		return structs.Errorf(structs.ErrNotFound, "%s not found", what)
	}
	return err
}

// view is what every template gets.
type view struct {
	Title string
	Nav   string
	User  *authz.Identity
	CSRF  string
	Error string
	Flash string
	Now   time.Time
	Data  any
}

func (p *Portal) render(w http.ResponseWriter, code int, name string, v *view) error {
	t, ok := p.tmpl[name]
	if !ok {
		return errors.New("portal: no template " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// newView starts a page's view for s.
func (p *Portal) newView(s *session, title, nav string, data any) *view {
	v := &view{Title: title, Nav: nav, Now: p.hub.Now(), Data: data}
	if s != nil {
		v.User, v.CSRF = s.id, s.csrf
	}
	return v
}

func (p *Portal) errorPage(w http.ResponseWriter, r *http.Request, s *session, err error) {
	code := statusOf(err)
	msg := err.Error()
	if code == http.StatusInternalServerError {
		p.log.Error("portal: internal error", "method", r.Method, "path", r.URL.Path, "error", err)
		msg = "internal error"
	}
	if r.Header.Get("Accept") == "text/event-stream" || r.Header.Get("X-Requested-With") != "" {
		http.Error(w, msg, code)
		return
	}
	v := p.newView(s, http.StatusText(code), "", nil)
	v.Error = msg
	if rerr := p.render(w, code, "error.html", v); rerr != nil {
		http.Error(w, msg, code)
	}
}

func (p *Portal) notFound(w http.ResponseWriter, r *http.Request) {
	s, _ := p.current(r)
	p.errorPage(w, r, s, structs.Errorf(structs.ErrNotFound, "%s: no such page", path.Clean(r.URL.Path)))
}

// loginPage shows the login form with a fresh login CSRF token (a
// double-submit cookie: a cross-site form cannot read or set it).
func (p *Portal) loginPage(w http.ResponseWriter, r *http.Request, code int, msg string) {
	tok := randomToken()
	p.setCookie(w, loginCookie, tok, 600)
	v := p.newView(nil, "Sign in", "login", map[string]any{
		"OIDC": p.cfg.OIDC != nil, "OIDCName": p.oidcName(), "Next": pathEscapeNext(r.URL.Query().Get("next"))})
	v.CSRF, v.Error = tok, msg
	if err := p.render(w, code, "login.html", v); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func (p *Portal) oidcName() string {
	if p.cfg.OIDC == nil || p.cfg.OIDC.DisplayName == "" {
		return "single sign-on"
	}
	return p.cfg.OIDC.DisplayName
}

// localLogin checks a local account's password and starts a session.
func (p *Portal) localLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	c, err := r.Cookie(loginCookie)
	if err != nil || checkCSRF(r, c.Value) != nil {
		p.loginPage(w, r, http.StatusForbidden, "The sign-in form expired; please try again.")
		return
	}
	addr := addrOf(r)
	if !p.throttle.allowed(addr, p.hub.Now()) {
		p.loginPage(w, r, http.StatusTooManyRequests, "Too many failed sign-ins from your address; wait a minute.")
		return
	}
	user := r.PostFormValue("username")
	if _, err := p.hub.Store().Read().User(user); errors.Is(err, structs.ErrNotFound) {
		// The account may be newer than this replica's view.
		_ = p.hub.ConsistentRead(r.Context())
	}
	id, err := p.authn.Password(user, r.PostFormValue("password"))
	if err == nil && !id.IsUser() {
		err = structs.Errorf(structs.ErrUnauthorized, "not a user")
	}
	if err == nil {
		err = p.startSession(r.Context(), w, id.Username)
	}
	if err == nil {
		p.auditSession(r, id.Username, id.Tenant, "session.login", http.StatusOK, "")
	} else if tenant := p.tenantOf(user); tenant != "" {
		// A failed sign-in to an account that exists (throttled by
		// address above, so it cannot flood the trail).
		p.auditSession(r, user, tenant, "session.login", statusOf(err), "invalid username or password")
	}
	if err != nil {
		p.throttle.failed(addr, p.hub.Now())
		p.loginPage(w, r, statusOf(err), "Sign-in failed: invalid username or password.")
		return
	}
	p.setCookie(w, loginCookie, "", -1)
	next := pathEscapeNext(r.PostFormValue("next"))
	if next == "" {
		next = Prefix + "/jobs"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session on every replica and clears the cookie.
func (p *Portal) logout(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := p.endSession(r.Context(), s); err != nil {
		return err
	}
	p.auditSession(r, s.id.Username, s.id.Tenant, "session.logout", http.StatusOK, "")
	p.setCookie(w, sessionCookie, "", -1)
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
	return nil
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"when":  when,
	"join":  strings.Join,
	"lower": strings.ToLower,
	"add": func(n ...int) int {
		s := 0
		for _, v := range n {
			s += v
		}
		return s
	},
}

// when shows a time, "—" when unset.
func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// parseTemplates parses every page with the shared layout.
func parseTemplates() (map[string]*template.Template, error) {
	pages, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, pg := range pages {
		name := path.Base(pg)
		if name == "layout.html" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", pg)
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}
