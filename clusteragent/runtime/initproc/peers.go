package initproc

import (
	"bufio"
	"bytes"
	"context"
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
	peerDialTimeout = 3 * time.Second
)

// WaitPeers waits until every host resolves and accepts a TCP connection on
// port, for at most timeout. On timeout it returns an error wrapping
// ErrPeerTimeout that names each host still missing and why; when ctx ends
// first it returns ctx's cause.
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

// waitPeer dials addr until it connects or ctx ends; it returns nil or the
// last dial error.
func waitPeer(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: peerDialTimeout}
	wait := peerRetryMin
	var last error
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if ctx.Err() != nil && last != nil {
			return last // the dial cut short by the deadline says less
		}
		last = err
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
