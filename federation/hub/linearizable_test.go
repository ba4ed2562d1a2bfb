package hub_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// The model: a map of job ID → job, partitioned by ID, so each partition
// is the life of one job: absent, then QUEUED with a number, then perhaps
// CANCELED. Submissions are idempotent (a second one returns the first's
// number) and so are cancellations.

type jobOpKind int

const (
	opSubmit jobOpKind = iota
	opGet
	opCancel
)

type jobInput struct {
	kind jobOpKind
	id   string
}

// jobOutput is what a client saw. unknown: the call failed and may or may
// not have taken effect (its return time is then the end of history).
type jobOutput struct {
	unknown  bool
	found    bool
	number   uint64
	canceled bool
}

// jobModelState is one job as the model knows it; number 0 means not yet
// observed (an unacknowledged submission created it).
type jobModelState struct {
	exists   bool
	number   uint64
	canceled bool
}

func (s jobModelState) numberMatches(n uint64) (jobModelState, bool) {
	if s.number != 0 && s.number != n {
		return s, false
	}
	s.number = n
	return s, true
}

var jobMapModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byID := map[string][]porcupine.Operation{}
		var ids []string
		for _, op := range history {
			id := op.Input.(jobInput).id
			if _, ok := byID[id]; !ok {
				ids = append(ids, id)
			}
			byID[id] = append(byID[id], op)
		}
		out := make([][]porcupine.Operation, 0, len(ids))
		for _, id := range ids {
			out = append(out, byID[id])
		}
		return out
	},
	Init: func() any { return jobModelState{} },
	Step: func(st, in, out any) (bool, any) {
		s, i, o := st.(jobModelState), in.(jobInput), out.(jobOutput)
		switch i.kind {
		case opSubmit:
			if o.unknown {
				s.exists = true
				return true, s
			}
			if !s.exists {
				return true, jobModelState{exists: true, number: o.number}
			}
			next, ok := s.numberMatches(o.number)
			return ok, next
		case opGet:
			if !o.found {
				return !s.exists, s
			}
			if !s.exists || s.canceled != o.canceled {
				return false, s
			}
			next, ok := s.numberMatches(o.number)
			return ok, next
		default: // cancel
			if o.unknown {
				if s.exists {
					s.canceled = true
				}
				return true, s
			}
			if !o.found {
				return !s.exists, s
			}
			if !s.exists {
				return false, s
			}
			next, ok := s.numberMatches(o.number)
			next.canceled = true
			return ok, next
		}
	},
	DescribeOperation: func(in, out any) string {
		i, o := in.(jobInput), out.(jobOutput)
		name := [...]string{"submit", "get", "cancel"}[i.kind]
		switch {
		case o.unknown:
			return fmt.Sprintf("%s(%s) -> ?", name, i.id)
		case !o.found:
			return fmt.Sprintf("%s(%s) -> not found", name, i.id)
		}
		return fmt.Sprintf("%s(%s) -> #%d canceled=%v", name, i.id, o.number, o.canceled)
	},
}

