package agent

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// registerRig is one real hub replica with a cluster "east" and its
// bootstrap token.
func registerRig(t *testing.T) (hub *hubtest.Cluster, token string) {
	t.Helper()
	hub = hubtest.New(t, 1, hubtest.Options{NoSync: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := hub.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	adm, err := client.New(hub.URLs(), hub.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.PutCluster(ctx, "east", &structs.ClusterSpec{}); err != nil {
		t.Fatal(err)
	}
	tok, err := adm.CreateBootstrapToken(ctx, "east")
	if err != nil {
		t.Fatal(err)
	}
	return hub, tok.Key
}

// keyWorks checks that key is east's agent key at the hub.
func keyWorks(t *testing.T, hub *hubtest.Cluster, key string) {
	t.Helper()
	c, err := client.New(hub.URLs(), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Assignments(context.Background(), "east", client.AssignmentQuery{}); err != nil {
		t.Errorf("the registered key at the hub: %v", err)
	}
}

// TestRegisterRetriedAfterLostReply: the hub registers the agent's key,
// and the reply never reaches the agent (the connection breaks, as when
// the replica dies after its commit); the agent sends the registration
// again and starts with the key the hub holds, kept in its key file.
func TestRegisterRetriedAfterLostReply(t *testing.T) {
	hub, token := registerRig(t)
	var registers atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, hub.URL(0)+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		reply, _ := io.ReadAll(resp.Body)
		if strings.HasSuffix(r.URL.Path, "/register") && registers.Add(1) == 1 {
			// The hub acted; its reply is lost.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(reply)
	}))
	defer proxy.Close()

	keyFile := filepath.Join(t.TempDir(), "agent-key")
	key, err := register(Config{Cluster: "east", HubURLs: []string{proxy.URL}, BootstrapToken: token, KeyFile: keyFile})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if n := registers.Load(); n < 2 {
		t.Errorf("%d registration requests, want the lost one sent again", n)
	}
	b, err := os.ReadFile(keyFile)
	if err != nil || strings.TrimSpace(string(b)) != key {
		t.Errorf("key file %q (%v), want the registered key", b, err)
	}
	if _, err := os.Stat(keyFile + ".pending"); !os.IsNotExist(err) {
		t.Errorf("pending key left beside the key file: %v", err)
	}
	keyWorks(t, hub, key)
}

// TestRegisterAfterCrash: an agent killed after the hub registered its
// key, before it wrote its key file, starts again with the same bootstrap
// token and gets the key it kept as pending; a pending file cut short by
// a crash before its sync is not used.
func TestRegisterAfterCrash(t *testing.T) {
	hub, token := registerRig(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "agent-key")
	// The first start: the pending key is kept, then sent; the process
	// dies before the reply is read.
	sent, err := pendingKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	anon, err := client.New(hub.URLs(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.RegisterKey(context.Background(), "east", stripPin(token), sent); err != nil {
		t.Fatal(err)
	}
	key, err := register(Config{Cluster: "east", HubURLs: hub.URLs(), BootstrapToken: token, KeyFile: keyFile})
	if err != nil {
		t.Fatalf("register after the crash: %v", err)
	}
	if key != sent {
		t.Errorf("registered %.20s…, want the pending key %.20s…", key, sent)
	}
	keyWorks(t, hub, key)

	torn := filepath.Join(dir, "torn-key")
	if err := os.WriteFile(torn+".pending", []byte("fla_0123"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := pendingKey(torn)
	if p, _, ok := structs.ParseKey(k); err != nil || !ok || p != structs.AgentKeyPrefix {
		t.Errorf("pending key after a torn file: %q, %v", k, err)
	}
}

// stripPin drops the hub CA's pin a bootstrap token may carry.
func stripPin(token string) string {
	tok, _, _ := hubtls.SplitToken(token)
	return tok
}
