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
// SIGINT or SIGTERM shuts the replica down gracefully. flotilla-hub
// -version prints the version it was built with.
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
//
//	flotilla-hub snapshot save FILE -addr https://hub-0:8443[,URL...] [-ca-file F]
//	flotilla-hub snapshot restore FILE -id hub0 -data-dir DIR -bootstrap ... [hub flags]
//
// save asks a running hub (API key from $FLOTILLA_API_KEY or -api-key-file,
// a global administrator's) for a consistent backup and writes it to FILE
// atomically; restore prepares an empty data directory as a replica of a
// new cluster starting from the backup (run it for every replica with its
// own flags, then start the replicas with the same flags). See
// docs/operations.md.
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

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hubconfig"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
	"github.com/flotilla-hpc/flotilla/internal/version"
)

func main() {
	if len(os.Args) == 2 && version.IsFlag(os.Args[1]) {
		fmt.Println(version.String("flotilla-hub"))
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(check(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "certs" {
		os.Exit(certs(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "snapshot" {
		os.Exit(snapshot(os.Args[2:]))
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
	if err := fs.Parse(args[1:]); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
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

func snapshot(args []string) int {
	usage := "usage: flotilla-hub snapshot save FILE -addr URL[,URL...] | flotilla-hub snapshot restore FILE -data-dir DIR [hub flags]"
	if len(args) == 0 || (args[0] != "save" && args[0] != "restore") {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("flotilla-hub snapshot save", flag.ContinueOnError)
	addr := fs.String("addr", os.Getenv("FLOTILLA_HUB"), "hub API base URLs, comma-separated (default $FLOTILLA_HUB)")
	keyFile := fs.String("api-key-file", "", "file with a global administrator's API key (else $FLOTILLA_API_KEY)")
	caFile := fs.String("ca-file", os.Getenv("FLOTILLA_CA_FILE"), "CA the hub's certificate is checked against (default $FLOTILLA_CA_FILE)")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), usage)
		if args[0] == "save" {
			fmt.Fprintln(fs.Output(), "\nflags of save:")
			fs.PrintDefaults()
		} else {
			fmt.Fprintln(fs.Output(), "\nrestore takes the flags the replica will start with (flotilla-hub -h), the same -bootstrap list on every replica")
		}
	}
	if len(args) < 2 || strings.HasPrefix(args[1], "-") {
		if len(args) == 2 && (args[1] == "-h" || args[1] == "-help" || args[1] == "--help") {
			fs.Usage()
			return 0
		}
		fmt.Fprintf(os.Stderr, "flotilla-hub snapshot %s: the backup FILE comes first\n%s\n", args[0], usage)
		return 2
	}
	file := args[1]
	if args[0] == "restore" {
		return restore(file, args[2:])
	}
	if err := fs.Parse(args[2:]); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "flotilla-hub snapshot save: unexpected arguments %q after the flags\n", fs.Args())
		return 2
	}
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "flotilla-hub snapshot save: no hub to ask: give -addr URL[,URL...] or set $FLOTILLA_HUB")
		return 2
	}
	key := os.Getenv("FLOTILLA_API_KEY")
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "flotilla-hub snapshot save:", err)
			return 2
		}
		key = strings.TrimSpace(string(b))
	}
	opts := []client.Option{client.WithRetryTimeout(*timeout)}
	if *caFile != "" {
		tc, err := hubtls.ClientFromCAFile(*caFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "flotilla-hub snapshot save:", err)
			return 2
		}
		opts = append(opts, client.WithTLS(tc))
	}
	cl, err := client.New(strings.Split(*addr, ","), key, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-hub snapshot save:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	index, err := cl.SaveSnapshot(ctx, file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-hub snapshot save:", err)
		return 1
	}
	fmt.Printf("saved the hub's state as of raft index %d to %s\n", index, file)
	return 0
}

func restore(file string, args []string) int {
	s, err := hubconfig.Load(args, os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-hub snapshot restore:", err)
		return 2
	}
	logger, raftLogger, err := s.Loggers(os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-hub snapshot restore:", err)
		return 2
	}
	cfg, err := s.HubConfig(logger, raftLogger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-hub snapshot restore:", err)
		return 2
	}
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-hub snapshot restore:", err)
		return 2
	}
	defer f.Close()
	h, err := hub.RestoreBackup(cfg, f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flotilla-hub snapshot restore:", err)
		return 1
	}
	fmt.Printf("restored %s (raft index %d) into %s; start the replica with the same flags\n", file, h.Index, s.DataDir)
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
	gc := hub.TuneGC()
	logger.Debug("garbage collector", "gogc_percent", gc.Percent, "memory_limit_bytes", gc.MemoryLimit)
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
	logger.Info("replica started", "version", version.Version, "settings", s, "api", h.Addr().String())
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
