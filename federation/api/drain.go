package api

import "context"

// Drain tells the server that its replica is shutting down: long polls
// (event, job and assignment watches) answer at once with what they have,
// and event streams end, so that an HTTP server's graceful shutdown does
// not wait for them; clients resume on another replica from the index
// they last saw. Requests that are not waiting are unaffected. Calling it
// again does nothing.
func (s *Server) Drain() { s.drain() }

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Err() != nil }

// untilDrain returns a context that ends with ctx or when the server
// starts draining, whichever comes first.
func (s *Server) untilDrain(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.draining, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}
