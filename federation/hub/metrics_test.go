package hub_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/hub"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
)

// TestRequestSeriesByRouteAndCode: every request is counted and timed in
// the series of its route pattern and status code, also when a route
// replies with several codes (the series of each pair are made once and
// kept).
func TestRequestSeriesByRouteAndCode(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	f := seed(t, c)
	ctx := ctxFor(t, 60*time.Second)
	alice := newClient(t, c, f.Key)
	for i := range 3 {
		if _, err := alice.SubmitJob(ctx, f.job(fmt.Sprintf("ok-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		bad := f.job(fmt.Sprintf("bad-%d", i))
		bad.MachineType = "no-such-type"
		if _, err := alice.SubmitJob(ctx, bad); err == nil {
			t.Fatal("submit with an unknown machine type accepted")
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL(0)+hub.MetricsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want := map[string]string{
		`flotilla_hub_api_requests_total{code="200",route="POST /v1/jobs"}`:                 "3",
		`flotilla_hub_api_requests_total{code="400",route="POST /v1/jobs"}`:                 "2",
		`flotilla_hub_api_request_duration_seconds_count{code="200",route="POST /v1/jobs"}`: "3",
		`flotilla_hub_api_request_duration_seconds_count{code="400",route="POST /v1/jobs"}`: "2",
	}
	got := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			if _, asked := want[line[:i]]; asked {
				got[line[:i]] = line[i+1:]
			}
		}
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %q, want %s", name, got[name], v)
		}
	}
}
