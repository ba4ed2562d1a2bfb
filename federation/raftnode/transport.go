package raftnode

import (
	"errors"
	"fmt"
	"net"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// newTransport builds the raft network transport: TCP on cfg.BindAddr
// (advertising cfg.AdvertiseAddr), or over cfg.StreamLayer when given;
// with cfg.TLS, mutual TLS over either.
func newTransport(cfg Config, logger hclog.Logger) (*raft.NetworkTransport, error) {
	tc := &raft.NetworkTransportConfig{
		Logger:  logger.Named("transport"),
		MaxPool: cfg.MaxPool,
		Timeout: cfg.TransportTimeout,
	}
	stream := cfg.StreamLayer
	if stream == nil {
		var err error
		if stream, err = listenTCP(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.TLS != nil {
		stream = newTLSStream(stream, *cfg.TLS, logger.Named("tls"))
	}
	tc.Stream = stream
	return raft.NewNetworkTransportWithConfig(tc), nil
}

// listenTCP listens on cfg.BindAddr and advertises cfg.AdvertiseAddr.
func listenTCP(cfg Config) (raft.StreamLayer, error) {
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
	ln, err := net.Listen("tcp", cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("raftnode: tcp transport: %w", err)
	}
	return &tcpStream{ln: ln, advertise: advertise}, nil
}
