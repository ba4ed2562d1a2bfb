package initproc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ReadNodes reads a machinefile: one host per line, head first. Blank lines
// and lines starting with # are skipped; only the first word of a line counts.
func ReadNodes(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: read machinefile: %w", ErrSetup, err)
	}
	var hosts []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		hosts = append(hosts, f[0])
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("%w: machinefile %s lists no host", ErrSetup, path)
	}
	return hosts, nil
}

// Bounds of the retry interval while waiting for a peer.
const (
	peerRetryMin    = 100 * time.Millisecond
	peerRetryMax    = 2 * time.Second
	peerDialTimeout = 3 * time.Second // one probe: connect and identification
)

// WaitPeers waits until every host resolves and its SSH server on port
// answers with its identification string (probeSSH), for at most timeout.
// On timeout it returns an error wrapping ErrPeerTimeout that names each
// host still missing and why; when ctx ends first it returns ctx's cause.
func WaitPeers(ctx context.Context, hosts []string, port int, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { errs[i] = waitPeer(wctx, net.JoinHostPort(h, strconv.Itoa(port))) })
	}
	wg.Wait()
	var missing []string
	for i, err := range errs {
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (%v)", hosts[i], err))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return fmt.Errorf("%w (%s): %d of %d nodes not reachable on port %d: %s", ErrPeerTimeout,
		timeout, len(missing), len(hosts), port, strings.Join(missing, "; "))
}

// waitPeer probes addr until its SSH server answers or ctx ends; it
// returns nil or the last probe's error.
func waitPeer(ctx context.Context, addr string) error {
	wait := peerRetryMin
	var last error
	for {
		err := probeSSH(ctx, addr)
		if err == nil {
			return nil
		}
		// A probe that timed out (often the deadline of the whole wait,
		// reached before ctx says so) says less than an earlier failure.
		if last == nil || !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
			last = err
		}
		if ctx.Err() != nil {
			return last
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return last
		case <-t.C:
		}
		wait = min(2*wait, peerRetryMax)
	}
}

// ProbeIdent is the identification string the readiness probe sends (RFC
// 4253 4.2): it names the probe in a server's debug log.
const ProbeIdent = "SSH-2.0-flotilla-init-probe"

// maxIdentLines bounds the lines a server may send before its
// identification (RFC 4253 allows some).
const maxIdentLines = 16

// probeSSH connects to the SSH server at addr, reads its identification
// string and sends the probe's own before it closes. A server that got no
// identification logs the close as an error of the key exchange
// (OpenSSH: "kex_exchange_identification: Connection closed by remote
// host"), which would land in every job's output; having both sides'
// identifications, OpenSSH logs only that the client closed before
// authenticating, at INFO ("Connection closed by ADDR port N [preauth]"),
// a line probeLogFilter keeps out of the job's output.
// A server that accepts and closes without identifying itself (OpenSSH
// over its MaxStartups) is not ready.
func probeSSH(ctx context.Context, addr string) error {
	pctx, cancel := context.WithTimeout(ctx, peerDialTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(pctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := pctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(pctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	r := bufio.NewReaderSize(c, 256)
	for range maxIdentLines {
		line, err := r.ReadString('\n')
		if strings.HasPrefix(line, "SSH-") {
			_, err = c.Write([]byte(ProbeIdent + "\r\n"))
			return err
		}
		if err != nil {
			return fmt.Errorf("no SSH identification from %s: %w", addr, err)
		}
	}
	return fmt.Errorf("no SSH identification from %s in its first %d lines", addr, maxIdentLines)
}
