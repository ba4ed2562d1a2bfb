package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// replyBuffer is a buffer for a reply being encoded and the encoder that
// writes into it (encoding/json's encoder keeps no state between values).
type replyBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
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
// buffer.
func writeJSON(w http.ResponseWriter, code int, v any) {
	rb := replyBuffers.Get().(*replyBuffer)
	buf := &rb.buf
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledReply {
			replyBuffers.Put(rb)
		}
	}()
	if err := rb.enc.Encode(v); err != nil {
		code = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal error: encoding reply"}` + "\n")
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}
