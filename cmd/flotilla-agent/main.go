// Command flotilla-agent runs Flotilla's agent for one Kubernetes cluster: it
// takes the hub's assignments for the cluster, gang-schedules their pods and
// runs them, and reports back. Flags configure it; the work is in
// clusteragent/agent.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-agent:", err)
		os.Exit(1)
	}
}

func run() error {
	var f agent.Flags
	f.Register(flag.CommandLine, os.Getenv)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := f.Config(os.Getenv, log)
	if err != nil {
		return err
	}
	cfg.Now = time.Now
	a, err := agent.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("agent starting", "cluster", cfg.Cluster, "namespace", cfg.Namespace)
	return a.Run(ctx)
}
