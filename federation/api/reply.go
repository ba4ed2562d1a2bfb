package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// replyBuffer is a buffer for a reply being encoded and the encoder that
// writes into it (encoding/json's encoder keeps no state between values).
type replyBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
	// jobBuf holds a job encoded by appendJobJSON.
	jobBuf []byte
}

// replyBuffers hold replies being encoded; a buffer that grew past
// maxPooledReply is left to the collector rather than kept.
var replyBuffers = sync.Pool{New: func() any {
	rb := new(replyBuffer)
	rb.enc = json.NewEncoder(&rb.buf)
	return rb
}}

const maxPooledReply = 64 << 10

// jsonContentType is the Content-Type header's value for JSON replies,
// shared by every reply (net/http never changes a header's values).
var jsonContentType = []string{"application/json"}

// writeJSON writes v as the JSON reply with status code (encoding/json's
// encoding, HTML escaped, a newline after it), encoded into a pooled
// buffer; a job by appendJobJSON, to the same bytes.
func writeJSON(w http.ResponseWriter, code int, v any) {
	rb := replyBuffers.Get().(*replyBuffer)
	buf := &rb.buf
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledReply && cap(rb.jobBuf) <= maxPooledReply {
			replyBuffers.Put(rb)
		}
	}()
	if j, ok := v.(*structs.Job); ok && j != nil {
		if b, ok := appendJobJSON(rb.jobBuf[:0], j); ok {
			rb.jobBuf = append(b, '\n')
			writeReply(w, code, rb.jobBuf)
			return
		}
	}
	if err := rb.enc.Encode(v); err != nil {
		code = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal error: encoding reply"}` + "\n")
	}
	writeReply(w, code, buf.Bytes())
}

// autoContentLength: net/http's server sends the Content-Length of a
// reply shorter than this itself, without an allocation, when the handler
// returns without flushing (HTTP/1.1 buffers 2 KB before it chunks a
// reply, HTTP/2 4 KB); setting the header cost two allocations a reply.
const autoContentLength = 2048

// writeReply writes the JSON reply body with status code: the whole reply
// in one write, with its Content-Length (TestReplyContentLength).
func writeReply(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	if len(body) >= autoContentLength {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
