package hub_test

import (
	"errors"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func TestHubSubmitGetCancel(t *testing.T) {
	c := hubtest.New(t, 3, hubtest.Options{})
	f := seed(t, c)
	ctx := ctxFor(t, 60*time.Second)
	for i := range c.N() {
		cl := newClient(t, c, f.Key, i)
		id := "job-" + string(c.ID(i))
		j, err := cl.SubmitJob(ctx, f.job(id))
		if err != nil {
			t.Fatalf("submit via %s: %v", c.ID(i), err)
		}
		if j.State != structs.JobQueued || j.Owner != "alice" || j.Tenant != "acme" || j.Number == 0 || j.Command != "Run" {
			t.Errorf("submitted job = %+v", j)
		}
		again, err := cl.SubmitJob(ctx, f.job(id))
		if err != nil || again.Number != j.Number {
			t.Errorf("resubmit = %+v, %v; want number %d", again, err, j.Number)
		}
		// A forwarded write is visible on the replica that took it.
		got, err := cl.GetJob(ctx, id, false)
		if err != nil || got.Number != j.Number {
			t.Errorf("local get = %+v, %v", got, err)
		}
		other := newClient(t, c, f.Key, (i+1)%c.N())
		got, err = other.GetJob(ctx, id, true)
		if err != nil || got.Number != j.Number {
			t.Errorf("consistent get elsewhere = %+v, %v", got, err)
		}
		cj, err := other.CancelJob(ctx, id, "")
		if err != nil || cj.State != structs.JobCanceled {
			t.Errorf("cancel = %+v, %v", cj, err)
		}
		if cj, err := cl.CancelJob(ctx, id, ""); err != nil || cj.State != structs.JobCanceled {
			t.Errorf("second cancel = %+v, %v", cj, err)
		}
	}
	cl := newClient(t, c, f.Key)
	_, err := cl.SubmitJob(ctx, structs.JobSubmitRequest{App: "solver", MachineType: "nope", Nodes: 1})
	if !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("unknown machine type: %v, want ErrInvalid", err)
	}
	_, err = cl.SubmitJob(ctx, structs.JobSubmitRequest{App: "solver", MachineType: "n1", Nodes: 17})
	if !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("nodes over scale: %v, want ErrInvalid", err)
	}
}
