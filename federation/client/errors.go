package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// ErrTooLarge is the kind of a 413 reply: the request body was too large.
var ErrTooLarge = errors.New("request too large")

// APIError is an error reply of the hub.
type APIError struct {
	Status  int    // HTTP status code
	Message string // the hub's message
}

func newAPIError(status int, body []byte) *APIError {
	var eb structs.ErrorBody
	if json.Unmarshal(body, &eb) != nil || eb.Error == "" {
		eb.Error = strings.TrimSpace(string(body))
	}
	return &APIError{Status: status, Message: eb.Error}
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("hub: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Unwrap returns the structs error kind of the status, so that
// errors.Is(err, structs.ErrNotFound) works.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusBadRequest:
		return structs.ErrInvalid
	case http.StatusUnauthorized:
		return structs.ErrUnauthorized
	case http.StatusForbidden:
		return structs.ErrForbidden
	case http.StatusNotFound:
		return structs.ErrNotFound
	case http.StatusConflict:
		return structs.ErrConflict
	case http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	case http.StatusMisdirectedRequest:
		return structs.ErrNotLeader
	case http.StatusTooManyRequests:
		return structs.ErrRateLimited
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return structs.ErrUnavailable
	}
	return nil
}

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}
