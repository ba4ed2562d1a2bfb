package api_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/api"
)

// recordingSend completes each write with its command as its value and
// records the batches it was given.
type recordingSend struct {
	mu      sync.Mutex
	batches [][]string
}

func (r *recordingSend) send(ws []*api.GroupWrite) {
	var b []string
	for i, w := range ws {
		b = append(b, string(w.Cmd))
		w.Val, w.Index = string(w.Cmd), uint64(i+1)
		w.Done()
	}
	r.mu.Lock()
	r.batches = append(r.batches, b)
	r.mu.Unlock()
}

func (r *recordingSend) got() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.batches...)
}

// forwardAsync forwards cmd through g in a goroutine; its outcome comes
// on the returned channel.
func forwardAsync(ctx context.Context, g *api.WriteGroup, r *recordingSend, cmd string) <-chan error {
	out := make(chan error, 1)
	go func() {
		v, _, err := g.Forward(ctx, []byte(cmd), r.send)
		if err == nil && v != cmd {
			err = errors.New("wrong value " + v.(string))
		}
		out <- err
	}()
	return out
}

func outcome(t *testing.T, c <-chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("a write never got its outcome")
		return nil
	}
}

// TestWriteGroupSendsWhenEveryWriterWaits: the group sends once every
// writer in flight waits in it — after a writer that wrote nothing
// finishes, or blocks on something else — each write gets its own
// outcome, and a write whose context ends before the send leaves the
// group without being sent.
func TestWriteGroupSendsWhenEveryWriterWaits(t *testing.T) {
	ctx := context.Background()
	t.Run("finish", func(t *testing.T) {
		g, r := new(api.WriteGroup), new(recordingSend)
		g.Start()
		g.Start()
		g.Start()
		a, b := forwardAsync(ctx, g, r, "a"), forwardAsync(ctx, g, r, "b")
		select {
		case err := <-a:
			t.Fatalf("a write sent while a writer was still in flight: %v", err)
		case <-b:
			t.Fatal("a write sent while a writer was still in flight")
		default:
		}
		g.Finish() // the third writer wrote nothing
		if err := outcome(t, a); err != nil {
			t.Error(err)
		}
		if err := outcome(t, b); err != nil {
			t.Error(err)
		}
		if got := r.got(); len(got) != 1 || len(got[0]) != 2 {
			t.Errorf("batches %v, want one of both writes", got)
		}
	})
	t.Run("block", func(t *testing.T) {
		g, r := new(api.WriteGroup), new(recordingSend)
		g.Start()
		g.Start()
		g.Block() // waits for an earlier item
		if err := outcome(t, forwardAsync(ctx, g, r, "c")); err != nil {
			t.Error(err)
		}
		g.Finish() // c's writer has nothing left
		g.Unblock()
		if err := outcome(t, forwardAsync(ctx, g, r, "d")); err != nil {
			t.Error(err)
		}
		if got := r.got(); len(got) != 2 || got[0][0] != "c" || got[1][0] != "d" {
			t.Errorf("batches %v, want [c] then [d]", got)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		g, r := new(api.WriteGroup), new(recordingSend)
		g.Start()
		g.Start()
		g.Start()
		cctx, cancel := context.WithCancel(ctx)
		e := forwardAsync(cctx, g, r, "e")
		cancel()
		if err := outcome(t, e); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled write: %v", err)
		}
		f := forwardAsync(ctx, g, r, "f")
		g.Finish() // e's writer
		g.Finish()
		if err := outcome(t, f); err != nil {
			t.Error(err)
		}
		if got := r.got(); len(got) != 1 || len(got[0]) != 1 || got[0][0] != "f" {
			t.Errorf("batches %v, want [f] alone", got)
		}
	})
}
