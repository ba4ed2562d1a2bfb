package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// APIError is an error reply of the hub.
type APIError struct {
	Status  int    // HTTP status code
	Message string // the hub's message
	Code    string // the hub's code for programs, if any (structs.ErrorBody)
	// Errors are the fields at fault by JSON path ("$.dependency",
	// "$.parameters.n"), when the hub names them (structs.ErrorBody).
	Errors []structs.PathError
}

func newAPIError(status int, body []byte) *APIError {
	var eb structs.ErrorBody
	if json.Unmarshal(body, &eb) != nil || eb.Error == "" {
		eb.Error = strings.TrimSpace(string(body))
	}
	return &APIError{Status: status, Message: eb.Error, Code: eb.Code, Errors: eb.Errors}
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("hub: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Unwrap returns the structs error kind of the status (structs.KindOfStatus),
// so that errors.Is(err, structs.ErrNotFound) works.
func (e *APIError) Unwrap() error { return structs.KindOfStatus(e.Status) }

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}
