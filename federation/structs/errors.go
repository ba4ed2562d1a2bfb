package structs

import (
	"errors"
	"fmt"
)

// Sentinel errors name the kind of a failure. Wrap them (Errorf, %w) and test
// with errors.Is; the API layer maps each kind to one HTTP status (see
// HTTPStatus).
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrInvalid      = errors.New("invalid")
	ErrForbidden    = errors.New("forbidden")
	ErrUnauthorized = errors.New("unauthorized")
	ErrNotLeader    = errors.New("not the leader")
	ErrUnavailable  = errors.New("unavailable")
	// ErrRateLimited: too many requests from one caller or address; try
	// again after the delay the reply names.
	ErrRateLimited = errors.New("too many requests")
	// ErrTooLarge: a request body over the size limit.
	ErrTooLarge = errors.New("request too large")
	// ErrGone: what was asked for is no longer kept (an event index older
	// than the hub's bounded event log).
	ErrGone = errors.New("gone")
)

// kindStatus is the one table of error kinds and the HTTP status codes
// that carry them: the API writes a kind's first status, the Go client
// and the replicas' calls to each other read every status back to its
// kind. (Plain numbers: this package does no HTTP.)
var kindStatus = [...]struct {
	kind   error
	status int
}{
	{ErrInvalid, 400},      // Bad Request
	{ErrUnauthorized, 401}, // Unauthorized
	{ErrForbidden, 403},    // Forbidden
	{ErrNotFound, 404},     // Not Found
	{ErrConflict, 409},     // Conflict
	{ErrTooLarge, 413},     // Content Too Large
	{ErrGone, 410},         // Gone
	{ErrNotLeader, 421},    // Misdirected Request
	{ErrRateLimited, 429},  // Too Many Requests
	{ErrUnavailable, 503},  // Service Unavailable
	{ErrUnavailable, 502},  // Bad Gateway (a proxy in front of a replica)
	{ErrUnavailable, 504},  // Gateway Timeout (likewise)
}

// StatusInternal is the status of an error of no known kind.
const StatusInternal = 500

// HTTPStatus returns the HTTP status code of err's kind, StatusInternal
// when it has none.
func HTTPStatus(err error) int {
	if k := KindOf(err); k != nil {
		for _, ks := range kindStatus {
			if ks.kind == k {
				return ks.status
			}
		}
	}
	return StatusInternal
}

// KindOfStatus returns the kind an HTTP status code carries, nil for a
// status that carries none (2xx, 500...).
func KindOfStatus(status int) error {
	for _, ks := range kindStatus {
		if ks.status == status {
			return ks.kind
		}
	}
	return nil
}

// KindNamed returns the kind whose Error() is name (how kinds travel
// between replicas), nil for an unknown name.
func KindNamed(name string) error {
	for _, ks := range kindStatus {
		if ks.kind.Error() == name {
			return ks.kind
		}
	}
	return nil
}

// Error is a failure of a known kind with a message for humans.
type Error struct {
	Kind error  // one of the sentinel errors
	Msg  string // what failed, e.g. `job "j-1"`
}

// Errorf returns an *Error of the given kind with a formatted message.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Error implements error as "<msg>: <kind>".
func (e *Error) Error() string {
	if e.Msg == "" {
		return e.Kind.Error()
	}
	return e.Msg + ": " + e.Kind.Error()
}

// Unwrap returns the kind so errors.Is(err, ErrNotFound) works.
func (e *Error) Unwrap() error { return e.Kind }

// KindOf returns the sentinel kind err wraps, or nil when it wraps none.
func KindOf(err error) error {
	if err == nil {
		return nil
	}
	for _, ks := range kindStatus {
		if errors.Is(err, ks.kind) {
			return ks.kind
		}
	}
	return nil
}

// FieldError is a wrong field of a request. It names the field by its
// JSON key, so that a client can point at its own input (the CLI at its
// flag) without reading the message. It is of kind ErrInvalid.
type FieldError struct {
	Object string // what the request is, e.g. "job"
	Field  string // the field's JSON key, e.g. "machine_type"
	Msg    string // what is wrong with it, e.g. "is required"
}

// Error implements error as "<object>: <field> <msg>: invalid".
func (e *FieldError) Error() string {
	return e.Object + ": " + e.Field + " " + e.Msg + ": " + ErrInvalid.Error()
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// TransitionError reports a job state change the state machine forbids.
// It is of kind ErrConflict.
type TransitionError struct {
	JobID    string
	From, To JobState
}

// Error implements error.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("job %q: illegal transition %s -> %s: %v", e.JobID, e.From, e.To, ErrConflict)
}

// Unwrap returns ErrConflict.
func (e *TransitionError) Unwrap() error { return ErrConflict }

func invalidf(format string, args ...any) error { return Errorf(ErrInvalid, format, args...) }

// PathError is one rule a document breaks, at a JSON path such as
// `$.commands.Run.parameters.np.min`.
type PathError struct {
	Path string `json:"path"`
	Rule string `json:"rule"`
}

// ValidationError lists every rule a document breaks, not only the first.
// It is of kind ErrInvalid; the API returns the list with the 400 reply.
type ValidationError struct {
	What   string // what was validated, e.g. "appdef"
	Errors []PathError
}

// Error implements error: every path and rule, in order.
func (e *ValidationError) Error() string {
	var b []byte
	b = append(b, e.What...)
	for i, f := range e.Errors {
		if i == 0 {
			b = append(b, ": "...)
		} else {
			b = append(b, "; "...)
		}
		b = append(b, f.Path...)
		b = append(b, ": "...)
		b = append(b, f.Rule...)
	}
	b = append(b, ": "...)
	b = append(b, ErrInvalid.Error()...)
	return string(b)
}

// Unwrap returns ErrInvalid.
func (e *ValidationError) Unwrap() error { return ErrInvalid }
