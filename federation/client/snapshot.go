package client

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

// Snapshot returns a consistent backup of the hub's state (GET
// /v1/snapshot, global administrators only) and the raft index it holds
// writes up to.
func (c *Client) Snapshot(ctx context.Context) ([]byte, uint64, error) {
	var data []byte
	h, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/snapshot", raw: &data})
	if err != nil {
		return nil, 0, err
	}
	return data, indexOf(h), nil
}

// SaveSnapshot writes a backup of the hub's state to path atomically: to
// a temporary file in the same directory, synced, renamed over path, and
// the directory synced, so path holds either the old file or the whole new
// backup, also after a crash.
func (c *Client) SaveSnapshot(ctx context.Context, path string) (uint64, error) {
	data, index, err := c.Snapshot(ctx)
	if err != nil {
		return 0, err
	}
	if err := writeFileAtomic(path, data); err != nil {
		return 0, err
	}
	return index, nil
}

func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("client: snapshot file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("client: snapshot file: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("client: snapshot file: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("client: snapshot file: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("client: snapshot file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("client: snapshot file: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("client: snapshot file: sync %s: %w", dir, err)
	}
	return nil
}
