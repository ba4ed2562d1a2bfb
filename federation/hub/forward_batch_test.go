package hub_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestBatchThroughFollowerIsOneForwardedCall: a batch call that reaches
// a follower reaches the leader as one call of its apply-batch endpoint,
// not one forwarded apply per item, and each item still gets its own
// outcome: new jobs stored, a refused item refused with its reason, an
// item naming a stored job answered with it.
func TestBatchThroughFollowerIsOneForwardedCall(t *testing.T) {
	c := hubtest.New(t, 3, hubtest.Options{NoSync: true})
	f := seed(t, c)
	ctx := ctxFor(t, 2*time.Minute)
	leader := syncLive(t, c)
	follower := (leader + 1) % c.N()
	alice := spreadClient(t, c, f.Key, follower)
	// A first call through the follower: the key's first use is recorded
	// (a write of its own) and a job is stored to be named again.
	stored, err := alice.SubmitJob(ctx, f.job("j-fwd-stored"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hub(follower).Node().IsLeader() {
		t.Fatal("the follower leads")
	}
	before := forwardCalls(ctx, t, c, leader)

	reqs := make([]structs.JobSubmitRequest, 32)
	for i := range reqs {
		reqs[i] = f.job("j-fwd-" + strconv.Itoa(i))
		reqs[i].Label = fmt.Sprintf("item-%d", i)
	}
	reqs[7].MachineType = "no-such-type"
	reqs[9] = f.job(stored.ID)
	res, err := alice.SubmitJobs(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	after := forwardCalls(ctx, t, c, leader)
	if got := after[api.InternalApplyBatchPath] - before[api.InternalApplyBatchPath]; got != 1 {
		t.Errorf("%d apply-batch calls on the leader, want 1", got)
	}
	if got := after[api.InternalApplyPath] - before[api.InternalApplyPath]; got != 0 {
		t.Errorf("%d single forwarded applies on the leader, want none", got)
	}
	for i, r := range res {
		switch i {
		case 7:
			if client.StatusOf(r.Err) != http.StatusBadRequest || r.Job != nil {
				t.Errorf("item 7: %+v, want a 400", r)
			}
		case 9:
			if r.Err != nil || r.Job == nil || r.Job.Number != stored.Number {
				t.Errorf("item 9: %+v, want the stored job %d", r, stored.Number)
			}
		default:
			if r.Err != nil || r.Job == nil || r.Job.ID != reqs[i].ID || r.Job.Label != reqs[i].Label {
				t.Errorf("item %d: %+v", i, r)
				continue
			}
			if j, err := c.Hub(leader).Store().Read().Job(r.Job.ID); err != nil || j.Number != r.Job.Number {
				t.Errorf("item %d: the leader stores %+v, %v", i, j, err)
			}
		}
	}
	// Every stored item's audit event rode in its job's entry: none was
	// written again on its own (each would be a forwarded apply).
	if got := forwardCalls(ctx, t, c, leader)[api.InternalApplyPath] - before[api.InternalApplyPath]; got != 0 {
		t.Errorf("%d single forwarded applies on the leader after the reply, want none", got)
	}
}

// forwardCalls reads replica i's count of 200 replies of the internal
// apply and apply-batch routes.
func forwardCalls(ctx context.Context, t *testing.T, c *hubtest.Cluster, i int) map[string]int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(i)+hub.MetricsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{}
	if tc, err := c.ClientTLS(); err == nil && tc != nil {
		hc.Transport = &http.Transport{TLSClientConfig: tc}
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		for _, path := range []string{api.InternalApplyPath, api.InternalApplyBatchPath} {
			prefix := `flotilla_hub_api_requests_total{code="200",route="POST ` + path + `"} `
			if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				out[path], _ = strconv.Atoi(v)
			}
		}
	}
	return out
}
