package structs

import (
	"errors"
	"fmt"
)

// Sentinel errors name the kind of a failure. Wrap them (Errorf, %w) and test
// with errors.Is; the API layer maps each kind to one HTTP status.
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
)

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
	for _, k := range [...]error{ErrNotFound, ErrConflict, ErrInvalid, ErrForbidden,
		ErrUnauthorized, ErrNotLeader, ErrUnavailable} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

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
