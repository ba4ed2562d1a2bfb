// Command flotilla is the Flotilla command-line tool: submit and inspect
// jobs, ask why one is pending, and administer the hub. The logic lives in
// federation/cli; run "flotilla help" for the commands, "flotilla version"
// for the version it was built with.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/cli"
	"github.com/flotilla-hpc/flotilla/internal/version"
)

func main() {
	if len(os.Args) == 2 && version.IsFlag(os.Args[1]) {
		fmt.Println(version.String("flotilla"))
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv, cli.WithClock(time.Now), cli.WithStdin(os.Stdin))
	stop()
	os.Exit(code)
}
