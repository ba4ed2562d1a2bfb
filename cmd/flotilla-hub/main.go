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
//
//	flotilla-hub check -data-dir /var/lib/flotilla
//
// checks a stopped replica's raft data without starting it: the log store,
// its first and last index and term, and the snapshots; it exits 1 when a
// replica could not start on the directory.
//
//	flotilla-hub certs ca -dir /etc/flotilla/pki
//	flotilla-hub certs issue -dir /etc/flotilla/pki -name hub0 -hosts 10.0.0.1,hub0.example
//
// makes a small CA and a certificate per replica (server and client use,
// for -tls-cert, -tls-key and -client-ca).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hubconfig"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(check(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "certs" {
		os.Exit(certs(os.Args[2:]))
	}
	os.Exit(run())
}

func check(args []string) int {
	fs := flag.NewFlagSet("flotilla-hub check", flag.ContinueOnError)
	dir := fs.String("data-dir", "", "the data directory of a stopped replica (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *dir == "" || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: flotilla-hub check -data-dir DIR")
		return 2
	}
	in := raftnode.Inspect(*dir)
	if _, err := in.WriteTo(os.Stdout); err != nil || in.Err != nil {
		return 1
	}
	return 0
}

func certs(args []string) int {
	usage := "usage: flotilla-hub certs ca -dir DIR | flotilla-hub certs issue -dir DIR -name NAME -hosts HOST,..."
	if len(args) == 0 || (args[0] != "ca" && args[0] != "issue") {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("flotilla-hub certs "+args[0], flag.ContinueOnError)
	dir := fs.String("dir", "", "directory of the CA (ca.crt, ca.key) and the certificates (required)")
	name := fs.String("name", "", "certificate name, e.g. the replica id (issue)")
	hosts := fs.String("hosts", "", "comma-separated IP addresses and DNS names the certificate is for (issue)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *dir == "" || fs.NArg() > 0 || (args[0] == "issue" && (*name == "" || *hosts == "")) {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	if args[0] == "ca" {
		ca, err := hubtls.InitCA(*dir, time.Now())
		if err != nil {
			fmt.Fprintln(os.Stderr, "flotilla-hub certs:", err)
			return 1
		}
		fmt.Printf("CA written to %s/%s and %s/%s (pin %s); keep ca.key secret\n",
			*dir, hubtls.CACertFile, *dir, hubtls.CAKeyFile, hubtls.Pin(ca.Cert))
		return 0
	}
	certFile, keyFile, err := hubtls.IssueInDir(*dir, *name, strings.Split(*hosts, ","), time.Now())
	if err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-hub certs:", err)
		return 1
	}
	fmt.Printf("certificate %s, key %s\n", certFile, keyFile)
	return 0
}

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
	if errors.Is(err, raftnode.ErrDamagedStore) {
		fmt.Fprintln(os.Stderr, "flotilla-hub:", err)
		return 1
	}
	if err != nil {
		logger.Error("starting the replica", "error", err)
		return 1
	}
	if s.InsecureHTTP {
		logger.Warn("serving plain HTTP and plain raft (-insecure-http): for development on loopback only")
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
