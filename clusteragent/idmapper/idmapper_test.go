package idmapper

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestMapReadsHomeOwner(t *testing.T) {
	root := t.TempDir()
	home := filepath.Join(root, "alice")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	// Run as root in CI: give the home a distinct owner, as on a real share.
	if os.Geteuid() == 0 {
		if err := os.Chown(home, 1234, 2345); err != nil {
			t.Fatal(err)
		}
	}
	wantUID, wantGID := os.Geteuid(), os.Getegid()
	if os.Geteuid() == 0 {
		wantUID, wantGID = 1234, 2345
	}
	srv := httptest.NewServer(Handler(root))
	defer srv.Close()
	c := &Client{Base: srv.URL}
	id, ok, err := c.Lookup(context.Background(), "alice")
	if err != nil || !ok || id.UID != wantUID || id.GID != wantGID {
		t.Fatalf("Lookup(alice) = %+v, %v, %v; want %d/%d", id, ok, err, wantUID, wantGID)
	}
	if _, ok, err := c.Lookup(context.Background(), "bob"); ok || err != nil {
		t.Errorf("Lookup(bob) = %v, %v; want not found", ok, err)
	}
	for _, bad := range []string{"..", "Alice", "a%2Fb"} {
		resp, err := http.Get(srv.URL + "/map/" + bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /map/%s: %d, want 400/404", bad, resp.StatusCode)
		}
	}
}
