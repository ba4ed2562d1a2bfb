package hub_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/api"
	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/fsm"
	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// waitFor polls cond until it holds or ctx ends.
func waitFor(t testing.TB, ctx context.Context, what string, cond func() error) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		case <-tick.C:
		}
	}
}

// voters returns the voter ids of replica i's raft configuration, sorted.
func voters(t testing.TB, c *hubtest.Cluster, i int) []string {
	t.Helper()
	servers, err := c.Hub(i).Node().Servers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range servers {
		if s.Suffrage == raftnode.Voter {
			out = append(out, string(s.ID))
		}
	}
	slices.Sort(out)
	return out
}

// directoryOf returns replica i's replica directory as id → API address.
func directoryOf(t testing.TB, c *hubtest.Cluster, i int) map[string]string {
	t.Helper()
	reps, err := c.Hub(i).Store().Read().Replicas()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range reps {
		out[r.ID] = r.APIAddress
	}
	return out
}

// TestHubJoin grows a one-replica hub holding jobs to three replicas through
// the join endpoint, as flotilla-hub -join does: the joined replicas get
// every job and learn every peer's API address from the replica directory,
// so a write sent to a joined follower is forwarded to the leader. With the
// original replica stopped, the two joined ones (2 of 3 voters) elect a
// leader and keep taking writes; removing the dead replica through
// DELETE /v1/replicas/{id} leaves a two-voter configuration.
func TestHubJoin(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{})
	f := seed(t, c)
	ctx := ctxFor(t, 180*time.Second)
	acked := map[string]uint64{}
	submit := func(cl *client.Client, id string) {
		t.Helper()
		j, err := cl.SubmitJob(ctx, f.job(id))
		if err != nil {
			t.Fatalf("submit %s: %v", id, err)
		}
		acked[id] = j.Number
	}
	first := newClient(t, c, f.Key, 0)
	for k := range 20 {
		submit(first, fmt.Sprintf("before-join-%02d", k))
	}

	a := c.AddReplica()
	start := time.Now()
	if err := c.Hub(a).JoinCluster(ctx, c.URL(0)); err != nil {
		t.Fatalf("join %s via the leader: %v", c.ID(a), err)
	}
	t.Logf("%s joined in %v", c.ID(a), time.Since(start))
	// The second joins through the first joined replica, a follower,
	// which forwards the request to the leader.
	b := c.AddReplica()
	if c.Hub(a).Node().IsLeader() {
		t.Fatalf("%s leads; want it a follower", c.ID(a))
	}
	if err := c.Hub(b).JoinCluster(ctx, c.URL(a)); err != nil {
		t.Fatalf("join %s via follower %s: %v", c.ID(b), c.ID(a), err)
	}
	all := []string{"hub0", "hub1", "hub2"}
	if got := voters(t, c, 0); !slices.Equal(got, all) {
		t.Fatalf("voters after the joins = %v, want %v", got, all)
	}

	// Every replica holds every job and the whole directory, and its raft
	// node knows every peer's API address.
	syncLive(t, c)
	for _, i := range c.Live() {
		jobs := jobsOf(t, c, i)
		for id, num := range acked {
			if j, ok := jobs[id]; !ok || j.Number != num {
				t.Errorf("%s: job %s = %+v, want number %d", c.ID(i), id, j, num)
			}
		}
	}
	wantAPIs := map[string]string{}
	for _, i := range []int{0, a, b} {
		wantAPIs[string(c.ID(i))] = c.URL(i)
	}
	for _, i := range c.Live() {
		waitFor(t, ctx, fmt.Sprintf("%s's directory and peer map", c.ID(i)), func() error {
			if diff := cmp.Diff(wantAPIs, directoryOf(t, c, i)); diff != "" {
				return fmt.Errorf("directory (-want +got):\n%s", diff)
			}
			got := map[string]string{}
			for id, u := range c.Hub(i).Node().PeerAPIs() {
				got[string(id)] = u
			}
			if diff := cmp.Diff(wantAPIs, got); diff != "" {
				return fmt.Errorf("peer API map (-want +got):\n%s", diff)
			}
			return nil
		})
	}
	// Joining again changes nothing.
	before := c.Hub(0).Store().LatestIndex()
	if err := c.Hub(b).JoinCluster(ctx, c.URL(0)); err != nil {
		t.Errorf("second join: %v", err)
	}
	if got := c.Hub(0).Store().LatestIndex(); got != before {
		t.Errorf("second join moved the state from index %d to %d", before, got)
	}

	// A write through the joined follower b is forwarded to the leader.
	viaB := spreadClient(t, c, f.Key, b)
	submit(viaB, "via-joined-follower")
	if j, err := viaB.GetJob(ctx, "via-joined-follower", false); err != nil || j.Number != acked["via-joined-follower"] {
		t.Errorf("job on the follower that took it = %+v, %v", j, err)
	}

	// Without the original replica, the joined ones elect a leader among
	// themselves and keep taking writes.
	c.Kill(0)
	l, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l != a && l != b {
		t.Fatalf("leader is replica %d", l)
	}
	t.Logf("%s leads after %s stopped", c.ID(l), c.ID(0))
	survivors := newClient(t, c, f.Key, a, b)
	for k := range 10 {
		submit(survivors, fmt.Sprintf("after-stop-%02d", k))
	}
	follower := a + b - l
	submit(spreadClient(t, c, f.Key, follower), "via-survivor-follower")

	// Remove the dead replica.
	admin := newClient(t, c, c.AdminKey, a, b)
	if err := admin.RemoveReplica(ctx, "hub0"); err != nil {
		t.Fatalf("remove hub0: %v", err)
	}
	want := []string{"hub1", "hub2"}
	for _, i := range []int{a, b} {
		waitFor(t, ctx, fmt.Sprintf("%s's configuration", c.ID(i)), func() error {
			if got := voters(t, c, i); !slices.Equal(got, want) {
				return fmt.Errorf("voters %v, want %v", got, want)
			}
			if got := slices.Sorted(maps.Keys(directoryOf(t, c, i))); !slices.Equal(got, want) {
				return fmt.Errorf("directory %v, want %v", got, want)
			}
			return nil
		})
	}
	list, err := admin.ListReplicas(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	leaders := 0
	for _, r := range list {
		if r.Suffrage != structs.SuffrageVoter || r.APIAddress == "" {
			t.Errorf("replica %+v", r)
		}
		if r.Leader {
			leaders++
		}
	}
	if len(list) != 2 || leaders != 1 {
		t.Errorf("GET /v1/replicas = %s", jsonText(list))
	}
	if err := admin.RemoveReplica(ctx, "hub0"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("removing hub0 again: %v, want ErrNotFound", err)
	}
	submit(survivors, "after-remove")

	syncLive(t, c)
	for _, i := range c.Live() {
		if jobs := jobsOf(t, c, i); len(jobs) != len(acked) {
			t.Errorf("%s holds %d jobs, %d acknowledged", c.ID(i), len(jobs), len(acked))
		}
	}
}

