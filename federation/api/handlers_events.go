package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Event watch bounds.
const (
	DefaultEventWait  = 30 * time.Second
	DefaultEventLimit = 1000
	// eventKeepAlive is how often an idle event stream sends a comment.
	eventKeepAlive = 15 * time.Second
)

// events answers GET /v1/events?since=INDEX: the job state changes after
// raft index since that the caller may see, whole indexes only, with the
// index to resume after. With Accept: text/event-stream it streams them
// (server-sent events, one "events" message per page, its id the index
// to resume after; Last-Event-ID resumes too); else it long-polls up to
// ?wait= (default 30 s) for at least one. A since older than the events
// the hub keeps is 410 Gone naming the oldest index kept.
func (s *Server) events(c *call) (any, error) {
	q := c.r.URL.Query()
	since, err := c.queryUint("since", "a raft index")
	if err != nil {
		return nil, err
	}
	if v := c.r.Header.Get("Last-Event-ID"); v != "" && q.Get("since") == "" {
		if since, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, invalid("Last-Event-ID: want a raft index")
		}
	}
	limit := DefaultEventLimit
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > MaxPageLimit {
			return nil, invalid("limit: want 1..%d", MaxPageLimit)
		}
	}
	wait := DefaultEventWait
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 || wait > MaxWatchWait {
			return nil, invalid("wait: want a duration up to %s", MaxWatchWait)
		}
	}
	if err := s.checkSince(since); err != nil {
		return nil, err
	}
	if strings.Contains(c.r.Header.Get("Accept"), "text/event-stream") {
		return s.streamEvents(c, since, limit)
	}
	c.writeWithin(wait + replyTimeout)
	dctx, stop := s.untilDrain(c.r.Context())
	defer stop()
	ctx, cancel := context.WithTimeout(dctx, wait)
	defer cancel()
	page, err := s.nextEvents(ctx, c, since, limit)
	if err != nil {
		return nil, err
	}
	c.setIndex(page.Index)
	return page, nil
}

// checkSince refuses a since older than the bounded event log keeps.
func (s *Server) checkSince(since uint64) error {
	txn := s.reads.Store().Read()
	if pruned := txn.EventsPrunedIndex(); since > 0 && since < pruned {
		return structs.Errorf(structs.ErrGone, "events after index %d are no longer kept: the oldest index is %d; start again from it",
			since, txn.OldestEventIndex())
	}
	return nil
}

// nextEvents waits until ctx ends for events after since the caller may
// see; an empty page still moves Index past the events the caller may
// not see.
func (s *Server) nextEvents(ctx context.Context, c *call, since uint64, limit int) (*structs.EventPage, error) {
	store := s.reads.Store()
	page := &structs.EventPage{Events: []*structs.JobEvent{}, Index: since}
	for {
		all, next, err := store.Read().EventsAfter(page.Index, limit)
		if err != nil {
			return nil, err
		}
		for _, e := range all {
			if c.id.CanReadJob(&structs.Job{Tenant: e.Tenant, Team: e.Team, Owner: e.Owner}) {
				page.Events = append(page.Events, e)
			}
		}
		page.Index = next
		if len(page.Events) > 0 || len(all) >= limit {
			return page, nil
		}
		if _, err := store.WaitForIndex(ctx, state.TableEvents, page.Index); err != nil {
			return page, nil // the wait is over: an empty page
		}
	}
}

// streamEvents writes pages as server-sent events until the client goes
// or the replica starts draining (the client resumes elsewhere with
// Last-Event-ID).
func (s *Server) streamEvents(c *call, since uint64, limit int) (any, error) {
	flusher, ok := c.w.(http.Flusher)
	if !ok {
		return nil, structs.Errorf(structs.ErrInvalid, "streaming not supported here")
	}
	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	c.w.WriteHeader(http.StatusOK)
	c.writeWithin(replyTimeout)
	_, _ = c.w.Write([]byte(": flotilla events\n\n"))
	flusher.Flush()
	sctx, stop := s.untilDrain(c.r.Context())
	defer stop()
	for sctx.Err() == nil {
		ctx, cancel := context.WithTimeout(sctx, eventKeepAlive)
		page, err := s.nextEvents(ctx, c, since, limit)
		cancel()
		if err != nil || (sctx.Err() != nil && len(page.Events) == 0) {
			return streamed{}, nil
		}
		c.writeWithin(replyTimeout)
		if len(page.Events) == 0 {
			if _, err := c.w.Write([]byte(": keep-alive\n\n")); err != nil {
				return streamed{}, nil
			}
			if page.Index == since {
				flusher.Flush()
				continue
			}
		}
		b, _ := json.Marshal(page)
		msg := "id: " + strconv.FormatUint(page.Index, 10) + "\nevent: events\ndata: " + string(b) + "\n\n"
		if _, err := c.w.Write([]byte(msg)); err != nil {
			return streamed{}, nil
		}
		flusher.Flush()
		since = page.Index
	}
	return streamed{}, nil
}
