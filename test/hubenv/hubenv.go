// Package hubenv starts hub replicas in one process outside tests — for the
// demo and the benchmarks: raft over loopback TCP, bolt stores with fsync,
// a bootstrap administrator and the dispatcher on.
package hubenv

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/flotilla-hpc/flotilla/federation/auth"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
)

// Set is running hub replicas.
type Set struct {
	Hubs []*hub.Hub
	// URLs are the replicas' API base URLs; AdminKey the administrator's key.
	URLs     []string
	AdminKey string
	cancel   context.CancelFunc
	done     chan struct{}
}

// Start starts n replicas with data under dir.
func Start(dir string, n int) (*Set, error) {
	hs := &Set{AdminKey: "admin-" + rand.Text(), done: make(chan struct{})}
	secret := rand.Text()
	type member struct {
		id       raftnode.ServerID
		raftAddr string
		httpLn   net.Listener
	}
	var members []member
	var peers []raftnode.Server
	apis := map[raftnode.ServerID]string{}
	for i := range n {
		rl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		raftAddr := rl.Addr().String()
		rl.Close()
		hl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		id := raftnode.ServerID(fmt.Sprintf("hub%d", i))
		members = append(members, member{id: id, raftAddr: raftAddr, httpLn: hl})
		peers = append(peers, raftnode.Server{Suffrage: raftnode.Voter, ID: id, Address: raftnode.ServerAddress(raftAddr)})
		apis[id] = "http://" + hl.Addr().String()
		hs.URLs = append(hs.URLs, apis[id])
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, m := range members {
		rc := raftnode.Config{ID: m.id, BindAddr: m.raftAddr, DataDir: filepath.Join(dir, string(m.id)),
			BootstrapPeers: peers, APIAddress: apis[m.id], PeerAPI: apis}.TestTiming()
		h, err := hub.New(hub.Config{
			Raft: rc, Listener: m.httpLn, InternalSecret: secret, Logger: log,
			Auth:     auth.Config{Bootstrap: &auth.BootstrapAdmin{Username: "admin", APIKey: hs.AdminKey}},
			Dispatch: &hub.DispatchOptions{AcceptTimeout: 0},
		})
		if err != nil {
			hs.Stop()
			return nil, err
		}
		hs.Hubs = append(hs.Hubs, h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hs.cancel = cancel
	go func() {
		defer close(hs.done)
		errs := make(chan error, len(hs.Hubs))
		for _, h := range hs.Hubs {
			go func() { errs <- h.Run(ctx) }()
		}
		for range hs.Hubs {
			<-errs
		}
	}()
	return hs, nil
}

// Stop stops every replica.
func (hs *Set) Stop() {
	if hs.cancel != nil {
		hs.cancel()
		<-hs.done
		return
	}
	for _, h := range hs.Hubs {
		_ = h.Close()
	}
}
