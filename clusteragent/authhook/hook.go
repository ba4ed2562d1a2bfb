// Package authhook guards interactive jobs with their per-job token: the
// token runtime.Render puts in the job Secret (runtime.TokenKey). It serves
// an ingress auth hook, GET /auth?job=N (ingress-nginx auth-url style: 200
// lets the request through, 401 asks for credentials, 403 refuses), and a
// reverse proxy mode that checks the token and forwards to the job's web
// Service. Tokens are looked up in an informer's cache of the job Secrets,
// so a check costs no API call, and a job's access ends when its Secret is
// deleted.
//
// A client presents the token as "Authorization: Bearer <token>" or in the
// cookie CookieName; in proxy mode a first visit may carry it in the query
// parameter QueryParam, which sets the cookie and redirects to the URL
// without it.
package authhook

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
)

// Names under which a client presents the token.
const (
	CookieName = "flotilla_token"
	QueryParam = "flotilla_token"
)

// Options configure a Hook.
type Options struct {
	Namespace string // the jobs' namespace
	// JobsDomain is runtime.Options.JobsDomain: a request for host
	// "<jobname>.<JobsDomain>" is for that job (podgroup.JobName).
	JobsDomain string
	// Backend returns where proxy mode forwards a job's requests; nil uses
	// the job's web Service (its cluster IP and first port).
	Backend func(number uint64) (*url.URL, error)
	Log     *slog.Logger
}

// Hook checks job tokens. Create it with New, then Start it.
type Hook struct {
	opts     Options
	factory  informers.SharedInformerFactory
	secrets  toolscache.SharedIndexInformer
	services toolscache.SharedIndexInformer
}

// New returns a Hook over the job Secrets and Services in opts.Namespace.
func New(client kubernetes.Interface, opts Options) *Hook {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(opts.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = podgroup.LabelManaged + "=true" }))
	return &Hook{opts: opts, factory: f, secrets: f.Core().V1().Secrets().Informer(), services: f.Core().V1().Services().Informer()}
}

// Start runs the informers until ctx ends and waits for their first sync.
func (h *Hook) Start(ctx context.Context) error {
	h.factory.Start(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), h.secrets.HasSynced, h.services.HasSynced) {
		return errors.New("authhook: informers did not sync")
	}
	return nil
}

// Check returns the HTTP status for a request to a job: 200 when it
// presents the job's token, 401 when it presents none, 403 when the token
// is wrong or the job has none (not interactive, not here, or ended).
func (h *Hook) Check(r *http.Request, number uint64) int {
	got := presented(r)
	if got == "" {
		return http.StatusUnauthorized
	}
	if !h.valid(number, got) {
		return http.StatusForbidden
	}
	return http.StatusOK
}

// valid reports whether token is the job's token.
func (h *Hook) valid(number uint64, token string) bool {
	want, ok := h.token(number)
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(token)) == 1
}

// token returns the job's token from the Secret cache.
func (h *Hook) token(number uint64) (string, bool) {
	o, ok, err := h.secrets.GetStore().GetByKey(h.opts.Namespace + "/" + podgroup.JobName(number))
	if err != nil || !ok {
		return "", false
	}
	s := o.(*corev1.Secret)
	if s.DeletionTimestamp != nil || s.Labels[podgroup.LabelJob] != strconv.FormatUint(number, 10) {
		return "", false
	}
	t := string(s.Data[runtime.TokenKey])
	return t, t != ""
}

// presented returns the token a request carries: bearer, else cookie.
func presented(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if scheme, tok, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value
	}
	return ""
}

// Handler serves GET /auth and proxies every other request.
func (h *Hook) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/auth", h.AuthHandler())
	mux.Handle("/", h.ProxyHandler())
	return mux
}

// AuthHandler serves the ingress auth hook: GET /auth?job=N. Without job,
// the job is read from the original request's host (X-Original-URL, else
// X-Forwarded-Host, else Host).
func (h *Hook) AuthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		number, ok := h.authJob(r)
		if !ok {
			http.Error(w, "which job? want ?job=N or a job host", http.StatusBadRequest)
			return
		}
		status := h.Check(r, number)
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="flotilla job `+strconv.FormatUint(number, 10)+`"`)
		}
		w.WriteHeader(status)
	})
}

// authJob finds the job an auth request is about.
func (h *Hook) authJob(r *http.Request) (uint64, bool) {
	if j := r.URL.Query().Get("job"); j != "" {
		n, err := strconv.ParseUint(j, 10, 64)
		return n, err == nil && n > 0
	}
	if o := r.Header.Get("X-Original-URL"); o != "" {
		if u, err := url.Parse(o); err == nil {
			return h.jobFromHost(u.Host)
		}
	}
	if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
		return h.jobFromHost(fh)
	}
	return h.jobFromHost(r.Host)
}

// jobFromHost parses "j<N>.<JobsDomain>[:port]".
func (h *Hook) jobFromHost(host string) (uint64, bool) {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	if h.opts.JobsDomain == "" {
		return 0, false
	}
	label, ok := strings.CutSuffix(strings.ToLower(host), "."+strings.ToLower(h.opts.JobsDomain))
	if !ok || !strings.HasPrefix(label, "j") {
		return 0, false
	}
	n, err := strconv.ParseUint(label[1:], 10, 64)
	if err != nil || n == 0 || podgroup.JobName(n) != label {
		return 0, false
	}
	return n, true
}
