package idmapper

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/clusteragent/runtime"
	"github.com/flotilla-hpc/flotilla/federation/structs"
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
	srv := httptest.NewServer(Handler(root, Options{}))
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

// TestRootOwnedHomeMapsToNoIdentity: a home directory made by root on a
// fresh shared volume names no user. The mapper answers 404 with a code
// (never uid 0), the client reports no identity and logs why, so the job
// runs as the default job user; a home whose group is root's maps to its
// owner and the default gid, never gid 0.
func TestRootOwnedHomeMapsToNoIdentity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestRootOwnedHomeMapsToNoIdentity must run as root (it makes homes owned by root and by others)")
	}
	root := t.TempDir()
	for name, owner := range map[string][2]int{
		"fresh":    {0, 0},       // mkdir by root, never handed over
		"rootuser": {0, 4321},    // chgrp only
		"nogroup":  {1234, 0},    // chown USER without a group
		"owned":    {1234, 2345}, // as it should be
	} {
		home := filepath.Join(root, name)
		if err := os.Mkdir(home, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(home, owner[0], owner[1]); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(Handler(root, Options{}))
	defer srv.Close()
	var logs bytes.Buffer
	c := &Client{Base: srv.URL, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	for name, want := range map[string]*structs.Identity{
		"fresh":    nil,
		"rootuser": nil,
		"nogroup":  {UID: 1234, GID: DefaultGID},
		"owned":    {UID: 1234, GID: 2345},
	} {
		logs.Reset()
		id, ok, err := c.Lookup(context.Background(), name)
		switch {
		case err != nil:
			t.Errorf("Lookup(%s): %v", name, err)
		case want == nil && ok:
			t.Errorf("Lookup(%s) = %+v, want no identity", name, id)
		case want == nil && !strings.Contains(logs.String(), "owned by root"):
			t.Errorf("Lookup(%s) logged %q, want the reason", name, logs.String())
		case want != nil && (!ok || id != *want):
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", name, id, ok, *want)
		}
	}
	resp, err := http.Get(srv.URL + "/map/fresh")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b errorBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil || resp.StatusCode != http.StatusNotFound || b.Code != CodeRootOwned {
		t.Errorf("GET /map/fresh: %d %+v %v; want 404 with code %s", resp.StatusCode, b, err, CodeRootOwned)
	}
	// A configured default gid replaces root's group.
	srv2 := httptest.NewServer(Handler(root, Options{DefaultGID: 777}))
	defer srv2.Close()
	if id, ok, err := (&Client{Base: srv2.URL}).Lookup(context.Background(), "nogroup"); err != nil || !ok || id.GID != 777 {
		t.Errorf("Lookup(nogroup) with DefaultGID 777 = %+v, %v, %v", id, ok, err)
	}
}

// TestClientRefusesRootIDs: a mapper that answers uid or gid 0 (one from
// before the rule) gives no identity.
func TestClientRefusesRootIDs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Mapping{User: "alice", Home: "/home/alice", UID: 0, GID: 0})
	}))
	defer srv.Close()
	if id, ok, err := (&Client{Base: srv.URL}).Lookup(context.Background(), "alice"); ok || err != nil {
		t.Errorf("Lookup = %+v, %v, %v; want no identity", id, ok, err)
	}
}

// The mapper's default gid is the runtime's default job gid.
func TestDefaultGIDIsTheRuntimes(t *testing.T) {
	if DefaultGID != runtime.DefaultGID {
		t.Errorf("idmapper.DefaultGID %d, runtime.DefaultGID %d", DefaultGID, runtime.DefaultGID)
	}
}
