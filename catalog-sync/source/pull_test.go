package source

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestReadPull reads what a PushToCompute pull takes from a real
// registry on loopback, case by what the image is: the reference comes
// back pinned to the digest it names, with the AppDef of that image
// (its file, else its label, else none); a multi-platform index without
// linux/amd64 gives its first platform's AppDef; a reference that names
// a digest already is kept.
func TestReadPull(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	const doc = `{"name": "x", "commands": {"Run": {"path": "/run"}}}`
	push := func(repo string, files map[string]string, label string) (string, v1.Image) {
		fm := map[string][]byte{}
		for k, v := range files {
			fm[k] = []byte(v)
		}
		img, err := crane.Image(fm)
		if err != nil {
			t.Fatal(err)
		}
		if label != "" {
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			cf = cf.DeepCopy()
			cf.Config.Labels = map[string]string{LabelAppDef: label}
			if img, err = mutate.ConfigFile(img, cf); err != nil {
				t.Fatal(err)
			}
		}
		if err := crane.Push(img, host+"/"+repo); err != nil {
			t.Fatal(err)
		}
		return host + "/" + repo, img
	}
	digest := func(img interface{ Digest() (v1.Hash, error) }) string {
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	fileRef, fileImg := push("a/file:1", map[string]string{AppDefPath: doc}, "")
	labelRef, labelImg := push("a/label:1", map[string]string{"opt/x": "x"}, `{"name": "label"}`)
	noneRef, noneImg := push("a/none:1", map[string]string{"opt/x": "x"}, "")
	_, armImg := push("a/arm:img", map[string]string{AppDefPath: `{"name": "arm"}`}, "")
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: armImg,
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	idxRef := host + "/a/multi:1"
	r, err := name.ParseReference(idxRef)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	byDigest := host + "/a/file@" + digest(fileImg)

	for name, c := range map[string]struct {
		ref, wantRef, wantDoc string
	}{
		"AppDef file":          {fileRef, fileRef + "@" + digest(fileImg), doc},
		"AppDef label":         {labelRef, labelRef + "@" + digest(labelImg), `{"name": "label"}`},
		"no AppDef":            {noneRef, noneRef + "@" + digest(noneImg), ""},
		"index without amd64":  {idxRef, idxRef + "@" + digest(idx), `{"name": "arm"}`},
		"reference by digest":  {byDigest, byDigest, doc},
		"tag and digest given": {fileRef + "@" + digest(fileImg), fileRef + "@" + digest(fileImg), doc},
	} {
		got, err := ReadPull(context.Background(), c.ref)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got.Ref != c.wantRef || string(got.AppDef) != c.wantDoc || !strings.HasSuffix(got.Ref, got.Digest) {
			t.Errorf("%s: %+v (AppDef %q), want %s with %q", name, got, got.AppDef, c.wantRef, c.wantDoc)
		}
	}
}

// TestReadPullErrors: a registry's refusal is a PullError with its status
// and error codes only — never the body it answered (a hub reading a
// user-named host must not relay what that host says) — and Refused; a
// host that does not answer is not Refused.
func TestReadPullErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Error(w, "internal page: db password hunter2 at 10.1.2.3", http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	_, err := ReadPull(context.Background(), host+"/x/y:1")
	var pe *PullError
	if !errors.As(err, &pe) || !pe.Refused || !strings.Contains(err.Error(), "the registry answered 404") ||
		strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "10.1.2.3") {
		t.Errorf("404 with a body: %v (%+v): want a refusal naming the status only", err, pe)
	}
	srv.Close()
	_, err = ReadPull(context.Background(), host+"/x/y:1")
	if !errors.As(err, &pe) || pe.Refused || !strings.Contains(err.Error(), "could not be read") {
		t.Errorf("no registry: %v, want a PullError, not refused", err)
	}
	if _, err := ReadPull(context.Background(), "x/Y::1"); !errors.As(err, &pe) || !pe.Refused {
		t.Errorf("bad reference: %v, want a refused PullError", err)
	}
}
