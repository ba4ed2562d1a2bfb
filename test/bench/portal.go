package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// portalTable measures the portal's jobs page for a user with jobs jobs:
// the p50 over renders of the whole page (read through the API's
// handlers, rendered, sent over loopback), as a logged-in browser gets it.
func portalTable(ctx context.Context, jobs, renders int) (*report, error) {
	dir, err := os.MkdirTemp("", "flotilla-bench-portal-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	b, err := startBenchHub(dir, 1, "")
	if err != nil {
		return nil, err
	}
	defer b.stop()
	key, err := b.seed(ctx)
	if err != nil {
		return nil, err
	}
	admin, err := client.New(b.URLs(), b.AdminKey)
	if err != nil {
		return nil, err
	}
	const pw = "bench-portal-password"
	if _, err := admin.PutUser(ctx, "bench", &structs.UserSpec{Tenant: "bench", Role: structs.RoleUser, Password: pw}); err != nil {
		return nil, err
	}
	user, err := client.New(b.URLs(), key)
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < jobs; i += 16 {
				if _, err := user.SubmitJob(ctx, structs.JobSubmitRequest{ID: structs.NewJobID(), App: "solver", Command: "Run",
					MachineType: "n1", Nodes: 1, Label: fmt.Sprintf("bench-%d", i)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	base := b.URLs()[0]
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: time.Minute}
	page, err := get(hc, base+"/ui/login")
	if err != nil {
		return nil, err
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		return nil, fmt.Errorf("login page without a token")
	}
	res, err := hc.PostForm(base+"/ui/login", url.Values{"csrf": {m[1]}, "username": {"bench"}, "password": {pw}})
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	var times []time.Duration
	for i := range renders + 3 {
		start := time.Now()
		body, err := get(hc, base+"/ui/jobs")
		if err != nil {
			return nil, err
		}
		if n := strings.Count(body, `<tr id="job-`); n != jobs {
			return nil, fmt.Errorf("jobs page lists %d jobs, want %d", n, jobs)
		}
		if i >= 3 { // the first renders warm up
			times = append(times, time.Since(start))
		}
	}
	slices.Sort(times)
	r := &report{title: fmt.Sprintf("Portal (jobs page of a user with %d jobs, %d renders)", jobs, renders)}
	r.add("portal_jobs_page_ms", float64(times[len(times)/2].Microseconds())/1000, "ms", "jobs page, p50")
	r.add("portal_jobs_page_p90_ms", float64(times[len(times)*9/10].Microseconds())/1000, "ms", "jobs page, p90")
	return r, nil
}

func get(hc *http.Client, u string) (string, error) {
	res, err := hc.Get(u)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return "", fmt.Errorf("GET %s: %d", u, res.StatusCode)
	}
	return string(b), err
}
