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
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.String("flotilla-idmapper"))
		return
	}
	srv := &http.Server{Addr: *listen, Handler: idmapper.Handler(*root), ReadHeaderTimeout: 10 * time.Second}
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
