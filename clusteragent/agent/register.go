package agent

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// registerTimeout bounds the registration at start: the client retries
// it on every replica (it is idempotent, see client.RegisterKey) through
// a leader's loss and a hub that is still starting.
const registerTimeout = 2 * time.Minute

// register exchanges the bootstrap token for the agent key, once. The
// agent makes the key itself and, with a key file, keeps it in
// KeyFile+".pending" before it asks: a registration whose reply was lost
// (the replica died, the connection broke, the agent was killed) is sent
// again with the same key, which the hub accepts once the token is spent
// on it, instead of the token being spent on a key nobody holds. When
// the token carries the hub CA's pin and no CA file exists yet, the hub
// is checked against the pin and the CA it presents is saved to
// HubCAFile.
func register(cfg Config) (string, error) {
	token, pin, err := hubtls.SplitToken(cfg.BootstrapToken)
	if err != nil {
		return "", fmt.Errorf("agent: bootstrap token: %w", err)
	}
	tc, err := hubTLSConfig(cfg.HubCAFile)
	if err != nil {
		return "", err
	}
	var pinned *x509.Certificate
	if tc == nil && pin != "" {
		if cfg.HubCAFile == "" {
			return "", errors.New("agent: the bootstrap token pins the hub's CA: give a file to keep it in (-hub-ca-file)")
		}
		tc = hubtls.PinnedClient(pin, func(c *x509.Certificate) { pinned = c })
	}
	key, err := pendingKey(cfg.KeyFile)
	if err != nil {
		return "", err
	}
	anon, err := client.New(cfg.HubURLs, "", client.WithTLS(tc))
	if err != nil {
		return "", err
	}
	defer anon.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), registerTimeout)
	defer cancel()
	if _, err := anon.RegisterKey(ctx, cfg.Cluster, token, key); err != nil {
		return "", fmt.Errorf("agent: registering cluster %s: %w", cfg.Cluster, err)
	}
	if pinned != nil {
		caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pinned.Raw})
		if err := writeFileSynced(cfg.HubCAFile, caPEM, 0o644); err != nil {
			return "", fmt.Errorf("agent: saving the hub CA: %w", err)
		}
	}
	if cfg.KeyFile != "" {
		if err := writeFileSynced(cfg.KeyFile, []byte(key+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("agent: saving the agent key: %w", err)
		}
		// The key file is whole: the pending key has served.
		_ = os.Remove(cfg.KeyFile + ".pending")
	}
	return key, nil
}

// pendingKey is the agent key to register: the one an earlier start made
// and kept in keyFile+".pending", else a new one, kept there first (with
// no key file, only in memory).
func pendingKey(keyFile string) (string, error) {
	if keyFile == "" {
		key, _ := structs.NewKey(structs.AgentKeyPrefix, time.Time{}) // the hub stamps the time
		return key, nil
	}
	path := keyFile + ".pending"
	b, err := os.ReadFile(path)
	if err == nil {
		key := strings.TrimSpace(string(b))
		if p, _, ok := structs.ParseKey(key); ok && p == structs.AgentKeyPrefix {
			return key, nil
		}
		// A file cut short by a crash before its sync: it was never sent.
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("agent: reading the pending agent key: %w", err)
	}
	key, _ := structs.NewKey(structs.AgentKeyPrefix, time.Time{}) // the hub stamps the time
	if err := writeFileSynced(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("agent: keeping the pending agent key: %w", err)
	}
	return key, nil
}

// writeFileSynced replaces path with data whole: a temporary file beside
// it, synced, renamed over it, and the directory synced, so that a crash
// leaves the old file or the new one, never a part.
func writeFileSynced(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // gone after the rename; removes a failed write's
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
