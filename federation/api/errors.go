package api

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// statusOf maps an error to its HTTP status code: its kind's, through the
// one table in structs (structs.HTTPStatus); an oversize body, a request
// that ended and anything else fill the gaps.
func statusOf(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case structs.KindOf(err) != nil:
		return structs.HTTPStatus(err)
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// noEndpointError is a request for a path and method the API does not
// serve; its reply says so in ErrorBody.Code.
type noEndpointError struct{ method, path string }

func (e *noEndpointError) Error() string {
	return e.method + " " + e.path + ": no such endpoint: " + structs.ErrNotFound.Error()
}

func (e *noEndpointError) Unwrap() error { return structs.ErrNotFound }

// writeError writes err as {"error": message} with its status code.
// Internal errors are logged and not shown; nothing logged carries
// credentials (only method and path, never the query).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	log := s.log
	if id := r.PathValue("id"); id != "" && strings.HasPrefix(r.URL.Path, "/v1/jobs/") {
		log = log.With(structs.LogJob, id) // a line about a job carries its id
	}
	switch code {
	case http.StatusInternalServerError:
		log.Error("internal error", "method", r.Method, "path", r.URL.Path, "request_id", RequestID(r.Context()), "error", err)
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="flotilla"`)
	case http.StatusTooManyRequests:
		after := "1"
		var rl *rateLimitError
		var ra interface{ RetryAfter() time.Duration }
		if errors.As(err, &rl) {
			after = rl.retryAfterSeconds()
		} else if errors.As(err, &ra) {
			after = strconv.Itoa(max(1, int(math.Ceil(ra.RetryAfter().Seconds()))))
		}
		w.Header().Set("Retry-After", after)
	case http.StatusServiceUnavailable, http.StatusMisdirectedRequest:
		w.Header().Set("Retry-After", "1")
		log.Debug("unavailable", "method", r.Method, "path", r.URL.Path, "request_id", RequestID(r.Context()), "error", err)
	}
	jarvice := strings.HasPrefix(r.URL.Path, "/jarvice/")
	body := errorBody(err, code, !jarvice)
	if jarvice {
		writeJarviceJSON(w, code, body)
		return
	}
	writeJSON(w, code, body)
}

// errorBody is the reply body of err, whose status is code: its message
// ("internal error" for a 500, which the caller logs), and with paths the
// fields at fault by JSON path, so a client can point at its own input
// (the portal beside the field; JARVICE's clients read error bodies as
// string maps, so their replies go without).
func errorBody(err error, code int, paths bool) structs.ErrorBody {
	body := structs.ErrorBody{Error: err.Error()}
	if code == http.StatusInternalServerError {
		body.Error = "internal error"
	}
	var ve *structs.ValidationError
	var fe *structs.FieldError
	switch {
	case errors.As(err, &ve):
		body.Errors = ve.Errors
	case paths && errors.As(err, &fe):
		body.Errors = []structs.PathError{{Path: "$." + fe.Field, Rule: fe.Msg}}
	}
	if errors.As(err, new(*noEndpointError)) {
		body.Code = structs.CodeNoSuchEndpoint
	}
	return body
}

func invalid(format string, args ...any) error {
	return structs.Errorf(structs.ErrInvalid, format, args...)
}
