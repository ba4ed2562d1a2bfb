package hub

import (
	"bytes"
	"net/http"
	"strings"
)

// The lean server's request parser (leanserve.go): strict RFC 9112 for
// the few requests the lean path serves; anything it does not serve is
// handed to net/http untouched.

// leanVerdict is what the lean path does with a request head.
type leanVerdict int

const (
	leanServe   leanVerdict = iota // a hot call the lean path serves
	leanHandOff                    // net/http serves it (and the connection from then on)
	leanBad                        // malformed: 400 and close
	leanMore                       // the head is not complete yet
)

// leanRoutes are the request targets (before any query) the lean path
// serves, all by POST: the submissions.
var leanRoutes = [...]string{"/v1/jobs", "/v1/jobs/batch", "/jarvice/submit"}

// leanHead is a parsed request head.
type leanHead struct {
	path, rawQuery, target string
	host                   string
	contentLength          int64
	close                  bool
	header                 http.Header
}

// leanRequestLine checks the head's first line, buf holding it (and maybe
// more): leanMore until a line end is buffered, leanServe for
// "POST <hot route>[?query] HTTP/1.1\r\n" (the route's length returned
// in n, the target's in t), leanHandOff for anything else.
func leanRequestLine(buf []byte) (v leanVerdict, target []byte) {
	nl := bytes.IndexByte(buf, '\n')
	if nl < 0 {
		return leanMore, nil
	}
	line := buf[:nl+1]
	const method, version = "POST ", " HTTP/1.1\r\n"
	if !bytes.HasPrefix(line, []byte(method)) || !bytes.HasSuffix(line, []byte(version)) || len(line) < len(method)+len(version)+1 {
		return leanHandOff, nil
	}
	target = line[len(method) : len(line)-len(version)]
	path, query, hasQuery := bytes.Cut(target, []byte{'?'})
	hot := false
	for _, r := range leanRoutes {
		if string(path) == r {
			hot = true
			break
		}
	}
	if !hot {
		return leanHandOff, nil
	}
	if hasQuery {
		for _, c := range query {
			// A query of visible characters, no fragment: anything else
			// net/http's own parser judges.
			if c < 0x21 || c > 0x7e || c == '#' {
				return leanHandOff, nil
			}
		}
	}
	return leanServe, target
}

// leanHeadEnd returns the length of the head in buf (through its empty
// line), -1 while it is not complete, or leanBad for a bare LF (RFC 9112
// lets a server reject it; a lenient reading of line ends is one of the
// ways to smuggle a request past a proxy).
func leanHeadEnd(buf []byte) (int, leanVerdict) {
	start := 0
	for {
		i := bytes.IndexByte(buf[start:], '\n')
		if i < 0 {
			return -1, leanMore
		}
		i += start
		if i == 0 || buf[i-1] != '\r' {
			return -1, leanBad
		}
		if i-1 == start {
			return i + 1, leanServe
		}
		start = i + 1
	}
}

// parseLeanHead parses a complete head (request line checked by
// leanRequestLine, through the empty line) into h, whose header map the
// caller provides empty. s is the head as a string (the header values are
// its substrings: one allocation for all of them). The reason says why a
// head is refused (leanBad) or handed off.
func parseLeanHead(s string, h *leanHead) (leanVerdict, string) {
	nl := strings.IndexByte(s, '\n')
	line := s[:nl+1]
	h.target = line[len("POST ") : len(line)-len(" HTTP/1.1\r\n")]
	h.path, h.rawQuery, _ = strings.Cut(h.target, "?")
	h.contentLength, h.close = 0, false
	rest := s[nl+1:]
	lines := strings.Count(rest, "\n")
	vals := make([]string, lines)
	hosts, lengths := 0, 0
	handOff, hasTE := "", false
	for n := 0; ; n++ {
		nl := strings.IndexByte(rest, '\n')
		line := rest[:nl-1] // without CRLF (leanHeadEnd checked the CR)
		rest = rest[nl+1:]
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return leanBad, "obsolete line folding"
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return leanBad, "malformed header line"
		}
		name := line[:colon]
		for i := 0; i < len(name); i++ {
			if !isTokenChar(name[i]) {
				return leanBad, "invalid header name"
			}
		}
		value := strings.Trim(line[colon+1:], " \t")
		for i := 0; i < len(value); i++ {
			if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
				return leanBad, "invalid header value"
			}
		}
		key := http.CanonicalHeaderKey(name)
		switch key {
		case "Host":
			hosts++
			if !validHost(value) {
				return leanBad, "malformed Host header"
			}
			h.host = value
			continue // net/http keeps the host in Request.Host only
		case "Content-Length":
			lengths++
			cl, ok := parseContentLength(value)
			if !ok {
				return leanBad, "bad Content-Length"
			}
			h.contentLength = cl
		case "Transfer-Encoding":
			hasTE = true
			handOff = "transfer coding"
		case "Expect":
			handOff = "expectation"
		case "Upgrade":
			handOff = "upgrade"
		case "Connection":
			for _, tok := range strings.Split(value, ",") {
				switch tok = strings.TrimSpace(tok); {
				case strings.EqualFold(tok, "close"):
					h.close = true
				case strings.EqualFold(tok, "upgrade"):
					handOff = "upgrade"
				}
			}
		}
		if vs := h.header[key]; vs != nil {
			h.header[key] = append(vs, value)
			continue
		}
		vals[n] = value
		h.header[key] = vals[n : n+1 : n+1]
	}
	switch {
	case lengths > 1:
		return leanBad, "duplicate Content-Length"
	case lengths > 0 && hasTE:
		return leanBad, "both Content-Length and Transfer-Encoding"
	case hosts == 0:
		return leanBad, "missing required Host header"
	case hosts > 1:
		return leanBad, "too many Host headers"
	case handOff != "":
		return leanHandOff, handOff
	}
	return leanServe, ""
}

// parseContentLength accepts 1 to 18 decimal digits, nothing else (no
// sign, no list, no spaces).
func parseContentLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// isTokenChar reports whether c may appear in a header name (RFC 9110
// tchar).
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validHost accepts what a Host header may carry: a host name, an IP
// literal in brackets, a port; as net/http, the characters of those and
// no more.
func validHost(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			continue
		}
		if strings.IndexByte("!$&'()*+,-.:;=[]_~%@", c) < 0 {
			return false
		}
	}
	return true
}