func jsonText(v any) string { return fmt.Sprintf("%+v", v) }

// TestHubRemoveLeader removes the leader of three replicas through the
// API: it leaves the directory and the configuration, and the other two
// go on.
func TestHubRemoveLeader(t *testing.T) {
	c := hubtest.New(t, 3, hubtest.Options{})
	f := seed(t, c)
	ctx := ctxFor(t, 120*time.Second)
	l, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gone := string(c.ID(l))
	admin := newClient(t, c, c.AdminKey, l)
	if err := admin.RemoveReplica(ctx, gone); err != nil {
		t.Fatalf("remove the leader %s: %v", gone, err)
	}
	var rest []int
	var want []string
	for i := range c.N() {
		if i != l {
			rest = append(rest, i)
			want = append(want, string(c.ID(i)))
		}
	}
	nl := -1
	waitFor(t, ctx, "a new leader", func() error {
		for _, i := range rest {
			if c.Hub(i).Node().IsLeader() {
				nl = i
				return nil
			}
		}
		return errors.New("none of the others leads")
	})
	for _, i := range rest {
		waitFor(t, ctx, fmt.Sprintf("%s's configuration", c.ID(i)), func() error {
			if got := voters(t, c, i); !slices.Equal(got, want) {
				return fmt.Errorf("voters %v, want %v", got, want)
			}
			if _, ok := directoryOf(t, c, i)[gone]; ok {
				return fmt.Errorf("%s still listed", gone)
			}
			return nil
		})
	}
	cl := newClient(t, c, f.Key, rest...)
	if _, err := cl.SubmitJob(ctx, f.job("after-leader-left")); err != nil {
		t.Fatalf("submit after the leader left: %v", err)
	}
	// The removed replica does not list itself again.
	if _, ok := directoryOf(t, c, nl)[gone]; ok {
		t.Errorf("%s listed again", gone)
	}
}

