// Command flotilla is the Flotilla command-line tool: submit and inspect
// jobs, ask why one is pending, and administer the hub. The logic lives in
// federation/cli; run "flotilla help" for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/flotilla-hpc/flotilla/federation/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
