package portal_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// pngIcon is a 1×1 PNG.
var pngIcon, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

// TestAppIcons: the AppDef's image is served by GET /v1/apps/{name}/icon
// as the image it is (media type, private caching, ETag → 304), only to
// those who may see the app; the catalog's card shows it, and an app
// without one keeps its initial.
func TestAppIcons(t *testing.T) {
	ctx, hubs, adm := startHubs(t, 1)
	seedUser(ctx, t, adm, "acme", "ann")
	seedUser(ctx, t, adm, "globex", "gus")
	put := func(name string, vis structs.Visibility, owner, tenant string, image string) {
		t.Helper()
		doc := `{"name":"` + name + `",` + image + `"commands":{"run":{"path":"/opt/run","name":"Run"}}}`
		var def structs.AppDef
		if err := json.Unmarshal([]byte(doc), &def); err != nil {
			t.Fatal(err)
		}
		if _, err := adm.PutApp(ctx, &structs.App{Name: name, Visibility: vis, Owner: owner, Tenant: tenant, Image: "x:1", AppDef: def}); err != nil {
			t.Fatal(err)
		}
	}
	put("painted", structs.VisibilityPublic, "", "", `"image":{"type":"image/png","data":"`+base64.StdEncoding.EncodeToString(pngIcon)+`"},`)
	put("plain", structs.VisibilityPublic, "", "", "")
	// an SVG icon (the PushToCompute template's shape): registered with a
	// warning, never served, so the card draws the initial
	put("vector", structs.VisibilityPublic, "", "", `"image":{"type":"image/svg+xml","data":"PHN2Zy8+"},`)
	put("secret", structs.VisibilityPrivate, "gus", "globex", `"image":{"type":"image/png","data":"`+base64.StdEncoding.EncodeToString(pngIcon)+`"},`)

	key, err := adm.CreateAPIKey(ctx, "ann", "t")
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, etag string) (*http.Response, []byte) {
		req, _ := http.NewRequestWithContext(ctx, "GET", hubs.URL(0)+path, nil)
		req.Header.Set("Authorization", "Bearer "+key.Key)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	res, body := get("/v1/apps/painted/icon", "")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || !bytes.Equal(body, pngIcon) {
		t.Fatalf("icon: %d %s, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}
	etag := res.Header.Get("ETag")
	if etag == "" || !strings.Contains(res.Header.Get("Cache-Control"), "max-age") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("icon headers: %v", res.Header)
	}
	if res, body := get("/v1/apps/painted/icon", etag); res.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("revalidation with the ETag: %d, %d bytes; want 304 and no body", res.StatusCode, len(body))
	}
	for name, want := range map[string]int{"plain": 404, "nope": 404, "secret": 403} { // as GET /v1/apps/{name}
		if res, body := get("/v1/apps/"+name+"/icon", ""); res.StatusCode != want {
			t.Errorf("icon of %s: %d %s; want %d", name, res.StatusCode, body, want)
		}
	}

	b := newBrowser(t, hubs.URL(0))
	b.login("ann", "pw-ann-secret")
	_, page, _ := b.do("GET", "/ui/catalog", nil)
	if !strings.Contains(page, `<img class="icon" src="/ui/apps/painted/icon"`) {
		t.Error("the catalog does not show the painted app's icon")
	}
	if !strings.Contains(page, `<span class="icon" aria-hidden="true">P</span>`) {
		t.Error("the app without an icon lost its initial")
	}
	if strings.Contains(page, `src="/ui/apps/vector/icon"`) || !strings.Contains(page, `<span class="icon" aria-hidden="true">V</span>`) {
		t.Error("the app whose icon is not shown (SVG) has a broken image instead of its initial")
	}
	if code, img, h := b.do("GET", "/ui/apps/painted/icon", nil); code != 200 || h.Get("Content-Type") != "image/png" || img != string(pngIcon) {
		t.Errorf("portal icon: %d %s", code, h.Get("Content-Type"))
	}
	if code, _, _ := b.do("GET", "/ui/apps/secret/icon", nil); code != 404 {
		t.Errorf("another tenant's private app's icon through the portal: %d, want 404", code)
	}
}
