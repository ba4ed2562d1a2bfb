package api

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// jarviceArgs are the arguments of one JARVICE call. As the reference
// says every endpoint accepts GET and POST, they come from the query
// string, a form body (URL-encoded, or multipart as curl -F sends it) or
// a JSON body (its top-level strings, numbers and booleans, and its user
// object); the query wins where both name one. A
// body that starts with "{" is JSON whatever its Content-Type: JARVICE's
// own scripts post JSON with curl -d, which labels it a form.
type jarviceArgs struct {
	url.Values
	body []byte // the request body, for the endpoints that take a document
}

func (c *call) jarviceArgs() (*jarviceArgs, error) {
	a := &jarviceArgs{Values: c.r.URL.Query()}
	body, err := io.ReadAll(c.body())
	if err != nil {
		return nil, decodeError(err)
	}
	a.body = body
	add := func(k, v string) {
		if !a.Has(k) {
			a.Set(k, v)
		}
	}
	ct, params, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
	case ct == "multipart/form-data":
		// curl -F, as PushToCompute scripts call /jarvice/pull.
		form, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(int64(len(body)) + 1)
		if err != nil {
			return nil, invalid("multipart form body: %v", err)
		}
		defer form.RemoveAll()
		for k, vs := range form.Value {
			if len(vs) > 0 {
				add(k, vs[0])
			}
		}
	case ct != "application/json" && trimmed[0] != '{':
		form, err := url.ParseQuery(string(trimmed))
		if err != nil {
			return nil, invalid("form body: %v", err)
		}
		for k, vs := range form {
			if len(vs) > 0 {
				add(k, vs[0])
			}
		}
	case trimmed[0] == '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &m); err != nil {
			return nil, invalid("JSON body: %v", err)
		}
		for k, raw := range m {
			if k == "user" {
				var u structs.JarviceUser
				if json.Unmarshal(raw, &u) == nil && u.Username != "" {
					add("username", u.Username)
					add("apikey", u.APIKey)
				}
				continue
			}
			if v, err := scalarText(raw); err == nil {
				add(k, v)
			}
		}
	}
	return a, nil
}

// errRunningJobNotFound is the reference's answer about a job that is not
// running (shutdown, signal, connect, tail, screenshot): 404 with exactly
// this message, which scripts compare whole.
var errRunningJobNotFound error = &jarviceError{msg: "Running job is not found", kind: structs.ErrNotFound}

// jarviceError is an error whose message is the reference's own, without
// the kind Flotilla's errors add to theirs.
type jarviceError struct {
	msg  string
	kind error
}

func (e *jarviceError) Error() string { return e.msg }
func (e *jarviceError) Unwrap() error { return e.kind }

// writeJarviceJSON writes a JARVICE reply the way the reference's server
// prints its JSON errors — indented by four spaces, a newline after it
// ({\n    "error": "Running job is not found"\n}\n): scripts compare
// the body of a tail of a job no longer running with those very bytes.
func writeJarviceJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error": "internal error: encoding reply"}`)
	}
	writeReply(w, code, append(b, '\n'))
}

// jarviceText is the Content-Type of the JARVICE API's text replies
// (output, tail, events, history, audit): exactly "text/plain", which the
// jarviceclient Python library compares the header with.
const jarviceText = "text/plain"

// flag reads a boolean argument (default false).
func (a *jarviceArgs) flag(k string) (bool, error) {
	v := a.Get(k)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalid("%s: want true or false", k)
	}
	return b, nil
}

// intArg reads a whole-number argument, def when absent.
func (a *jarviceArgs) intArg(k string, def int) (int, error) {
	v := a.Get(k)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, invalid("%s: want a whole number", k)
	}
	return n, nil
}

// jarviceLogin reads the call's arguments and authenticates the caller by
// username and apikey.
func (s *Server) jarviceLogin(c *call) (*jarviceArgs, error) {
	a, err := c.jarviceArgs()
	if err != nil {
		return nil, err
	}
	return a, c.jarviceAuth(&structs.JarviceUser{Username: a.Get("username"), APIKey: a.Get("apikey")})
}

// jarviceJob finds the job the arguments name (name, as /jarvice/submit
// returned it, or number) that the caller may see; a job that does not
// exist is 404, confirmed with a linearizable read, a number that is not
// one 400.
func (c *call) jarviceJob(a *jarviceArgs) (*structs.Job, error) {
	name, numText := a.Get("name"), a.Get("number")
	if numText == "" && name != "" {
		numText = name[strings.LastIndexByte(name, '-')+1:]
	}
	if numText == "" {
		return nil, invalid("name or number is required")
	}
	num, err := strconv.ParseUint(numText, 10, 64)
	switch {
	case err != nil && a.Get("number") != "":
		return nil, invalid("number %q: want the job's number, a whole number", numText)
	case err != nil:
		return nil, structs.Errorf(structs.ErrNotFound, "job %q", name)
	}
	j, err := fresh(c, func(r *state.ReadTxn) (*structs.Job, error) { return r.JobByNumber(num) })
	if err != nil {
		return nil, err
	}
	if name != "" && j.Name != name {
		return nil, structs.Errorf(structs.ErrNotFound, "job %q", name)
	}
	return j, c.id.CheckReadJob(j)
}
