package faultnet

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
)

// echo accepts connections on ln and echoes what it reads, until ln closes.
func echo(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

func listen(t *testing.T, f *Net, id string) net.Listener {
	t.Helper()
	ln, err := f.Listen(id, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go echo(ln)
	return ln
}

func dial(f *Net, from, addr string) (net.Conn, error) {
	return f.Dial(context.Background(), from, addr, 5*time.Second)
}

// roundTrip writes a byte on c and reads it back; it fails once c is closed.
func roundTrip(c net.Conn) error {
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte{1}); err != nil {
		return err
	}
	_, err := io.ReadFull(c, make([]byte, 1))
	return err
}

// TestCutAndHeal: a cut refuses dials across it both ways and closes the
// connections already crossing it; nodes on one side still talk, unknown
// addresses are never cut, and Heal restores every link.
func TestCutAndHeal(t *testing.T) {
	f := New()
	a, b, c := listen(t, f, "a"), listen(t, f, "b"), listen(t, f, "c")
	outside, err := net.Listen("tcp", "127.0.0.1:0") // registered by no node
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	go echo(outside)

	ab, err := dial(f, "a", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer ab.Close()
	if err := roundTrip(ab); err != nil {
		t.Fatalf("a -> b before the cut: %v", err)
	}

	f.Cut("a")
	if err := roundTrip(ab); err == nil {
		t.Error("connection a -> b still works across the cut")
	}
	if _, err := dial(f, "a", c.Addr().String()); err == nil {
		t.Error("dial a -> c across the cut succeeded")
	}
	if _, err := dial(f, "b", a.Addr().String()); err == nil {
		t.Error("dial b -> a across the cut succeeded")
	}
	bc, err := dial(f, "b", c.Addr().String())
	if err != nil {
		t.Fatalf("dial b -> c on the same side: %v", err)
	}
	defer bc.Close()
	if err := roundTrip(bc); err != nil {
		t.Errorf("b -> c on the same side: %v", err)
	}
	ao, err := dial(f, "a", outside.Addr().String())
	if err != nil {
		t.Fatalf("dial a -> unregistered address: %v", err)
	}
	defer ao.Close()

	f.Heal()
	ac, err := dial(f, "a", c.Addr().String())
	if err != nil {
		t.Fatalf("dial a -> c after Heal: %v", err)
	}
	defer ac.Close()
	if err := roundTrip(ac); err != nil {
		t.Errorf("a -> c after Heal: %v", err)
	}
}

// TestLayerDialsThroughTheNet: the raft stream layer obeys cuts too.
func TestLayerDialsThroughTheNet(t *testing.T) {
	f := New()
	ln, err := f.Listen("a", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	la := f.Layer("a", ln)
	defer la.Close()
	b := listen(t, f, "b")
	if la.Addr().String() != ln.Addr().String() {
		t.Errorf("Addr = %v, want %v", la.Addr(), ln.Addr())
	}
	f.Cut("b")
	if _, err := la.Dial(raftnode.ServerAddress(b.Addr().String()), time.Second); err == nil {
		t.Error("layer dial across the cut succeeded")
	}
	f.Heal()
	c, err := la.Dial(raftnode.ServerAddress(b.Addr().String()), time.Second)
	if err != nil {
		t.Fatalf("layer dial after Heal: %v", err)
	}
	_ = c.Close()
	if err := la.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := la.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
}

// TestRestartOnTheSamePort: a node's port (picked by Listen on
// "127.0.0.1:0") lies below the kernel's ephemeral range, where no listen
// on ":0" of this or another process lands, so the node listens on it
// again after closing it (a replica restarted at its old address).
func TestRestartOnTheSamePort(t *testing.T) {
	f := New()
	ln := listen(t, f, "a")
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	if lo, err := strconv.Atoi(strings.Fields(string(b))[0]); err != nil || port >= lo {
		t.Fatalf("port %d, ephemeral range %q: want a port below it", port, b)
	}
	ln.Close()
	others := make([]net.Listener, 200) // other servers starting meanwhile
	for i := range others {
		if others[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		defer others[i].Close()
		if others[i].Addr().String() == addr {
			t.Fatalf("a listen on :0 took the closed node's port %s", addr)
		}
	}
	again, err := f.Listen("a", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	again.Close()
}