// TestHubLinearizable runs concurrent clients submitting, reading
// (consistently) and cancelling jobs while the leader is killed, restarted
// and cut off by a partition, and checks the history with porcupine.
func TestHubLinearizable(t *testing.T) {
	const clients, keys = 8, 24
	c := hubtest.New(t, 3, hubtest.Options{Configure: func(_ int, cfg *hub.Config) {
		cfg.WriteTimeout = 3 * time.Second
	}})
	f := seed(t, c)

	var (
		mu      sync.Mutex
		history []porcupine.Operation
		stop    = make(chan struct{})
		start   = time.Now()
	)
	now := func() int64 { return int64(time.Since(start)) }
	var wg sync.WaitGroup
	for w := range clients {
		cl := spreadClient(t, c, f.Key, w)
		rng := rand.New(rand.NewPCG(uint64(w), 42))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				in := jobInput{id: fmt.Sprintf("lin-%02d", rng.IntN(keys))}
				switch r := rng.IntN(10); {
				case r < 4:
					in.kind = opSubmit
				case r < 8:
					in.kind = opGet
				default:
					in.kind = opCancel
				}
				ctx := ctxFor(t, 30*time.Second)
				call := now()
				var j *structs.Job
				var err error
				switch in.kind {
				case opSubmit:
					j, err = cl.SubmitJob(ctx, f.job(in.id))
				case opGet:
					j, err = cl.GetJob(ctx, in.id, true)
				default:
					j, err = cl.CancelJob(ctx, in.id, "")
				}
				ret := now()
				out := jobOutput{}
				switch {
				case err == nil:
					out = jobOutput{found: true, number: j.Number, canceled: j.State == structs.JobCanceled}
				case errors.Is(err, structs.ErrNotFound) && in.kind != opSubmit:
				case in.kind == opGet:
					continue // a failed read changed nothing
				default:
					out.unknown, ret = true, -1
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: w, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}

	// Faults: kill the leader, bring it back, then cut the new leader off.
	// Each step waits until the clients have made progress since the last.
	ctx := ctxFor(t, 90*time.Second)
	recorded := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(history)
	}
	progress := func(n int) {
		t.Helper()
		want := recorded() + n
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for recorded() < want {
			select {
			case <-ctx.Done():
				t.Fatalf("clients stalled at %d operations, want %d", recorded(), want)
			case <-tick.C:
			}
		}
	}
	progress(200)
	l, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Kill(l)
	t.Logf("killed leader %s", c.ID(l))
	progress(300)
	c.Restart(l)
	progress(200)
	if l, err = c.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	c.Partition(l)
	t.Logf("cut off leader %s", c.ID(l))
	progress(300)
	c.Heal()
	progress(200)
	close(stop)
	wg.Wait()

	end := now() + 1
	var unknown int
	for i := range history {
		if history[i].Return < 0 {
			history[i].Return = end
			unknown++
		}
	}
	t.Logf("%d operations, %d with unknown outcome", len(history), unknown)
	if len(history) < 100 {
		t.Errorf("only %d operations recorded", len(history))
	}
	res, info := porcupine.CheckOperationsVerbose(jobMapModel, history, 60*time.Second)
	if res != porcupine.Ok {
		path := t.TempDir() + "/history.html"
		if err := porcupine.VisualizePath(jobMapModel, info, path); err == nil {
			t.Logf("visualization: %s", path)
		}
		t.Fatalf("history is not linearizable: %v", res)
	}
}

// TestJobMapModel checks that the model rejects what it should: a job lost
// after its submission was acknowledged, or renumbered.
func TestJobMapModel(t *testing.T) {
	op := func(kind jobOpKind, call, ret int64, out jobOutput) porcupine.Operation {
		return porcupine.Operation{Input: jobInput{kind: kind, id: "a"}, Call: call, Return: ret, Output: out}
	}
	queued := jobOutput{found: true, number: 7}
	cases := map[string]struct {
		history []porcupine.Operation
		ok      bool
	}{
		"submit then get": {[]porcupine.Operation{op(opSubmit, 0, 1, queued), op(opGet, 2, 3, queued)}, true},
		"lost after ack":  {[]porcupine.Operation{op(opSubmit, 0, 1, queued), op(opGet, 2, 3, jobOutput{})}, false},
		"renumbered": {[]porcupine.Operation{op(opSubmit, 0, 1, queued),
			op(opSubmit, 2, 3, jobOutput{found: true, number: 8})}, false},
		"cancel undone": {[]porcupine.Operation{op(opSubmit, 0, 1, queued),
			op(opCancel, 2, 3, jobOutput{found: true, number: 7, canceled: true}), op(opGet, 4, 5, queued)}, false},
		"unknown submit seen later": {[]porcupine.Operation{op(opSubmit, 0, 100, jobOutput{unknown: true}),
			op(opGet, 2, 3, queued), op(opSubmit, 4, 5, queued)}, true},
		"concurrent get may miss": {[]porcupine.Operation{op(opSubmit, 0, 3, queued), op(opGet, 1, 2, jobOutput{})}, true},
	}
	for name, tc := range cases {
		if got := porcupine.CheckOperations(jobMapModel, tc.history); got != tc.ok {
			t.Errorf("%s: linearizable = %v, want %v", name, got, tc.ok)
		}
	}
}
