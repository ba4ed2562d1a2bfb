package raftnode

import (
	"errors"
	"fmt"
	"net"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

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