// post sends body to an internal endpoint of replica i with the given
// secret and returns the status and reply.
func post(t testing.TB, c *hubtest.Cluster, i int, path, secret, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.URL(i)+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set(api.InternalSecretHeader, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(bytes.TrimSpace(out))
}

// TestHubJoinEndpoint: the join endpoint refuses a missing or wrong
// secret, bad bodies and conflicting ids or addresses, changing nothing;
// joining again with the same id and address succeeds; a replica given
// the wrong secret fails to join at once, saying so; the last voter and
// unknown ids cannot be removed.
func TestHubJoinEndpoint(t *testing.T) {
	const wrongSecret = "not-the-cluster-secret"
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true, Configure: func(i int, cfg *hub.Config) {
		if i == 2 {
			cfg.InternalSecret = wrongSecret
		}
	}})
	ctx := ctxFor(t, 90*time.Second)
	if _, err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	a := c.AddReplica()
	if err := c.Hub(a).JoinCluster(ctx, c.URL(0)); err != nil {
		t.Fatal(err)
	}
	syncLive(t, c)
	joinBody := func(id, raftAddr, apiAddr string) string {
		return fmt.Sprintf(`{"id":%q,"raft_address":%q,"api_address":%q}`, id, raftAddr, apiAddr)
	}
	// The same replica joining again lists the commands its binary
	// applies, as JoinCluster does.
	again := strings.TrimSuffix(joinBody(string(c.ID(a)), c.RaftAddr(a), c.URL(a)), "}") + fmt.Sprintf(`,"commands":%q}`, fsm.KnownCommands())
	state := func() string {
		return fmt.Sprintf("voters %v, index %d", voters(t, c, 0), c.Hub(0).Store().LatestIndex())
	}
	tests := map[string]struct {
		replica      int
		secret, body string
		want         int
		wantMsg      string
	}{
		"no secret":     {secret: "", body: again, want: http.StatusUnauthorized},
		"wrong secret":  {secret: wrongSecret, body: again, want: http.StatusUnauthorized},
		"empty body":    {secret: c.InternalSecret(), body: "", want: http.StatusBadRequest},
		"not json":      {secret: c.InternalSecret(), body: "{", want: http.StatusBadRequest},
		"unknown field": {secret: c.InternalSecret(), body: `{"id":"x","raft_address":"h:1","api_address":"http://h:2","voter":true}`, want: http.StatusBadRequest},
		"two values":    {secret: c.InternalSecret(), body: again + again, want: http.StatusBadRequest},
		"no id":         {secret: c.InternalSecret(), body: joinBody("", "10.9.9.9:7000", "http://10.9.9.9:8080"), want: http.StatusBadRequest},
		"bad raft address": {secret: c.InternalSecret(), body: joinBody("hub9", "0.0.0.0:7000", "http://10.9.9.9:8080"),
			want: http.StatusBadRequest, wantMsg: "raft address"},
		"bad api address": {secret: c.InternalSecret(), body: joinBody("hub9", "10.9.9.9:7000", "10.9.9.9:8080"),
			want: http.StatusBadRequest, wantMsg: "api address"},
		"member at another address": {secret: c.InternalSecret(), body: joinBody(string(c.ID(a)), "10.9.9.9:7000", c.URL(a)),
			want: http.StatusConflict, wantMsg: "remove it first"},
		"address of another member": {secret: c.InternalSecret(), body: joinBody("hub9", c.RaftAddr(a), "http://10.9.9.9:8080"),
			want: http.StatusConflict, wantMsg: "is member"},
		"api address of another": {secret: c.InternalSecret(), body: joinBody("hub9", "10.9.9.9:7000", c.URL(a)),
			want: http.StatusConflict, wantMsg: "api_address"},
		"conflict via a follower": {replica: a, secret: c.InternalSecret(), body: joinBody("hub0", "10.9.9.9:7000", c.URL(0)),
			want: http.StatusConflict, wantMsg: "remove it first"},
		"join again":              {secret: c.InternalSecret(), body: again, want: http.StatusOK},
		"join again as a learner": {secret: c.InternalSecret(), body: strings.TrimSuffix(again, "}") + `,"learner":true}`, want: http.StatusOK},
		"join again via follower": {replica: a, secret: c.InternalSecret(), body: again, want: http.StatusOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := state()
			code, reply := post(t, c, tc.replica, api.InternalJoinPath, tc.secret, tc.body)
			if code != tc.want || !strings.Contains(reply, tc.wantMsg) {
				t.Errorf("%d %s, want %d with %q", code, reply, tc.want, tc.wantMsg)
			}
			if after := state(); after != before {
				t.Errorf("state changed: %s -> %s", before, after)
			}
		})
	}

	// A replica with the wrong secret is refused at once, with a reason.
	w := c.AddReplica()
	jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := c.Hub(w).JoinCluster(jctx, c.URL(0))
	if err == nil || !strings.Contains(err.Error(), "internal secret") || jctx.Err() != nil {
		t.Errorf("join with the wrong secret: %v", err)
	}
	if got, want := voters(t, c, 0), []string{"hub0", "hub1"}; !slices.Equal(got, want) {
		t.Errorf("voters %v, want %v", got, want)
	}

	// Removal: unknown ids and the last voter are refused.
	admin := newClient(t, c, c.AdminKey, 0)
	if err := admin.RemoveReplica(ctx, "hub9"); !errors.Is(err, structs.ErrNotFound) {
		t.Errorf("remove unknown: %v, want ErrNotFound", err)
	}
	if err := admin.RemoveReplica(ctx, string(c.ID(a))); err != nil {
		t.Fatalf("remove %s: %v", c.ID(a), err)
	}
	err = admin.RemoveReplica(ctx, "hub0")
	if !errors.Is(err, structs.ErrConflict) || !strings.Contains(err.Error(), "last voter") {
		t.Errorf("remove the last voter: %v, want ErrConflict", err)
	}
	if got, want := voters(t, c, 0), []string{"hub0"}; !slices.Equal(got, want) {
		t.Errorf("voters %v, want %v", got, want)
	}
}

