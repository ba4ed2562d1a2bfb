package cli

import (
	"context"
	"encoding/base64"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestAppValidate checks AppDef files offline with the hub's validator:
// a valid one exits 0; an invalid one exits with the usage code and lists
// every error with its JSON path.
func TestAppValidate(t *testing.T) {
	good := writeFile(t, "AppDef.json", appDefJSON)
	runCLI(t, nil, "app", "validate", good).check(t, ExitOK, "AppDef.json: valid")
	bad := writeFile(t, "bad.json", `{"name":"x","vault-types":["TAPE"],"extra":1,
		"commands":{"Run":{"path":"","parameters":{"n":{"type":"INT","min":5,"max":1}}}}}`)
	runCLI(t, nil, "app", "validate", bad).check(t, ExitUsage,
		`$["vault-types"][0]: unknown vault type "TAPE"`,
		`$.commands.Run.path: required`,
		`$.commands.Run.parameters.n: min 5 is greater than max 1`,
		`warning: $.extra: unknown field, kept unchanged`,
		"3 errors")
	runCLI(t, nil, "app", "validate").check(t, ExitUsage)
}

// TestAppSyncAndRegister: `app sync DIR` registers a directory's AppDefs
// (a bad one refused with its reason), a second run changes nothing, a
// removed file removes its app; `app register IMAGE` reads the AppDef
// out of an image in a real registry on loopback.
func TestAppSyncAndRegister(t *testing.T) {
	hubs, url := testHub(t)
	admin := map[string]string{EnvAPIKey: hubs.AdminKey}
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("mini.json", appDefJSON)
	write("other.json", strings.Replace(appDefJSON, "Mini Solver", "Other", 1))
	write("broken.json", `{"name":"b","commands":{}}`)
	runCLI(t, admin, "--hub", url, "app", "sync", dir).check(t, ExitOK,
		"added mini", "added other", "refused broken: ", "$.commands: at least one command is required")
	runCLI(t, admin, "--hub", url, "app", "sync", "dir:"+dir).check(t, ExitOK, "unchanged mini", "unchanged other")
	if err := os.Remove(filepath.Join(dir, "other.json")); err != nil {
		t.Fatal(err)
	}
	runCLI(t, admin, "--hub", url, "app", "sync", dir).check(t, ExitOK, "removed other", "unchanged mini")
	runCLI(t, admin, "--hub", url, "app", "sync", filepath.Join(dir, "nope")).check(t, ExitUsage, "not a directory")

	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	ref := strings.TrimPrefix(reg.URL, "http://") + "/team/imaged:3"
	img, err := crane.Image(map[string][]byte{"etc/NAE/AppDef.json": []byte(appDefJSON)})
	if err != nil {
		t.Fatal(err)
	}
	if err := crane.Push(img, ref); err != nil {
		t.Fatal(err)
	}
	runCLI(t, admin, "--hub", url, "app", "register", ref).check(t, ExitOK, "app imaged applied")
	cl, err := client.New([]string{url}, hubs.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := cl.GetApp(context.Background(), "imaged"); err != nil || a.Image != ref || a.Origin != "image:"+ref || a.AppDef.Name != "Mini Solver" {
		t.Errorf("registered from the image: %+v %v", a, err)
	}
	runCLI(t, admin, "--hub", url, "app", "register", strings.TrimPrefix(reg.URL, "http://")+"/team/none:1").check(t, ExitError, "NAME_UNKNOWN")
}

// TestAppRegisterPullSecret: `app register IMAGE -pull-secret-file F`
// reads the AppDef from a registry that requires credentials with the
// docker config in F and registers the app with it as its pull
// credential (stored by the hub, shown only as its registry); without
// it the registry refuses; a file that is no docker config is a usage
// error and sends nothing.
func TestAppRegisterPullSecret(t *testing.T) {
	hubs, url := testHub(t)
	admin := map[string]string{EnvAPIKey: hubs.AdminKey}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "robot" || p != "pull-pass" {
			w.Header().Set("WWW-Authenticate", `Basic realm="cli"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	defer reg.Close()
	host := strings.TrimPrefix(reg.URL, "http://")
	ref := host + "/team/private:1"
	img, err := crane.Image(map[string][]byte{"etc/NAE/AppDef.json": []byte(appDefJSON)})
	if err != nil {
		t.Fatal(err)
	}
	if err := crane.Push(img, ref, crane.WithAuth(&authn.Basic{Username: "robot", Password: "pull-pass"})); err != nil {
		t.Fatal(err)
	}
	cred := `{"auths":{"` + host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("robot:pull-pass")) + `"}}}`
	good, bad := writeFile(t, "config.json", cred), writeFile(t, "bad.json", `{"auths":{}}`)
	runCLI(t, admin, "--hub", url, "app", "register", ref).check(t, ExitError)
	runCLI(t, admin, "--hub", url, "app", "register", ref, "-pull-secret-file", bad).check(t, ExitUsage, "names none")
	runCLI(t, admin, "--hub", url, "app", "register", ref, "-pull-secret-file", good).check(t, ExitOK, "app private applied")
	if a, err := hubs.Hub(0).Store().Read().App("private"); err != nil || a.PullSecret != cred {
		t.Errorf("stored app: %+v %v", a, err)
	}
	cl, err := client.New([]string{url}, hubs.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := cl.GetApp(context.Background(), "private"); err != nil || a.PullSecret != "" || len(a.PullSecretRegistries) != 1 || a.PullSecretRegistries[0] != host {
		t.Errorf("app as read: %+v %v", a, err)
	}
}

// TestAppPullSecretCommand: `app pull-secret APP -file F` sets and
// rotates an app's pull credential and `-remove` removes it, without
// registering the image again: the stored app keeps its image and
// AppDef, the output names the registries only (never the credential),
// removing twice is fine, an unknown app exits ExitNotFound and a
// user who may not write the app ExitDenied, with nothing changed.
func TestAppPullSecretCommand(t *testing.T) {
	hubs, url := testHub(t)
	admin := map[string]string{EnvAPIKey: hubs.AdminKey}
	cl, err := client.New([]string{url}, hubs.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var def structs.AppDef
	if err := def.UnmarshalJSON([]byte(appDefJSON)); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutApp(ctx, &structs.App{Name: "private", Visibility: structs.VisibilityPublic, Image: "reg.example/private:1", AppDef: def}); err != nil {
		t.Fatal(err)
	}
	stored := func() *structs.App {
		a, err := hubs.Hub(0).Store().Read().App("private")
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	auth := base64.StdEncoding.EncodeToString([]byte("robot:pull-pass-4417"))
	cred := `{"auths":{"reg.example":{"auth":"` + auth + `"}}}`
	rotated := `{"auths":{"reg.example":{"username":"robot","password":"rotated-pass-9921"}}}`
	for _, c := range []struct {
		args       []string
		code       int
		says, want string
	}{
		{[]string{"-file", writeFile(t, "config.json", cred)}, ExitOK, "app private: pull credential for reg.example", cred},
		{[]string{"--file", writeFile(t, "rotated.json", rotated)}, ExitOK, "app private: pull credential for reg.example", rotated},
		{[]string{"--remove"}, ExitOK, "app private: no pull credential", ""},
		{[]string{"--remove"}, ExitOK, "app private: no pull credential", ""},
		{[]string{"-file", writeFile(t, "again.json", cred)}, ExitOK, "app private: pull credential for reg.example", cred},
	} {
		r := runCLI(t, admin, append([]string{"--hub", url, "app", "pull-secret", "private"}, c.args...)...)
		r.check(t, c.code, c.says)
		for _, secret := range []string{auth, "pull-pass-4417", "rotated-pass-9921"} {
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("app pull-secret %v prints the credential", c.args)
			}
		}
		if a := stored(); a.PullSecret != c.want || a.Image != "reg.example/private:1" || a.AppDef.Name != def.Name {
			t.Errorf("after app pull-secret %v: %+v", c.args, a)
		}
	}
	runCLI(t, admin, "--hub", url, "-o", "json", "app", "pull-secret", "private", "--remove").check(t, ExitOK, `"name": "private"`)
	runCLI(t, admin, "--hub", url, "app", "pull-secret", "nope", "--remove").check(t, ExitNotFound, "nope")
	if _, err := cl.PutTenant(ctx, &structs.Tenant{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutUser(ctx, "bob", &structs.UserSpec{Tenant: "acme", Role: structs.RoleUser}); err != nil {
		t.Fatal(err)
	}
	k, err := cl.CreateAPIKey(ctx, "bob", "cli")
	if err != nil {
		t.Fatal(err)
	}
	before := stored().ModifyIndex
	runCLI(t, map[string]string{EnvAPIKey: k.Key}, "--hub", url, "app", "pull-secret", "private", "--file", writeFile(t, "bob.json", cred)).check(t, ExitDenied)
	if a := stored(); a.ModifyIndex != before || a.PullSecret != "" {
		t.Errorf("bob changed the app: %+v", a)
	}
}
