package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestReplyBuffersReused: replies are read into pooled buffers (one per
// call, back in the pool once decoded). What a call returned must not
// change when later calls reuse the buffer: a job's strings, an
// APIError's message, and a raw reply (an icon), which is never read into
// a pooled buffer. Replies longer than a pooled buffer, of unknown length
// (chunked) and longer than the pool keeps decode as well.
func TestReplyBuffersReused(t *testing.T) {
	icon := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/apps/solver/icon":
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Content-Length", strconv.Itoa(len(icon)))
			_, _ = w.Write(icon)
		case strings.HasPrefix(r.URL.Path, "/v1/jobs/missing-"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"job ` + strings.TrimPrefix(r.URL.Path, "/v1/jobs/") + ` not found"}`))
		case strings.HasPrefix(r.URL.Path, "/v1/jobs/"):
			// Job j-L-N[-c]: its name is N times the letter L; -c: a
			// chunked reply.
			id := strings.TrimPrefix(r.URL.Path, "/v1/jobs/")
			parts := strings.Split(id, "-")
			n, _ := strconv.Atoi(parts[2])
			body := `{"id":"` + id + `","name":"` + strings.Repeat(parts[1], n) + `","state":"QUEUED"}`
			w.Header().Set("Content-Type", "application/json")
			if len(parts) < 4 {
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			}
			_, _ = w.Write([]byte(body[:len(body)/2]))
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte(body[len(body)/2:]))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := client.New([]string{srv.URL}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx := context.Background()
	jobID := func(letter string, n int, chunked bool) string {
		id := "j-" + letter + "-" + strconv.Itoa(n)
		if chunked {
			id += "-c"
		}
		return id
	}
	get := func(letter string, n int, chunked bool) *structs.Job {
		t.Helper()
		id := jobID(letter, n, chunked)
		j, err := c.GetJob(ctx, id, false)
		if err != nil {
			t.Fatal(err)
		}
		if j.ID != id || j.Name != strings.Repeat(letter, n) || j.State != structs.JobQueued {
			t.Fatalf("job %s: got id %q, name of %d bytes, state %q", id, j.ID, len(j.Name), j.State)
		}
		return j
	}
	mediaType, raw, err := c.AppIcon(ctx, "solver")
	if err != nil || mediaType != "image/png" || !bytes.Equal(raw, icon) {
		t.Fatalf("AppIcon = %q, %d bytes, %v", mediaType, len(raw), err)
	}
	_, missErr := c.GetJob(ctx, "missing-a", false)
	var ae *client.APIError
	if !errors.As(missErr, &ae) || !errors.Is(missErr, structs.ErrNotFound) {
		t.Fatalf("GetJob(missing-a) = %v", missErr)
	}
	msg := ae.Message
	kept := []*structs.Job{get("a", 10, false), get("b", 3000, false), get("c", 40_000, false),
		get("d", 5, true), get("e", 20, false)}
	// Many more calls, each reusing a buffer a kept value was read into.
	for k := range 200 {
		get(string(rune('f'+k%20)), k%7*50, k%5 == 0)
		if _, err := c.GetJob(ctx, "missing-"+strconv.Itoa(k), false); !errors.Is(err, structs.ErrNotFound) {
			t.Fatalf("GetJob(missing-%d) = %v", k, err)
		}
	}
	for i, n := range []int{10, 3000, 40_000, 5, 20} {
		letter := string(rune('a' + i))
		id := jobID(letter, n, i == 3)
		if j := kept[i]; j.ID != id || j.Name != strings.Repeat(letter, n) {
			t.Errorf("kept job %s changed: id %q, name %.20q (%d bytes)", id, j.ID, j.Name, len(j.Name))
		}
	}
	if ae.Message != msg || msg != "job missing-a not found" {
		t.Errorf("kept error message changed: %q (was %q)", ae.Message, msg)
	}
	if !bytes.Equal(raw, icon) {
		t.Errorf("kept raw reply changed")
	}
}