// TestHubJoinAsLearner: a replica admitted as a non-voter gets the log but
// does not count for the quorum, so the cluster keeps writing when it is
// down; joining again without "learner" promotes it to voter.
func TestHubJoinAsLearner(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	f := seed(t, c)
	ctx := ctxFor(t, 90*time.Second)
	a := c.AddReplica()
	body := fmt.Sprintf(`{"id":%q,"raft_address":%q,"api_address":%q`, c.ID(a), c.RaftAddr(a), c.URL(a))
	if code, reply := post(t, c, 0, api.InternalJoinPath, c.InternalSecret(), body+`,"learner":true}`); code != http.StatusOK {
		t.Fatalf("join as a learner: %d %s", code, reply)
	}
	if got := voters(t, c, 0); !slices.Equal(got, []string{"hub0"}) {
		t.Fatalf("voters after a learner joined: %v", got)
	}
	list, err := newClient(t, c, c.AdminKey, 0).ListReplicas(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	suffrage := map[string]string{}
	for _, r := range list {
		suffrage[r.ID] = r.Suffrage
	}
	if suffrage["hub0"] != structs.SuffrageVoter || suffrage[string(c.ID(a))] != structs.SuffrageNonvoter {
		t.Fatalf("suffrage %v, want hub0 voter and %s non-voter", suffrage, c.ID(a))
	}
	// The learner receives the log...
	cl := newClient(t, c, f.Key, 0)
	j, err := cl.SubmitJob(ctx, f.job("while-learning"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the learner to apply the job", func() error {
		_, err := c.Hub(a).Store().Read().Job(j.ID)
		return err
	})
	// ...but is not needed for a commit.
	c.Kill(a)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cl.SubmitJob(wctx, f.job("learner-down")); err != nil {
		t.Fatalf("write with the learner down: %v", err)
	}
	c.Restart(a)
	if code, reply := post(t, c, 0, api.InternalJoinPath, c.InternalSecret(), body+`}`); code != http.StatusOK {
		t.Fatalf("promotion: %d %s", code, reply)
	}
	if got, want := voters(t, c, 0), []string{"hub0", string(c.ID(a))}; !slices.Equal(got, want) {
		t.Errorf("voters after promotion: %v, want %v", got, want)
	}
}

// TestInternalApplyRefusesUndecodable: with the right secret, the internal
// apply endpoint still lets only commands this replica can decode into the
// log; anything else is a 400 and writes nothing.
func TestInternalApplyRefusesUndecodable(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	ctx := ctxFor(t, 60*time.Second)
	if _, err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	good := fsm.MustEncode(&fsm.TenantUpsert{Tenant: structs.Tenant{Name: "ok"}})
	for name, body := range map[string][]byte{
		"unknown type":  {fsm.Version, 250, '{', '}'},
		"bad json":      append([]byte{fsm.Version, good[1]}, `{"tenant":`...),
		"bad version":   append([]byte{fsm.Version + 1}, good[1:]...),
		"binary job":    {fsm.Version, byte(fsm.TypeOf(&fsm.JobSubmit{})), 0x01, 0xff},
		"only a header": {fsm.Version},
	} {
		before := c.Hub(0).Store().LatestIndex()
		code, reply := post(t, c, 0, api.InternalApplyPath, c.InternalSecret(), string(body))
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", name, code, reply)
		}
		if after := c.Hub(0).Store().LatestIndex(); after != before {
			t.Errorf("%s: index %d -> %d", name, before, after)
		}
	}
	if code, reply := post(t, c, 0, api.InternalApplyPath, c.InternalSecret(), string(good)); code != http.StatusOK {
		t.Errorf("a good command: %d %s", code, reply)
	}
}

