package hub_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// eventLog collects what a watcher saw: every (job, state) with the index
// it came at, in order.
type eventLog struct {
	mu   sync.Mutex
	seen []string
	last uint64
	idx  []uint64
}

func (l *eventLog) add(p *structs.EventPage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range p.Events {
		l.seen = append(l.seen, e.JobID+" "+string(e.State))
		l.idx = append(l.idx, e.Index)
	}
	l.last = p.Index
}

func (l *eventLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

// TestEventsResume: a watcher streams job events (SSE) from the leader of
// three replicas while jobs are submitted and cancelled, disconnects
// mid-stream, the leader is killed while the writes go on, and the
// watcher resumes from its last index on another replica (long poll):
// it sees every state change exactly once, in index order.
func TestEventsResume(t *testing.T) {
	const jobs = 40
	c := hubtest.New(t, 3, hubtest.Options{})
	f := seed(t, c)
	ctx := ctxFor(t, 80*time.Second)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writer := newClient(t, c, f.Key)
	watcher := newClient(t, c, f.Key, leader)

	var wrote sync.WaitGroup
	progress := make(chan int, jobs)
	wrote.Add(1)
	var writeErr error
	go func() {
		defer wrote.Done()
		for i := range jobs {
			id := fmt.Sprintf("ev-%03d", i)
			if _, err := writer.SubmitJob(ctx, f.job(id)); err != nil {
				writeErr = fmt.Errorf("submit %s: %w", id, err)
				return
			}
			if _, err := writer.CancelJob(ctx, id, "test"); err != nil {
				writeErr = fmt.Errorf("cancel %s: %w", id, err)
				return
			}
			progress <- i
		}
	}()

	// Stream from the leader, and disconnect after a few events.
	var log eventLog
	sctx, stop := context.WithCancel(ctx)
	errStop := errors.New("disconnect")
	_, err = watcher.StreamEvents(sctx, c.URL(leader), 0, func(p *structs.EventPage) error {
		log.add(p)
		if log.count() >= 12 {
			return errStop
		}
		return nil
	})
	stop()
	if !errors.Is(err, errStop) {
		t.Fatalf("stream ended with %v after %d events", err, log.count())
	}
	t.Logf("disconnected after %d events at index %d", log.count(), log.last)

	// Kill the leader while the writer goes on.
	for i := range progress {
		if i >= jobs/2 {
			break
		}
	}
	c.Kill(leader)
	t.Logf("killed leader %s", c.ID(leader))
	wrote.Wait()
	if writeErr != nil {
		t.Fatal(writeErr)
	}

	// Resume on another replica, by long poll, until everything is seen.
	other := (leader + 1) % 3
	resumed := newClient(t, c, f.Key, other)
	for log.count() < 2*jobs {
		p, err := resumed.Events(ctx, log.last, 5*time.Second)
		if err != nil {
			t.Fatalf("resume after %d: %v", log.last, err)
		}
		if p.Index < log.last {
			t.Fatalf("index went back from %d to %d", log.last, p.Index)
		}
		log.add(p)
	}
	// Nothing more arrives.
	if p, err := resumed.Events(ctx, log.last, time.Second); err != nil || len(p.Events) != 0 {
		t.Fatalf("after everything: %v, %v", p, err)
	}

	var want []string
	for i := range jobs {
		id := fmt.Sprintf("ev-%03d", i)
		want = append(want, id+" "+string(structs.JobQueued), id+" "+string(structs.JobCanceled))
	}
	got := slices.Clone(log.seen)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(want, got) {
		t.Fatalf("events seen (sorted):\n%v\nwant each state change once:\n%v", got, want)
	}
	if !slices.IsSorted(log.idx) {
		t.Errorf("events out of index order: %v", log.idx)
	}
	for i := range jobs {
		id := fmt.Sprintf("ev-%03d", i)
		q, cn := slices.Index(log.seen, id+" QUEUED"), slices.Index(log.seen, id+" CANCELED")
		if q > cn {
			t.Errorf("%s: CANCELED seen before QUEUED", id)
		}
	}
}
