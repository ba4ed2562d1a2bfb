// Command flotilla-idmapper answers GET /map/<user> with the home directory
// and the uid/gid owning it, read from a shared home directory tree.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/flotilla-hpc/flotilla/clusteragent/idmapper"
	"github.com/flotilla-hpc/flotilla/internal/version"
)

func main() {
	listen := flag.String("listen", ":8080", "address to serve on")
	root := flag.String("root", "/home", "directory holding the users' home directories")
	defGID := flag.Int("default-gid", idmapper.DefaultGID, "gid answered for a home directory whose group is root's (never 0)")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.String("flotilla-idmapper"))
		return
	}
	if *defGID <= 0 {
		fmt.Fprintln(os.Stderr, "flotilla-idmapper: -default-gid must be a positive gid (root's group is never answered)")
		os.Exit(2)
	}
	h := idmapper.Handler(*root, idmapper.Options{DefaultGID: *defGID})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "flotilla-idmapper:", err)
		os.Exit(1)
	}
}
