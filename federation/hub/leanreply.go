package hub

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// leanWriter is the lean path's http.ResponseWriter: it buffers the reply
// and writes it in one write when the handler returns (finish).
type leanWriter struct {
	c       *leanConn
	r       *http.Request
	header  http.Header
	code    int
	wrote   bool
	wdl     bool // the handler set a write deadline
	body    []byte
	out     []byte
	keys    []string
	noWrite bool // the reply carries no body (204, 304)
}

// leanMaxKeep bounds the buffers a connection keeps between requests.
const leanMaxKeep = 64 << 10

func (w *leanWriter) reset(r *http.Request) {
	clear(w.header)
	w.r, w.code, w.wrote, w.wdl, w.noWrite = r, 0, false, false, false
	w.body = w.body[:0]
}

func (w *leanWriter) Header() http.Header { return w.header }

func (w *leanWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.wrote {
		w.c.s.errLog.Printf("http: superfluous response.WriteHeader call")
		return
	}
	if code >= 100 && code <= 199 {
		return // informational replies: none on the routes the lean path serves
	}
	w.wrote, w.code = true, code
	w.noWrite = code == http.StatusNoContent || code == http.StatusNotModified
}

func (w *leanWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.noWrite {
		return 0, http.ErrBodyNotAllowed
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

func (w *leanWriter) WriteString(s string) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.noWrite {
		return 0, http.ErrBodyNotAllowed
	}
	w.body = append(w.body, s...)
	return len(s), nil
}

// SetWriteDeadline sets the connection's write deadline (through
// http.ResponseController, as the API does per request).
func (w *leanWriter) SetWriteDeadline(t time.Time) error {
	w.wdl = true
	return w.c.nc.SetWriteDeadline(t)
}

// SetReadDeadline sets the connection's read deadline.
func (w *leanWriter) SetReadDeadline(t time.Time) error { return w.c.nc.SetReadDeadline(t) }

// finish writes the reply in one write: false when the write failed.
func (w *leanWriter) finish(keep bool) bool {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if !w.wdl {
		_ = w.c.nc.SetWriteDeadline(w.c.s.wall().Add(leanReplyTimeout))
	}
	b := w.out[:0]
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.code), 10)
	b = append(b, ' ')
	if text := http.StatusText(w.code); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(w.code), 10)
	}
	b = append(b, "\r\n"...)
	h := w.header
	if !w.noWrite {
		if _, ok := h["Content-Type"]; !ok && len(w.body) > 0 {
			h["Content-Type"] = []string{http.DetectContentType(w.body)}
		}
	}
	keys := w.keys[:0]
	for k := range h {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection", "Date":
			continue // the lean path writes its own
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.keys = keys
	for _, k := range keys {
		if !validHeaderName(k) {
			continue
		}
		for _, v := range h[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendHeaderValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "Date: "...)
	if d := h["Date"]; len(d) > 0 {
		b = appendHeaderValue(b, d[0])
	} else {
		b = append(b, w.c.s.dateHeader()...)
	}
	b = append(b, "\r\n"...)
	if !w.noWrite {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(w.body)), 10)
		b = append(b, "\r\n"...)
	}
	if !keep {
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	if !w.noWrite {
		b = append(b, w.body...)
	}
	_, err := w.c.nc.Write(b)
	if cap(b) <= leanMaxKeep {
		w.out = b[:0]
	} else {
		w.out = nil
	}
	if cap(w.body) > leanMaxKeep {
		w.body = nil
	}
	w.r = nil
	return err == nil
}

// appendHeaderValue appends v with line breaks turned into spaces and the
// surrounding white space trimmed, as net/http writes header values.
func appendHeaderValue(b []byte, v string) []byte {
	v = strings.TrimSpace(v)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// validHeaderName: a reply header of another name is not written (as
// net/http).
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isTokenChar(k[i]) {
			return false
		}
	}
	return true
}
