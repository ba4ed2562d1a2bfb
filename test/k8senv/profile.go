package k8senv

import (
	"context"
	"strconv"
	"time"
)

// APIServerProfile returns a CPU profile of the API server over the next
// d (Options.Profiling must be set): what one stretch of work cost it, by
// function (`go tool pprof -top FILE`).
func (e *Env) APIServerProfile(ctx context.Context, d time.Duration) ([]byte, error) {
	secs := max(1, int(d/time.Second))
	return e.Client.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").
		Param("seconds", strconv.Itoa(secs)).Timeout(d + time.Minute).DoRaw(ctx)
}
