package initproc

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// probeLogFilter passes the image's sshd's log (-e: its stderr) to the
// job's output line by line, without the lines each readiness probe
// (probeSSH) makes OpenSSH log at INFO: "Connection closed by ADDR port
// N [preauth]", or for a probe cut before its identification the pair
// isProbeClose lists. Every way of probing a port sshd accepts is logged
// at INFO, and a lower LogLevel would hide
// sshd's diagnostics with it ("Server listening", refused logins), as
// would a Match block (not applied before authentication). A client
// that tried to authenticate is logged otherwise ("... by authenticating
// user U ...", "invalid user"), and passes.
type probeLogFilter struct {
	mu   sync.Mutex
	out  io.Writer
	line []byte // a line not ended yet
}

// maxLogLine bounds a line held back: a longer one is passed as it is.
const maxLogLine = 4 << 10

func (f *probeLogFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			f.line = append(f.line, p...)
			if len(f.line) > maxLogLine {
				return n, f.flushLocked()
			}
			return n, nil
		}
		f.line = append(f.line, p[:i+1]...)
		p = p[i+1:]
		if isProbeClose(f.line) {
			f.line = f.line[:0]
			continue
		}
		if err := f.flushLocked(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Flush passes a last line that did not end.
func (f *probeLogFilter) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flushLocked()
}

func (f *probeLogFilter) flushLocked() error {
	if len(f.line) == 0 {
		return nil
	}
	_, err := f.out.Write(f.line)
	f.line = f.line[:0]
	return err
}

// isProbeClose reports whether line is exactly one of OpenSSH's records
// of a client that closed before trying to authenticate: after the
// identification exchange "Connection closed by ADDR port N [preauth]";
// before it (a probe cut short, e.g. by its job ending),
// "kex_exchange_identification: Connection closed by remote host"
// followed by "Connection closed by ADDR port N".
func isProbeClose(line []byte) bool {
	l := strings.TrimRight(string(line), "\r\n")
	if l == "kex_exchange_identification: Connection closed by remote host" {
		return true
	}
	rest, ok := strings.CutPrefix(l, "Connection closed by ")
	if !ok {
		return false
	}
	f := strings.Fields(rest)
	if len(f) < 3 || len(f) > 4 || f[1] != "port" || f[2] == "" || (len(f) == 4 && f[3] != "[preauth]") {
		return false
	}
	for _, c := range f[2] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
