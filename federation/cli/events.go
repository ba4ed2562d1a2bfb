package cli

import (
	"context"
	"encoding/json"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// runEvents prints the job events after --since, every page of them, or
// with --follow streams them (server-sent events) and resumes from the
// last index after a break, until interrupted. --job keeps one job's.
func runEvents(ctx context.Context, s *session, path, args []string) error {
	fs := s.flagSet("events")
	since := fs.Uint64("since", 0, "print the events after this raft index (0: every event kept)")
	follow := fs.Bool("follow", false, "keep following new events")
	jobRef := fs.String("job", "", "only the events of this job (its name, number or id)")
	if _, err := s.leaf(fs, path, "", 0, 0, args); err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	jobID := ""
	if *jobRef != "" {
		j, err := findJob(ctx, cl, *jobRef)
		if err != nil {
			return err
		}
		jobID = j.ID
	}
	show := func(p *structs.EventPage) error {
		for _, e := range p.Events {
			if jobID != "" && e.JobID != jobID {
				continue
			}
			if s.json() {
				b, _ := json.Marshal(e)
				if err := s.line("%s", b); err != nil {
					return err
				}
				continue
			}
			if err := s.line("%d\t%s\t%d\t%s\t%s -> %s\t%s", e.Index, e.Time.Format(time.RFC3339), e.Number, e.JobID,
				dash(string(e.Previous)), e.State, e.Owner); err != nil {
				return err
			}
		}
		return nil
	}
	if !*follow {
		return allEvents(ctx, cl, *since, show)
	}
	next := *since
	for wait := time.Second; ctx.Err() == nil; {
		got, err := cl.StreamEvents(ctx, "", next, show)
		if client.StatusOf(err) != 0 && client.StatusOf(err) != 503 {
			return err // 410 Gone, 401, ...: resuming will not help
		}
		next = got
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	return nil
}

// allEvents reads the event pages after since until one moves the index
// no further: a page holds at most the hub's page limit of events, and
// may hold none the caller may see while later pages do.
func allEvents(ctx context.Context, cl *client.Client, since uint64, show func(*structs.EventPage) error) error {
	for {
		p, err := cl.Events(ctx, since, 0)
		if err != nil {
			return err
		}
		if err := show(p); err != nil {
			return err
		}
		if p.Index <= since {
			return nil
		}
		since = p.Index
	}
}
