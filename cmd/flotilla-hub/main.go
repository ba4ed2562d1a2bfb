// Command flotilla-hub runs one replica of the Flotilla hub: the raft
// replicated state, the HTTP API and, while the replica leads, the
// placement loop. Settings come from flags and an optional JSON or YAML
// file (see federation/hubconfig); secrets from files or the environment.
//
//	flotilla-hub -id hub0 -data-dir /var/lib/flotilla -bootstrap self
//	flotilla-hub -id hub1 -data-dir /var/lib/flotilla -join http://10.0.0.1:8080 \
//	    -raft-advertise 10.0.0.2:7000 -api-advertise http://10.0.0.2:8080
//	flotilla-hub -config /etc/flotilla/hub.yaml
//
// SIGINT or SIGTERM shuts the replica down gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hubconfig"
)

func main() { os.Exit(run()) }

func run() int {
	s, err := hubconfig.Load(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-hub:", err)
		return 2
	}
	logger, raftLogger, err := s.Loggers(os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-hub:", err)
		return 2
	}
	cfg, err := s.HubConfig(logger, raftLogger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-hub:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	h, err := hub.New(cfg)
	if err != nil {
		logger.Error("starting the replica", "error", err)
		return 1
	}
	logger.Info("replica started", "settings", s, "api", h.Addr().String())
	ran := make(chan error, 1)
	go func() { ran <- h.Run(ctx) }()
	if s.Join != "" {
		// The API serves meanwhile: the leader replicates to this replica
		// while adding it.
		jctx, cancel := context.WithTimeout(ctx, hub.DefaultJoinTimeout)
		err := h.JoinCluster(jctx, s.Join)
		cancel()
		if err != nil {
			logger.Error("joining the hub cluster", "via", s.Join, "error", err)
			_ = h.Close()
			<-ran
			return 1
		}
	}
	if err := <-ran; err != nil {
		logger.Error("replica stopped", "error", err)
		return 1
	}
	logger.Info("replica stopped")
	return 0
}
