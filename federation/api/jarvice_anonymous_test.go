package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestJarviceAppsAnonymous: /jarvice/apps without username and apikey
// lists the public apps only, as the reference does for an anonymous
// caller, in every request form: not an app an access rule restricts,
// nor a tenant, team or private app (not even by name: 404, as unknown),
// and no app's image or pull credential. A username without its key, a
// key without its username or a wrong key is still 401, and every other
// endpoint still wants credentials. Nothing changes.
func TestJarviceAppsAnonymous(t *testing.T) {
	e := newAgentEnv(t)
	ctx := e.ctx()
	alice := e.keys["alice"]
	def := func(name string, version int) structs.AppDef {
		return structs.AppDef{Name: name, AppDefVersion: version, Description: name + " app",
			Commands: map[string]structs.Command{"Run": {Path: "/run"}}}
	}
	const secretHost, cred = "registry.internal.example", `{"auths":{"registry.internal.example":{"auth":"cm9ib3Q6czNjcjN0"}}}`
	for _, a := range []*structs.App{
		{Name: "pubimg", Visibility: structs.VisibilityPublic, Image: secretHost + "/hpc/pubimg:1", PullSecret: cred, AppDef: def("Pubimg", 2)},
		{Name: "restricted", Visibility: structs.VisibilityPublic, Image: secretHost + "/itar/restricted:1", AppDef: def("Restricted", 2)},
		{Name: "tapp", Visibility: structs.VisibilityTenant, Tenant: "ta", Image: secretHost + "/ta/tapp:1", AppDef: def("Tapp", 1)},
	} {
		e.must(e.admin.PutApp(ctx, a))
	}
	e.must(e.alice.PutApp(ctx, &structs.App{Name: "mine", Visibility: structs.VisibilityPrivate, Image: secretHost + "/alice/mine:1",
		AppDef: def("Mine", 1)}))
	e.must(e.admin.PutAccessRule(ctx, &structs.AccessRule{Name: "itar", Object: structs.AccessObjectApp, Match: "restrict*",
		Groups: []string{"cleared"}}))
	before := e.index()

	list := func(form string, args url.Values) (int, map[string]structs.JarviceApp, []byte) {
		t.Helper()
		code, ct, body := e.jarviceCall(form, "apps", args)
		var out map[string]structs.JarviceApp
		if code == http.StatusOK {
			if ct != "application/json" || json.Unmarshal(body, &out) != nil {
				t.Fatalf("%s: %s %s", form, ct, body)
			}
		}
		return code, out, body
	}
	names := func(m map[string]structs.JarviceApp) []string {
		var n []string
		for k := range m {
			n = append(n, k)
		}
		slices.Sort(n)
		return n
	}
	for _, form := range []string{"get", "form", "json"} {
		for name, c := range map[string]struct {
			args url.Values
			want []string
		}{
			"all public":   {url.Values{}, []string{"pub", "pubimg"}},
			"all=true":     {url.Values{"all": {"true"}}, []string{"pub", "pubimg"}},
			"by name":      {url.Values{"name": {"pubimg"}}, []string{"pubimg"}},
			"version 2":    {url.Values{"version": {"2"}}, []string{"pubimg"}},
			"tenant's app": {url.Values{"name": {"tapp"}}, nil},
			"private app":  {url.Values{"name": {"mine"}}, nil},
			"restricted":   {url.Values{"name": {"restricted"}}, nil},
			"unknown app":  {url.Values{"name": {"nope"}}, nil},
			"bad version":  {url.Values{"version": {"two"}}, nil},
			"empty creds":  {url.Values{"username": {""}, "apikey": {""}}, []string{"pub", "pubimg"}},
		} {
			code, got, body := list(form, c.args)
			switch {
			case name == "bad version":
				if code != http.StatusBadRequest {
					t.Errorf("%s/%s: %d %s, want 400", form, name, code, body)
				}
			case c.want == nil:
				if code != http.StatusNotFound || !strings.Contains(string(body), `"error"`) {
					t.Errorf("%s/%s: %d %s, want 404 as for an unknown app", form, name, code, body)
				}
			case code != http.StatusOK || !slices.Equal(names(got), c.want):
				t.Errorf("%s/%s: %d %v, want %v", form, name, code, names(got), c.want)
			}
			for _, leak := range []string{secretHost, "cm9ib3Q6czNjcjN0", "Restricted", "Tapp", "Mine"} {
				if strings.Contains(string(body), leak) {
					t.Errorf("%s/%s: the reply shows %q: %s", form, name, leak, body)
				}
			}
			for n, a := range got {
				if a.Repo != "" || a.Src != "" || !a.Public || len(a.Data) == 0 {
					t.Errorf("%s/%s: %s listed as %+v: want public, its AppDef, no image", form, name, n, a)
				}
			}
		}
	}

	// Credentials that are given must be right; anonymous callers get
	// the app listing and nothing else.
	for name, args := range map[string]url.Values{
		"username only": {"username": {"alice"}},
		"key only":      {"apikey": {alice}},
		"wrong key":     {"username": {"alice"}, "apikey": {"flk_nope"}},
	} {
		if code, _, body := e.jarviceCall("get", "apps", args); code != http.StatusUnauthorized {
			t.Errorf("apps, %s: %d %s, want 401", name, code, body)
		}
	}
	for _, endpoint := range []string{"appdef?name=pub", "machines", "jobs", "status?number=1", "queues", "teamusers", "history?target=pub"} {
		path, query, _ := strings.Cut(endpoint, "?")
		q, _ := url.ParseQuery(query)
		if code, _, body := e.jarviceCall("get", path, q); code != http.StatusUnauthorized {
			t.Errorf("anonymous %s: %d %s, want 401", endpoint, code, body)
		}
	}

	// alice, with her key, sees what she may use, images included.
	code, got, _ := list("get", url.Values{"username": {"alice"}, "apikey": {alice}})
	if want := []string{"mine", "pub", "pubimg", "restricted", "tapp"}; code != 200 || !slices.Equal(names(got), want) || got["pubimg"].Repo == "" {
		t.Errorf("alice's listing: %d %v, want %v with their images", code, names(got), want)
	}
	if e.index() != before {
		t.Error("anonymous listings changed the state")
	}
}

// TestJarviceAppsPrivateCatalog: a hub that keeps its catalog private
// (-private-catalog) answers /jarvice/apps without credentials 401 like
// every other endpoint, in every request form, and still lists the apps
// to a caller with a key.
func TestJarviceAppsPrivateCatalog(t *testing.T) {
	e := newEnvWith(t, hubtest.Options{NoSync: true, Configure: func(_ int, cfg *hub.Config) { cfg.PrivateCatalog = true }})
	aliceKey := seedSmall(e)
	for _, form := range []string{"get", "form", "json"} {
		for name, args := range map[string]url.Values{
			"no credentials": {},
			"by name":        {"name": {"pub"}},
			"empty creds":    {"username": {""}, "apikey": {""}},
		} {
			code, _, body := e.jarviceCall(form, "apps", args)
			if code != http.StatusUnauthorized || strings.Contains(string(body), "pub") {
				t.Errorf("%s/%s: %d %s, want 401 naming no app", form, name, code, body)
			}
		}
	}
	code, _, body := e.jarviceCall("get", "apps", url.Values{"username": {"alice"}, "apikey": {aliceKey}})
	var got map[string]structs.JarviceApp
	if code != http.StatusOK || json.Unmarshal(body, &got) != nil || got["pub"].Data == nil {
		t.Errorf("alice's listing: %d %s, want pub listed", code, body)
	}
}
