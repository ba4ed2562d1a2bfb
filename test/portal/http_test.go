package portal

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// httpSession replays a browser's session cookie from Go, without
// following redirects.
type httpSession struct {
	t      *testing.T
	cookie string
}

func (h *httpSession) do(method, url, body string) int {
	h.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.AddCookie(&http.Cookie{Name: "flotilla_session", Value: h.cookie})
	c := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func (h *httpSession) get(url string) int        { return h.do("GET", url, "") }
func (h *httpSession) post(url, form string) int { return h.do("POST", url, form) }

// waitCode polls url until it answers code, failing after d.
func (h *httpSession) waitCode(url string, code int, d time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(d)
	last := 0
	for time.Now().Before(deadline) {
		if last = h.get(url); last == code {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	h.t.Errorf("%s: %d, want %d within %v", url, last, code, d)
}

// forgery serves, from another origin, a page that posts a form to
// target as soon as it loads (a cross-site request forgery).
func forgery(t *testing.T, target string, fields map[string]string) string {
	var inputs strings.Builder
	for k, v := range fields {
		fmt.Fprintf(&inputs, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(v))
	}
	page := fmt.Sprintf(`<!doctype html><html><body><form id="f" method="post" action="%s">%s</form>
<script>document.getElementById("f").submit()</script></body></html>`, html.EscapeString(target), inputs.String())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, page)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
