package api_test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"
)

// testRegistry is a real OCI registry (go-containerregistry's) on
// loopback, which the hub reads as any other registry. With a user it
// answers only that user's basic credentials (as a private registry).
type testRegistry struct {
	t          *testing.T
	host       string
	user, pass string
}

func newTestRegistry(t *testing.T, user, pass string) *testRegistry {
	t.Helper()
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); user != "" && (!ok || u != user || p != pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &testRegistry{t: t, host: strings.TrimPrefix(srv.URL, "http://"), user: user, pass: pass}
}

// push puts an image made of files (path → content) at repo ("team/app:1")
// and returns its reference and digest.
func (r *testRegistry) push(repo string, files map[string]string) (ref, digest string) {
	r.t.Helper()
	fm := make(map[string][]byte, len(files))
	for k, v := range files {
		fm[k] = []byte(v)
	}
	img, err := crane.Image(fm)
	if err != nil {
		r.t.Fatal(err)
	}
	ref = r.host + "/" + repo
	var opts []crane.Option
	if r.user != "" {
		opts = append(opts, crane.WithAuth(&authn.Basic{Username: r.user, Password: r.pass}))
	}
	if err := crane.Push(img, ref, opts...); err != nil {
		r.t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		r.t.Fatal(err)
	}
	return ref, d.String()
}

// appDefImage is an image's files carrying an AppDef named name.
func appDefImage(name string) map[string]string {
	return map[string]string{"etc/NAE/AppDef.json": `{"appdefversion": 2, "name": "` + name + `", "description": "pulled",
		"machines": ["n*"], "commands": {"Run": {"path": "/opt/run.sh", "name": "Run", "description": "run it",
		"parameters": {"np": {"name": "Ranks", "type": "CONST", "value": "%TCORES%", "positional": true, "required": true}}}}}`,
		"opt/run.sh": "#!/bin/sh\n"}
}
