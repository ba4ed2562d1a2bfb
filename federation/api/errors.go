package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// errTooLarge marks a request body over the size limit (413).
var errTooLarge = errors.New("request body too large")

// statusOf is the one place that maps errors to HTTP status codes.
func statusOf(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, errTooLarge), errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, structs.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, structs.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, structs.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, structs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, structs.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, structs.ErrNotLeader):
		return http.StatusMisdirectedRequest
	case errors.Is(err, structs.ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, structs.ErrUnavailable), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError writes err as {"error": message} with its status code.
// Internal errors are logged and not shown; nothing logged carries
// credentials (only method and path, never the query).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	msg := err.Error()
	switch code {
	case http.StatusInternalServerError:
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "error", err)
		msg = "internal error"
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="flotilla"`)
	case http.StatusTooManyRequests:
		after := "1"
		var rl *rateLimitError
		if errors.As(err, &rl) {
			after = rl.retryAfterSeconds()
		}
		w.Header().Set("Retry-After", after)
	case http.StatusServiceUnavailable, http.StatusMisdirectedRequest:
		w.Header().Set("Retry-After", "1")
		s.log.Debug("unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	writeJSON(w, code, structs.ErrorBody{Error: msg})
}

func invalid(format string, args ...any) error {
	return structs.Errorf(structs.ErrInvalid, format, args...)
}
