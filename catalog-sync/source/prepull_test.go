package source

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// memCatalog is a catalog in memory.
type memCatalog map[string]*structs.App

func (m memCatalog) ListApps(context.Context) ([]*structs.App, error) {
	var out []*structs.App
	for _, a := range m {
		out = append(out, a.Copy())
	}
	return out, nil
}

func (m memCatalog) PutApp(_ context.Context, a *structs.App) (*structs.App, error) {
	m[a.Name] = a.Copy()
	return a, nil
}

func (m memCatalog) DeleteApp(_ context.Context, name string) error {
	delete(m, name)
	return nil
}

// TestSyncKeepsPrePullChoice: an administrator's no_prepull on a synced
// app outlives a sync that updates the app.
func TestSyncKeepsPrePullChoice(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(desc string) {
		doc := `{"name":"Solver","description":"` + desc + `","author":"t","licensed":false,"classifications":["x"],"machines":["*"],` +
			`"vault-types":["NONE"],"commands":{"run":{"path":"/run","name":"Run","description":"d","interactive":false,"parameters":{}}}}`
		if err := os.WriteFile(filepath.Join(dir, "solver.json"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	cat := memCatalog{}
	src := &Dir{Path: dir, Image: "r/solver:1"}
	if rep, err := Sync(ctx, src, cat); err != nil || len(rep.Added) != 1 {
		t.Fatalf("first sync: %+v %v", rep, err)
	}
	cat["solver"].NoPrePull = true
	write("two")
	if rep, err := Sync(ctx, src, cat); err != nil || len(rep.Updated) != 1 {
		t.Fatalf("second sync: %+v %v", rep, err)
	}
	if a := cat["solver"]; !a.NoPrePull || a.AppDef.Description != "two" {
		t.Errorf("after the update: no_prepull %v, description %q", a.NoPrePull, a.AppDef.Description)
	}
}