// TestJoinOlderHub: a replica asked to join through a hub that does not
// serve the join endpoint (an older hub, played by a proxy that sends the
// request to a path the hub does not know) fails at once, saying so, and
// does not take the 404 for a missing object: the hub's reply carries
// structs.CodeNoSuchEndpoint.
func TestJoinOlderHub(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	ctx := ctxFor(t, 60*time.Second)
	if _, err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(c.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	rewrite := proxy.Director
	proxy.Director = func(r *http.Request) {
		rewrite(r)
		r.URL.Path += "-from-a-newer-hub"
	}
	older := httptest.NewServer(proxy)
	defer older.Close()

	a := c.AddReplica()
	jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = c.Hub(a).JoinCluster(jctx, older.URL)
	if !errors.Is(err, structs.ErrUnavailable) || !strings.Contains(err.Error(), "no "+api.InternalJoinPath+" endpoint") {
		t.Fatalf("join through a hub without the endpoint: %v", err)
	}
	if jctx.Err() != nil {
		t.Fatal("the join kept retrying instead of failing at once")
	}
	// A 404 of an object is not taken for a missing endpoint.
	code, reply := post(t, c, 0, api.InternalRemovePath, c.InternalSecret(), `{"id":"hub9"}`)
	if code != http.StatusNotFound || strings.Contains(reply, structs.CodeNoSuchEndpoint) {
		t.Errorf("removing an unknown replica: %d %s", code, reply)
	}
}
