package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestMachineTypeInUseNotDeleted: deleting a machine type a queued job
// asked for is refused with a reason (409) and changes nothing; once the
// job has ended the delete goes through, and with force=true (what the
// Cluster API controller sends for a cluster that is gone) it goes
// through at once. Before, the delete was accepted and the job waited for
// ever on "unknown machine type".
func TestMachineTypeInUseNotDeleted(t *testing.T) {
	u := newUserHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := u.env
	runCLI(t, env, "submit", "--app", "solver", "--machine", "n1").check(t, ExitOK, "(number 1)")

	err := u.adm.DeleteMachineType(ctx, "n1")
	if !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("delete of a machine type a queued job names: err %v, want a conflict", err)
	}
	for _, want := range []string{`"n1"`, "job 1", "QUEUED", "force=true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %s", err, want)
		}
	}
	if _, err := u.adm.GetMachineType(ctx, "n1"); err != nil {
		t.Fatalf("machine type gone after a refused delete: %v", err)
	}

	runCLI(t, env, "cancel", "1").check(t, ExitOK, "CANCELED")
	if err := u.adm.DeleteMachineType(ctx, "n1"); err != nil {
		t.Fatalf("delete once no job in play names it: %v", err)
	}
	if _, err := u.adm.GetMachineType(ctx, "n1"); !errors.Is(err, structs.ErrNotFound) {
		t.Fatalf("machine type still there after its delete: %v", err)
	}

	if _, err := u.adm.PutMachineType(ctx, &structs.MachineType{Name: "n2", Cores: 4, Slots: 4, RAM: 16, ScaleMin: 1, ScaleMax: 8, Cluster: "east"}); err != nil {
		t.Fatal(err)
	}
	runCLI(t, env, "submit", "--app", "solver", "--machine", "n2").check(t, ExitOK, "(number 2)")
	if err := u.adm.DeleteMachineType(ctx, "n2"); !errors.Is(err, structs.ErrConflict) {
		t.Fatalf("delete of n2 with job 2 queued: err %v, want a conflict", err)
	}
	if err := u.adm.DeleteMachineType(ctx, "n2", client.Force()); err != nil {
		t.Fatalf("forced delete: %v", err)
	}
	if _, err := u.adm.GetMachineType(ctx, "n2"); !errors.Is(err, structs.ErrNotFound) {
		t.Fatalf("n2 still there after a forced delete: %v", err)
	}
}
