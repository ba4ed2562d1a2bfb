package gke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/oauth2"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
)

// Google's public REST endpoints of the APIs `up` calls besides GKE's.
const (
	DefaultIAMURL             = "https://iam.googleapis.com"
	DefaultResourceManagerURL = "https://cloudresourcemanager.googleapis.com"
)

// apiError is a Google REST API error: the HTTP code, the canonical
// status (PERMISSION_DENIED, ABORTED, ...) and the message.
type apiError struct {
	HTTPCode int
	Status   string
	Message  string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (%s, HTTP %d)", e.Message, e.Status, e.HTTPCode)
}

// googleError is the body of a Google REST error.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// maxBody bounds what is read of a response.
const maxBody = 4 << 20

// httpClient is the client of the REST calls: the caller's, or one that
// adds the credentials' access token.
func (p *Provider) httpClient() *http.Client {
	if p.opts.HTTPClient != nil {
		return p.opts.HTTPClient
	}
	if p.http == nil {
		p.http = oauth2.NewClient(context.Background(), p.tokens)
	}
	return p.http
}

// call sends a JSON request to a Google REST API and decodes the answer
// into out (if not nil). A refusal is an *apiError.
func (p *Provider) call(ctx context.Context, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var ge googleError
		ae := &apiError{HTTPCode: resp.StatusCode, Status: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(data))}
		if json.Unmarshal(data, &ge) == nil && ge.Error.Message != "" {
			ae.Message = ge.Error.Message
			if ge.Error.Status != "" {
				ae.Status = ge.Error.Status
			}
		}
		return ae
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, url, err)
	}
	return nil
}

// restStatus is the canonical status of a REST error ("" if err is not one).
func restStatus(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return ""
}

// restError turns a REST refusal into the engine's error: the status as
// the code, the message, and — for PERMISSION_DENIED — the permission the
// caller lacks (need).
func restError(op string, err error, need string) error {
	var ae *apiError
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", op, err)
	}
	msg := ae.Message
	if ae.Status == "PERMISSION_DENIED" && need != "" {
		msg = strings.TrimSuffix(msg, ".") + "; up needs " + need
	}
	return &cloud.Error{Op: op, Code: ae.Status, Message: msg}
}
