package initproc

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The control protocol tells workers that the head is done. Each worker
// dials the head's control port as soon as it starts and keeps that one TCP
// connection open for the life of the job. When the head's command exits,
// the head writes "done STATUS\n" on every connection, and each worker closes
// its end and exits. The head waits (bounded by Linger) until every worker
// has taken the message, so a worker that connects late still hears it, and
// a worker still waiting for its peers (one may have left already) stops
// waiting. A worker whose connection breaks without the message redials for
// at most HeadTimeout, then gives up with ErrHeadLost; TCP keep-alive bounds
// how long a vanished head goes unseen.

const doneWord = "done"

// doneNotifier is the head's end of the control protocol.
type doneNotifier struct {
	ln      net.Listener
	log     *slog.Logger
	done    chan struct{} // closed when status is set
	status  int
	changed chan struct{} // a value after delivered grew
	wg      sync.WaitGroup

	mu        sync.Mutex
	delivered int // workers that took "done"
}

// newDoneNotifier starts accepting workers on ln.
func newDoneNotifier(ln net.Listener, log *slog.Logger) *doneNotifier {
	n := &doneNotifier{
		ln: ln, log: log,
		done:    make(chan struct{}),
		changed: make(chan struct{}, 1),
	}
	n.wg.Go(n.accept)
	return n
}

func (n *doneNotifier) accept() {
	for {
		c, err := n.ln.Accept()
		if err != nil {
			return // closed by finish
		}
		n.wg.Go(func() { n.serve(c) })
	}
}

// serve holds one worker's connection until the head is done or the worker
// goes away.
func (n *doneNotifier) serve(c net.Conn) {
	defer c.Close()
	gone := make(chan struct{})
	go func() {
		var b [1]byte
		c.Read(b[:]) // the worker sends nothing: this ends at its close
		close(gone)
	}()
	select {
	case <-gone:
		return
	case <-n.done:
	}
	c.SetDeadline(time.Now().Add(peerDialTimeout))
	if _, err := fmt.Fprintf(c, "%s %d\n", doneWord, n.status); err != nil {
		return
	}
	<-gone // the worker closes once it has read the line, or the deadline passes
	n.mu.Lock()
	n.delivered++
	n.mu.Unlock()
	select {
	case n.changed <- struct{}{}:
	default:
	}
}

// finish tells every worker, now and within linger, that the head is done
// with status. It returns when workers have all taken the message or linger
// passed, and the workers connected by then have been told (each bounded by
// a write/read deadline).
func (n *doneNotifier) finish(status, workers int, linger time.Duration) {
	n.status = status
	close(n.done)
	t := time.NewTimer(linger)
	defer t.Stop()
wait:
	for {
		n.mu.Lock()
		got := n.delivered
		n.mu.Unlock()
		if got >= workers {
			break
		}
		select {
		case <-n.changed:
		case <-t.C:
			n.log.Warn("workers did not all take the done message", "took", got, "workers", workers, "linger", linger)
			break wait
		}
	}
	n.ln.Close()
	n.wg.Wait()
}

// waitHeadDone is the worker's end: it returns the head's status once the
// head says it is done. Reaching the head the first time may take up to
// first (the pods start at different times); after a broken connection it
// may take up to lost. Past either it returns an ErrHeadLost error; when ctx
// ends, ctx's cause.
// connected, when not nil, is closed at the first connection.
func waitHeadDone(ctx context.Context, head string, port int, first, lost time.Duration,
	connected chan<- struct{}, log *slog.Logger) (int, error) {
	addr := net.JoinHostPort(head, strconv.Itoa(port))
	d := net.Dialer{Timeout: peerDialTimeout, KeepAliveConfig: keepAlive()}
	within := first
	for {
		c, err := dialWithin(ctx, &d, addr, within)
		if err != nil {
			if ctx.Err() != nil {
				return 0, context.Cause(ctx)
			}
			return 0, fmt.Errorf("%w: control port %s unreachable for %s: %w", ErrHeadLost, addr, within, err)
		}
		within = lost
		if connected != nil {
			close(connected)
			connected = nil
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		line, err := bufio.NewReader(c).ReadString('\n')
		stop()
		c.Close()
		if f := strings.Fields(line); len(f) == 2 && f[0] == doneWord {
			status, perr := strconv.Atoi(f[1])
			if perr == nil {
				return status, nil
			}
		}
		if ctx.Err() != nil {
			return 0, context.Cause(ctx)
		}
		log.Warn("lost the connection to the head; redialling", "addr", addr, "err", err)
	}
}

// dialWithin dials addr, retrying until it connects or within passes.
func dialWithin(ctx context.Context, d *net.Dialer, addr string, within time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	wait := peerRetryMin
	var last error
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c, nil
		}
		if last == nil || ctx.Err() == nil {
			last = err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, last
		case <-t.C:
		}
		wait = min(2*wait, peerRetryMax)
	}
}
