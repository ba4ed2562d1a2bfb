package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// TestTLSEverywhere runs the shipped binaries as a deployment would: three
// flotilla-hub processes with TLS on the API and mutual TLS on raft, and a
// flotilla-agent process on a real control plane that trusts the hub only
// through the CA pin its bootstrap token carries. A job runs end to end;
// plain HTTP gets no API; the internal endpoints refuse a caller without a
// replica certificate even when it knows the internal secret; an agent
// whose token pins another CA refuses to register.
func TestTLSEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs real control planes and the built binaries (FLOTILLA_BIN: etcd, kube-apiserver, kwok from make tools; flotilla-hub, flotilla-agent from make build)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	f := startProcFed(ctx, t, procFedOptions{hubs: procenv.HubOptions{Args: []string{"-dispatch-interval", "250ms"}}, nodes: 2})
	hubs, env, tok := f.hubs, f.env, f.token
	for _, u := range hubs.URLs() {
		if !strings.HasPrefix(u, "https://") {
			t.Fatalf("replica URL %s is not https", u)
		}
	}
	ca, err := hubtls.ReadCerts(hubs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, pin, err := hubtls.SplitToken(tok); err != nil || pin != hubtls.Pin(ca[0]) {
		t.Fatalf("bootstrap token %q should carry the hub CA's pin %s (%v)", tok, hubtls.Pin(ca[0]), err)
	}

	t.Run("agent refuses a hub that is not the pinned one", func(t *testing.T) {
		token, _, _ := hubtls.SplitToken(tok)
		wrong := hubtls.JoinToken(token, "sha256:"+strings.Repeat("0", 64))
		dir := t.TempDir()
		a := procenv.StartAgent(t, procenv.AgentOptions{Cluster: "east", HubURLs: hubs.URLs(), Kubeconfig: env.Kubeconfig,
			BootstrapToken: wrong, Dir: dir})
		wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
		defer wcancel()
		err := a.WaitExit(wctx)
		if err == nil || !strings.Contains(err.Error(), "pinned CA") {
			t.Fatalf("agent with a wrong pin: %v; want it to exit naming the pinned CA", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "agent-key-east")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the agent saved a key: %v", err)
		}
	})

	dir := t.TempDir()
	procenv.StartAgent(t, procenv.AgentOptions{Cluster: "east", HubURLs: hubs.URLs(), Kubeconfig: env.Kubeconfig,
		BootstrapToken: tok, Dir: dir, Args: []string{"-heartbeat", "300ms"}})
	alice, err := client.New(hubs.URLs(), f.aliceKey, client.WithTLS(hubs.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	job := submit(ctx, t, alice, "solver", "cpu", 2)
	waitJob(ctx, t, alice, job.ID, "running over TLS", running)
	saved, err := os.ReadFile(filepath.Join(dir, "hub-ca-east.crt"))
	if err != nil {
		t.Fatalf("the agent did not keep the CA it pinned: %v", err)
	}
	if got, err := hubtls.ParseCerts(saved); err != nil || !got[0].Equal(ca[0]) {
		t.Errorf("the agent kept another CA than the hub's: %v", err)
	}
	if _, err := alice.CancelJob(ctx, job.ID, "done"); err != nil {
		t.Fatal(err)
	}
	waitJob(ctx, t, alice, job.ID, "terminated", func(j *structs.Job) bool { return j.State == structs.JobTerminated })

	// Plain HTTP to the API port gets no API.
	hostport := strings.TrimPrefix(hubs.URLs()[0], "https://")
	resp, err := http.Get("http://" + hostport + "/v1/whoami")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || bytes.Contains(body, []byte(`"username"`)) {
			t.Errorf("plain HTTP to the API: %d %q; want it refused", resp.StatusCode, body)
		}
	}
	// The raft port speaks only TLS with a replica certificate: a TLS
	// client without one is refused in the handshake.
	raftConn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", hubs.Replica(0).RaftAddr,
		&tls.Config{RootCAs: hubs.TLSConfig().RootCAs, ServerName: "127.0.0.1"})
	if err == nil {
		raftConn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = raftConn.Read(make([]byte, 1))
		raftConn.Close()
	}
	if err == nil {
		t.Errorf("the raft port accepted a client without a replica certificate")
	}
	// The internal endpoints want a replica certificate besides the secret.
	secret, err := os.ReadFile(filepath.Join(hubs.Dir, "internal-secret"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hubs.URLs()[0]+api.InternalReadIndexPath, nil)
	req.Header.Set(api.InternalSecretHeader, string(secret))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: hubs.TLSConfig()}}
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("internal endpoint without a replica certificate: %d, want 401", resp.StatusCode)
	}
}
