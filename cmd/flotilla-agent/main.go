// Command flotilla-agent runs Flotilla's agent for one Kubernetes cluster: it
// takes the hub's assignments for the cluster, gang-schedules their pods and
// runs them, and reports back. Flags configure it; the work is in
// clusteragent/agent.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/agent"
	"github.com/flotilla-hpc/flotilla/federation/cloud/connect"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/internal/version"
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
	showVer := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVer {
		fmt.Println(version.String("flotilla-agent"))
		return nil
	}
	log, err := f.Logger(os.Stderr)
	if err != nil {
		return err
	}
	cfg, err := f.Config(os.Getenv, log)
	if err != nil {
		return err
	}
	cfg.Now = time.Now
	if cfg.Elastic != nil {
		cloudName := f.ElasticCluster
		if cloudName == "" {
			cloudName = cfg.Cluster
		}
		ng, closeNG, err := connect.OpenNodeGroups(context.Background(), connect.Options{Provider: structs.CloudProvider(f.ElasticCloud),
			Region: f.ElasticRegion, Endpoint: f.ElasticEndpoint, PollInterval: f.ElasticPoll}, cloudName, f.ElasticProject)
		if err != nil {
			return fmt.Errorf("elastic node groups: %w", err)
		}
		defer closeNG()
		ng.Status = func(group, status string) { log.Debug("elastic: node group status", "group", group, "status", status) }
		cfg.Elastic.Cloud = ng
	}
	a, err := agent.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("agent starting", "version", version.Version, "cluster", cfg.Cluster, "namespace-prefix", cfg.NamespacePrefix,
		"init_image", f.InitImage, "filer_image", f.FilerImage)
	return a.Run(ctx)
}
