package hub

import (
	"bytes"
	"fmt"
	"io"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/state"
)

// RestoreBackup prepares the data directory of cfg.Raft, which must hold
// no raft state, as one replica of a new hub cluster whose state starts
// from the backup read from r (what GET /v1/snapshot returns,
// state.Snapshot.Backup). The voters are cfg.Raft.BootstrapPeers; every
// replica of the new cluster is prepared from the same backup with the
// same peers, then started with its usual settings. The backup is read
// and checked whole before anything is written.
func RestoreBackup(cfg Config, r io.Reader) (state.BackupHeader, error) {
	store, err := state.New()
	if err != nil {
		return state.BackupHeader{}, err
	}
	h, err := store.RestoreBackup(r)
	if err != nil {
		return h, fmt.Errorf("hub: restore: %w", err)
	}
	var snap bytes.Buffer
	if err := store.Snapshot().Persist(&snap); err != nil {
		return h, err
	}
	if err := raftnode.RestoreSnapshot(cfg.Raft, h.Index, &snap, cfg.RaftLogger); err != nil {
		return h, err
	}
	return h, nil
}
