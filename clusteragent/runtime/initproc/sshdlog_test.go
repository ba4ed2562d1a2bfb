package initproc

import (
	"bytes"
	"testing"
)

// TestProbeLogFilter: of what OpenSSH 9.2 logs with -e at INFO (lines
// taken from a real sshd probed by probeSSH, logged into by ssh, and
// sent a bare connect-and-close, as a probe cut short by its job's end
// is), only the probes' "Connection closed by ADDR port N [preauth]"
// lines and a cut probe's kex_exchange_identification pair are dropped,
// whatever the writes' split;
// a refused login's lines and a last unterminated line pass.
func TestProbeLogFilter(t *testing.T) {
	in := "Server listening on 0.0.0.0 port 22740.\n" +
		"Server listening on :: port 22740.\n" +
		"Connection closed by 127.0.0.1 port 59130 [preauth]\n" +
		"Connection closed by fd00::5 port 41328 [preauth]\r\n" +
		"kex_exchange_identification: Connection closed by remote host\n" +
		"Connection closed by 127.0.0.1 port 59140\n" +
		"Connection closed by authenticating user nobody 127.0.0.1 port 59146 [preauth]\n" +
		"Accepted publickey for nobody from 127.0.0.1 port 59150 ssh2: ED25519 SHA256:50O87Zvu\n" +
		"Connection closed by 10.0.0.7 port x [preauth]\n" +
		"Received signal 15; terminating."
	want := "Server listening on 0.0.0.0 port 22740.\n" +
		"Server listening on :: port 22740.\n" +
		"Connection closed by authenticating user nobody 127.0.0.1 port 59146 [preauth]\n" +
		"Accepted publickey for nobody from 127.0.0.1 port 59150 ssh2: ED25519 SHA256:50O87Zvu\n" +
		"Connection closed by 10.0.0.7 port x [preauth]\n" +
		"Received signal 15; terminating."
	for _, size := range []int{1, 7, 64, len(in)} {
		var out bytes.Buffer
		f := &probeLogFilter{out: &out}
		for p := []byte(in); len(p) > 0; {
			n := min(size, len(p))
			if m, err := f.Write(p[:n]); err != nil || m != n {
				t.Fatalf("write of %d: %d, %v", n, m, err)
			}
			p = p[n:]
		}
		if err := f.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Errorf("writes of %d bytes passed:\n%s\nwant:\n%s", size, out.String(), want)
		}
	}
	// A line longer than the bound is passed before it ends.
	var out bytes.Buffer
	f := &probeLogFilter{out: &out}
	long := bytes.Repeat([]byte("x"), maxLogLine+1)
	f.Write(long)
	if out.Len() != len(long) {
		t.Errorf("a line over %d bytes held back: %d passed", maxLogLine, out.Len())
	}
}
