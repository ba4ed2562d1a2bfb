package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestShareLinksReachTheGuard: share links made through the hub's API and
// the flotilla CLI reach a running interactive job's shares Secret on a
// real control plane, written by the agent as token hashes, owned by the
// job Secret; a token guard reading the Secret's files lets a link's
// token in and nothing else; a revoked link leaves the Secret (and the
// guard refuses it), and the Secret holds no token.
func TestShareLinksReachTheGuard(t *testing.T) {
	if testing.Short() {
		t.Skip("needs real control planes (FLOTILLA_BIN tools); skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	f, key := startLabFed(ctx, t, 1, map[string]structs.Command{
		"run": {Path: "/usr/bin/jupyter-lab", Name: "Lab", Interactive: true, Ports: []string{"8888/tcp"}},
	}, "")
	ann := f.clientFor(key.Key)
	lab := submit(ctx, t, ann, "lab", "cpu", 1)
	job := waitJob(ctx, t, ann, lab.ID, "running with its address", func(j *structs.Job) bool { return running(j) && j.ConnectURL != "" })

	// One link through the API, one through the CLI.
	viaAPI, err := ann.CreateShare(ctx, job.ID, &structs.ShareCreateRequest{Label: "for Carol", ExpiresIn: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := f.cli(ctx, key.Key, "share", "create", "--name", "bob", "-o", "json", job.Name)
	var viaCLI structs.ShareCreated
	if code != 0 || json.Unmarshal([]byte(out), &viaCLI) != nil || viaCLI.Token == "" {
		t.Fatalf("flotilla share create: exit %d, %s %s", code, out, errOut)
	}
	if code, out, _ := f.cli(ctx, key.Key, "share", "list", job.Name); code != 0 || !strings.Contains(out, "share-1") ||
		!strings.Contains(out, "for Carol") || !strings.Contains(out, "bob") || strings.Contains(out, viaCLI.Token) {
		t.Errorf("flotilla share list: exit %d\n%s", code, out)
	}

	core := f.envs["east"].Client.CoreV1()
	ns := podgroup.TenantNamespace(podgroup.DefaultNamespacePrefix, "acme")
	sharesOf := func() (*corev1.Secret, error) {
		return core.Secrets(ns).Get(ctx, runtime.ShareSecretName(job.Number), metav1.GetOptions{})
	}
	var sec *corev1.Secret
	waitFor(ctx, t, "both links in the shares Secret", func() bool {
		sec, err = sharesOf()
		return err == nil && len(sec.Data) == 2
	})
	if got := string(sec.Data["share-1"]); !strings.HasPrefix(got, structs.HashShareToken(viaAPI.Token)+" expires=") {
		t.Errorf("share-1 in the Secret: %q, want the token's hash and expiry", got)
	}
	if got := string(sec.Data["bob"]); got != structs.HashShareToken(viaCLI.Token) {
		t.Errorf("bob in the Secret: %q, want the token's hash", got)
	}
	jobSecret, err := core.Secrets(ns).Get(ctx, podgroup.JobName(job.Number), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if o := sec.OwnerReferences; len(o) != 1 || o[0].UID != jobSecret.UID {
		t.Errorf("shares Secret owners %+v, want the job Secret", o)
	}
	for _, v := range sec.Data {
		if strings.Contains(string(v), viaAPI.Token) || strings.Contains(string(v), viaCLI.Token) {
			t.Error("the shares Secret holds a token")
		}
	}

	// A guard reading the Secret as its volume shows it.
	opens := guardOver(t, sec)
	for tok, want := range map[string]bool{viaAPI.Token: true, viaCLI.Token: true, "fjs_guessed": false,
		strings.TrimPrefix(structs.HashShareToken(viaCLI.Token), "sha256:"): false} {
		if got := opens(tok); got != want {
			t.Errorf("guard lets %q in: %v, want %v", tok, got, want)
		}
	}

	// Revoked through the CLI: the link leaves the Secret.
	if code, out, errOut := f.cli(ctx, key.Key, "share", "revoke", job.Name, "bob"); code != 0 {
		t.Fatalf("flotilla share revoke: exit %d, %s %s", code, out, errOut)
	}
	waitFor(ctx, t, "bob gone from the shares Secret", func() bool {
		sec, err = sharesOf()
		_, has := sec.Data["bob"]
		return err == nil && !has && len(sec.Data) == 1
	})
	if opens := guardOver(t, sec); opens(viaCLI.Token) || !opens(viaAPI.Token) {
		t.Error("after the revocation the guard still lets the revoked link in, or no longer the other")
	}
	if _, err := ann.CancelJob(ctx, job.ID, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the shares Secret gone with the job", func() bool {
		_, err := sharesOf()
		return apierrors.IsNotFound(err)
	})
}

// guardOver returns whether a token guard whose shares directory holds
// sec's data, as a Secret volume does, lets a token in.
func guardOver(t *testing.T, sec *corev1.Secret) func(string) bool {
	t.Helper()
	dir := t.TempDir()
	shares := filepath.Join(dir, "shares")
	if err := os.MkdirAll(shares, 0o700); err != nil {
		t.Fatal(err)
	}
	for k, v := range sec.Data {
		if err := os.WriteFile(filepath.Join(shares, k), v, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(strings.Repeat("o", 64)), 0o600); err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "app") }))
	t.Cleanup(app.Close)
	g, err := initproc.NewGuard(initproc.GuardConfig{Backend: strings.TrimPrefix(app.URL, "http://"), TokenFile: tokenFile,
		SharesDir: shares, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	return func(tok string) bool {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(&http.Cookie{Name: initproc.GuardCookie, Value: tok})
		g.ServeHTTP(rec, req)
		return rec.Code == http.StatusOK
	}
}
