package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// cancelAtDeadline is a connection whose exchange is cancelled at one of
// its read deadline changes: when the exchange sets the deadline matching
// at, the context is cancelled and the cancellation's own deadline (the
// AfterFunc's) set before the exchange's change goes through, the order
// in which a cancellation just before the change lands.
type cancelAtDeadline struct {
	net.Conn
	at     func(time.Time) bool
	cancel context.CancelFunc
	once   sync.Once
	past   chan struct{} // closed when a past deadline was set
	pastMu sync.Once
}

func (c *cancelAtDeadline) SetReadDeadline(t time.Time) error {
	if c.at(t) {
		c.once.Do(func() {
			c.cancel()
			select {
			case <-c.past:
			case <-time.After(10 * time.Second): // the AfterFunc never ran: the test fails below
			}
		})
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *cancelAtDeadline) SetDeadline(t time.Time) error {
	err := c.Conn.SetDeadline(t)
	if t.Before(time.Now()) {
		c.pastMu.Do(func() { close(c.past) })
	}
	return err
}

// A call cancelled while the lean round trip moves its read deadline (the
// header wait's start, or its end once the headers are read) ends with
// its context, and does not wait on a reply body the server holds back:
// before the fix, the exchange's deadline replaced the cancellation's
// past one and the body's read waited for as long as the server did
// (TestLeanNoReplyAndCancelMidReply hung so under load).
func TestLeanCancelKeepsItsDeadline(t *testing.T) {
	for name, at := range map[string]func(time.Time) bool{
		"before the header wait": func(t time.Time) bool { return !t.IsZero() },
		"after the headers":      func(t time.Time) bool { return t.IsZero() },
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			hold := make(chan struct{})
			defer close(hold)
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				defer nc.Close()
				if _, err := http.ReadRequest(bufio.NewReader(nc)); err != nil {
					return
				}
				_, _ = io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":")
				<-hold // the rest of the body never comes
			}()
			raw, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			nc := &cancelAtDeadline{Conn: raw, at: at, cancel: cancel, past: make(chan struct{})}
			defer nc.Close()
			lc := &leanConn{nc: nc, br: bufio.NewReaderSize(nc, 4096), bw: bufio.NewWriterSize(nc, 4096)}
			lc.tp.R = lc.br
			p := &leanPool{idle: make(map[string][]*leanConn), timeout: time.Minute}
			target := &leanTarget{addr: ln.Addr().String(), host: ln.Addr().String(), key: ln.Addr().String()}
			done := make(chan error, 1)
			go func() {
				_, err, _ := p.exchange(ctx, lc, target, http.MethodPost, "/v1/jobs", "", "", []byte(`{}`), nil)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("exchange: %v, want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				raw.Close() // frees the exchange
				t.Fatalf("the exchange still waits 10 s after its context was cancelled (%v)", <-done)
			}
		})
	}
}
