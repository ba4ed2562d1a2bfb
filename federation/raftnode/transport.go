package raftnode

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// stores is the storage a node runs on; closeFn releases it after raft has
// shut down.
type stores struct {
	logs    raft.LogStore
	stable  raft.StableStore
	snaps   raft.SnapshotStore
	closeFn func() error
}

// openStores opens the bolt log+stable store and the file snapshot store in
// cfg.DataDir, or in-memory stores when cfg.InMemory.
func openStores(cfg Config, logger hclog.Logger) (*stores, error) {
	if cfg.InMemory {
		mem := raft.NewInmemStore()
		return &stores{
			logs:    mem,
			stable:  mem,
			snaps:   raft.NewInmemSnapshotStore(),
			closeFn: func() error { return nil },
		}, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("raftnode: data dir: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.SnapshotRetain, logger.Named("snapshots"))
	if err != nil {
		return nil, fmt.Errorf("raftnode: snapshot store: %w", err)
	}
	bolt, err := raftboltdb.New(raftboltdb.Options{
		Path:   filepath.Join(cfg.DataDir, "raft.db"),
		NoSync: cfg.NoSync,
	})
	if err != nil {
		return nil, fmt.Errorf("raftnode: bolt store: %w", err)
	}
	cached, err := raft.NewLogCache(logCacheSize, bolt)
	if err != nil {
		_ = bolt.Close()
		return nil, fmt.Errorf("raftnode: log cache: %w", err)
	}
	return &stores{logs: cached, stable: bolt, snaps: snaps, closeFn: bolt.Close}, nil
}

// newTransport builds the raft network transport: TCP on cfg.BindAddr
// (advertising cfg.AdvertiseAddr), or over cfg.StreamLayer when given.
func newTransport(cfg Config, logger hclog.Logger) (*raft.NetworkTransport, error) {
	tc := &raft.NetworkTransportConfig{
		Logger:  logger.Named("transport"),
		MaxPool: cfg.MaxPool,
		Timeout: cfg.TransportTimeout,
	}
	if cfg.StreamLayer != nil {
		tc.Stream = cfg.StreamLayer
		return raft.NewNetworkTransportWithConfig(tc), nil
	}
	adv, err := net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr)
	if err != nil {
		return nil, fmt.Errorf("raftnode: advertise address: %w", err)
	}
	if adv.IP == nil || adv.IP.IsUnspecified() {
		return nil, errors.New("raftnode: advertise address must be a concrete IP (set AdvertiseAddr)")
	}
	var advertise net.Addr = adv
	if adv.Port == 0 {
		// Port chosen by the kernel: advertise what the listener got.
		advertise = nil
	}
	t, err := raft.NewTCPTransportWithConfig(cfg.BindAddr, advertise, tc)
	if err != nil {
		return nil, fmt.Errorf("raftnode: tcp transport: %w", err)
	}
	return t, nil
}
