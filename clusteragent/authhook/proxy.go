package authhook

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
)

// ProxyHandler serves the jobs' hosts: it finds the job from the Host
// header, checks the token and forwards the request (WebSocket upgrades
// included) to the job's backend, without Flotilla's token cookie or bearer
// header. A token in the QueryParam is checked, set as a cookie, and the
// browser redirected to the URL without it.
func (h *Hook) ProxyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		number, ok := h.jobFromHost(r.Host)
		if !ok {
			http.Error(w, "not a job host", http.StatusNotFound)
			return
		}
		if q := r.URL.Query(); q.Has(QueryParam) {
			h.login(w, r, number, q)
			return
		}
		if status := h.Check(r, number); status != http.StatusOK {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="flotilla job `+strconv.FormatUint(number, 10)+`"`)
			}
			http.Error(w, http.StatusText(status), status)
			return
		}
		target, err := h.backend(number)
		if err != nil {
			h.opts.Log.Warn("job backend", "job", number, "err", err)
			http.Error(w, "job not reachable", http.StatusBadGateway)
			return
		}
		proxy := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
				pr.Out.Host = pr.In.Host
				stripToken(pr.Out)
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				h.opts.Log.Warn("proxy to job", "job", number, "err", err)
				http.Error(w, "job not reachable", http.StatusBadGateway)
			},
		}
		proxy.ServeHTTP(w, r)
	})
}

// login turns a token in the query into a cookie.
func (h *Hook) login(w http.ResponseWriter, r *http.Request, number uint64, q url.Values) {
	tok := q.Get(QueryParam)
	if !h.valid(number, tok) {
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: tok, Path: "/", HttpOnly: true,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https", SameSite: http.SameSiteLaxMode,
	})
	q.Del(QueryParam)
	u := *r.URL
	u.RawQuery = q.Encode()
	if u.Path == "" {
		u.Path = "/"
	}
	http.Redirect(w, r, u.RequestURI(), http.StatusFound)
}

// stripToken removes Flotilla's credentials from a request to the app.
func stripToken(r *http.Request) {
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "Bearer ") {
		r.Header.Del("Authorization")
	}
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if c.Name != CookieName {
			r.AddCookie(c)
		}
	}
}

// backend returns where a job's requests go.
func (h *Hook) backend(number uint64) (*url.URL, error) {
	if h.opts.Backend != nil {
		return h.opts.Backend(number)
	}
	name := runtime.WebServiceName(number)
	o, ok, err := h.services.GetStore().GetByKey(h.opts.Namespace + "/" + name)
	if err != nil || !ok {
		return nil, fmt.Errorf("no web service %s", name)
	}
	svc := o.(*corev1.Service)
	if len(svc.Spec.Ports) == 0 || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return nil, fmt.Errorf("web service %s has no address", name)
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(svc.Spec.Ports[0].Port)))}, nil
}
