package crash

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/test/procenv"
)

// TestSnapshotRestore loads 10,000 jobs into three flotilla-hub processes,
// saves a backup with `flotilla-hub snapshot save`, restores it with
// `flotilla-hub snapshot restore` into the empty data directory of a new
// hub and starts it: a backup saved from the new hub is byte for byte the
// first one, and its jobs are there for their owner. A restore into a data
// directory that holds raft state is refused and changes nothing.
func TestSnapshotRestore(t *testing.T) {
	const jobs, workers = 10000, 48
	hubs := procenv.StartHubs(t, procenv.HubOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f, err := hubs.Seed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		cl := hubs.Client(f.Key)
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= jobs {
					return
				}
				id := fmt.Sprintf("sr-%05d", i)
				if _, err := cl.SubmitJob(ctx, structs.JobSubmitRequest{ID: id, App: f.App, MachineType: f.MachineType, Nodes: 1}); err != nil {
					errs <- fmt.Errorf("%s: %w", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d jobs submitted in %v", jobs, time.Since(began).Round(time.Millisecond))

	dir := t.TempDir()
	began = time.Now()
	saved := saveStable(ctx, t, hubs, filepath.Join(dir, "hub.backup"))
	t.Logf("backup of %d bytes saved in %v", len(saved), time.Since(began).Round(time.Millisecond))

	began = time.Now()
	var restoreArgs []string
	restored := procenv.StartHubs(t, procenv.HubOptions{Replicas: 1, AdminKey: hubs.AdminKey,
		Prepare: func(r *procenv.Replica, args []string) error {
			restoreArgs = args
			out, err := runHub(hubs.Bin(), nil, append([]string{"snapshot", "restore", filepath.Join(dir, "hub.backup")}, args...)...)
			if err != nil {
				return fmt.Errorf("restore into %s: %v\n%s", r.ID, err, out)
			}
			t.Logf("restore: %s", strings.TrimSpace(out))
			return nil
		}})
	t.Logf("restored hub up in %v", time.Since(began).Round(time.Millisecond))
	again := filepath.Join(dir, "restored.backup")
	deadline := time.Now().Add(30 * time.Second)
	for {
		b := save(ctx, t, restored, again)
		if bytes.Equal(b, saved) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restored hub's backup differs from the original's:\n%s", firstDiff(saved, b))
		}
	}
	cl := restored.Client(f.Key)
	all, err := cl.AllJobs(ctx, client.JobQuery{Limit: 1000, Consistent: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != jobs {
		t.Errorf("the restored hub lists %d jobs for %s, want %d", len(all), f.User, jobs)
	}
	if j, err := cl.GetJob(ctx, "sr-09999", true); err != nil || j.State != structs.JobQueued {
		t.Errorf("job sr-09999 on the restored hub: %+v, %v", j, err)
	}

	// A second restore into the running hub's directory is refused.
	restored.Stop(0)
	if _, err := restored.WaitExit(ctx, 0); err != nil {
		t.Fatal(err)
	}
	r := restored.Replica(0)
	before := dirListing(t, r.DataDir)
	out, err := runHub(hubs.Bin(), nil, append([]string{"snapshot", "restore", filepath.Join(dir, "hub.backup")}, restoreArgs...)...)
	if code := exitCode(err); code != 1 || !strings.Contains(out, "existing raft state") {
		t.Errorf("restore into a used data directory: exit %d, output:\n%s", code, out)
	}
	if after := dirListing(t, r.DataDir); after != before {
		t.Errorf("a refused restore changed the data directory:\n%s\nthen:\n%s", before, after)
	}
}

// saveStable saves backups from hubs until two in a row are equal (the
// dispatcher may still be recording why jobs wait) and returns the last.
func saveStable(ctx context.Context, t *testing.T, hubs *procenv.Hubs, path string) []byte {
	t.Helper()
	prev := save(ctx, t, hubs, path)
	deadline := time.Now().Add(time.Minute)
	for {
		b := save(ctx, t, hubs, path)
		if bytes.Equal(b, prev) {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub's backups keep changing:\n%s", firstDiff(prev, b))
		}
		prev = b
	}
}

// save runs `flotilla-hub snapshot save` against hubs and returns the file.
func save(ctx context.Context, t *testing.T, hubs *procenv.Hubs, path string) []byte {
	t.Helper()
	out, err := runHub(hubs.Bin(), []string{"FLOTILLA_API_KEY=" + hubs.AdminKey},
		"snapshot", "save", path, "-addr", strings.Join(hubs.URLs(), ","), "-ca-file", hubs.CAFile)
	if err != nil {
		t.Fatalf("snapshot save: %v\n%s", err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runHub(bin string, env []string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// firstDiff shows the first line two backups differ in.
func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("%d lines, then %d", len(la), len(lb))
}

func dirListing(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&sb, "%s %d %s\n", p, fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}
