package api

import (
	"bytes"
	"io"
	"sync"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// A job submission as the Go client, the CLI and most scripts send it —
// a flat object of plain strings and small integers — is decoded without
// encoding/json's reflection (decodeSubmitFast). Everything else, and
// every body the fast path is not sure of, goes to the generic decoder
// (decodeStrict) on the same bytes, so that what is accepted, what is
// refused and every refusal's message stay the generic decoder's
// (FuzzSubmitFastDecoder checks it).

// maxFastSubmit bounds the bodies the fast path reads into a pooled
// buffer and tries; longer ones are read by the generic decoder.
const maxFastSubmit = 4 << 10

var submitBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// decodeJobSubmit decodes a submission; admission checks it
// (federation/jobs, structs.JobSubmitRequest.Validate).
func decodeJobSubmit(r io.Reader) (*structs.JobSubmitRequest, error) {
	buf := submitBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 2*maxFastSubmit {
			submitBuffers.Put(buf)
		}
	}()
	_, err := buf.ReadFrom(io.LimitReader(r, maxFastSubmit+1))
	if err == nil && buf.Len() <= maxFastSubmit {
		if req, ok := decodeSubmitFast(buf.Bytes()); ok {
			return req, nil
		}
	}
	// The generic decoder reads what was read, then the rest of the body
	// (or the error the read ended with) as if nothing had been read.
	var rest io.Reader = r
	if err != nil {
		rest = errReader{err}
	}
	return decodeValue[structs.JobSubmitRequest](io.MultiReader(bytes.NewReader(buf.Bytes()), rest), nil)
}

// errReader returns err on every read.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// submitField is where a member of a submission goes in the fast path;
// members it does not list (maps, durations, the array spec) send the
// body to the generic decoder.
type submitField struct {
	str *string
	num *int
}

// submitFieldOf is where the member name of q goes, for the fast path's
// members (by their exact JSON names).
func submitFieldOf(q *structs.JobSubmitRequest, name []byte) (submitField, bool) {
	switch string(name) { // no allocation: the compiler compares in place
	case "id":
		return submitField{str: &q.ID}, true
	case "app":
		return submitField{str: &q.App}, true
	case "command":
		return submitField{str: &q.Command}, true
	case "machine_type":
		return submitField{str: &q.MachineType}, true
	case "nodes":
		return submitField{num: &q.Nodes}, true
	case "vault":
		return submitField{str: &q.Vault}, true
	case "priority":
		return submitField{str: (*string)(&q.Priority)}, true
	case "label":
		return submitField{str: &q.Label}, true
	case "project":
		return submitField{str: &q.Project}, true
	case "team":
		return submitField{str: &q.Team}, true
	case "callback_url":
		return submitField{str: &q.CallbackURL}, true
	case "task_retries":
		return submitField{num: &q.TaskRetries}, true
	case "pull_secret":
		return submitField{str: &q.PullSecret}, true
	case "dependency":
		return submitField{str: &q.Dependency}, true
	case "workdir":
		return submitField{str: &q.Workdir}, true
	}
	return submitField{}, false
}

// decodeSubmitFast decodes body when it is one JSON object, surrounded
// by whitespace only, whose members are the names submitFields lists,
// each at most once, with strings of printable ASCII without escapes and
// integers of at most 18 digits. Anything else: ok is false. The strings
// share one copy of the body.
func decodeSubmitFast(body []byte) (req *structs.JobSubmitRequest, ok bool) {
	p := fastParser{b: body}
	p.space()
	if !p.byte('{') {
		return nil, false
	}
	q := new(structs.JobSubmitRequest)
	var names [16][]byte // the member names so far
	var seen uint32
	var copied string // the body as a string, made at the first string value
	p.space()
	if !p.byte('}') {
		for {
			p.space()
			name, ok := p.plainString()
			if !ok {
				return nil, false
			}
			f, known := submitFieldOf(q, name)
			if !known {
				return nil, false
			}
			if seen == uint32(len(names)) {
				return nil, false
			}
			for _, prev := range names[:seen] {
				if bytes.Equal(prev, name) {
					return nil, false // repeated: the generic decoder decides
				}
			}
			names[seen] = name
			seen++
			p.space()
			if !p.byte(':') {
				return nil, false
			}
			p.space()
			switch {
			case f.str != nil:
				start := p.i + 1
				v, ok := p.plainString()
				if !ok {
					return nil, false
				}
				if copied == "" {
					copied = string(body)
				}
				*f.str = copied[start : start+len(v)]
			default:
				n, ok := p.integer()
				if !ok {
					return nil, false
				}
				*f.num = n
			}
			p.space()
			if p.byte(',') {
				continue
			}
			if p.byte('}') {
				break
			}
			return nil, false
		}
	}
	p.space()
	if p.i != len(p.b) {
		return nil, false
	}
	return q, true
}

// fastParser reads the subset of JSON decodeSubmitFast accepts.
type fastParser struct {
	b []byte
	i int
}

// space skips JSON whitespace.
func (p *fastParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c if it comes next.
func (p *fastParser) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// plainString reads a string of printable ASCII without escapes and
// returns its contents (a slice of the body).
func (p *fastParser) plainString() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// integer reads an integer of at most 18 digits (no fraction, no
// exponent: those go to the generic decoder, which refuses them for an
// int or not).
func (p *fastParser) integer() (int, bool) {
	neg := p.byte('-')
	start := p.i
	var n int64
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		n = n*10 + int64(p.b[p.i]-'0')
		p.i++
	}
	digits := p.i - start
	if digits == 0 || digits > 18 || (digits > 1 && p.b[start] == '0') {
		return 0, false
	}
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	if int64(int(n)) != n {
		return 0, false // past a 32-bit int: the generic decoder refuses it
	}
	return int(n), true
}
