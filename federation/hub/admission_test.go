package hub_test

import (
	"errors"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestAccessRuleChangesApplyToTheNextSubmit: admission keeps the access
// rules it read until their table changes; a rule written (or deleted)
// applies to the very next submission on every replica the write was
// acknowledged by.
func TestAccessRuleChangesApplyToTheNextSubmit(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	f := seed(t, c)
	ctx := ctxFor(t, 60*time.Second)
	admin := newClient(t, c, c.AdminKey)
	alice := newClient(t, c, f.Key)
	if _, err := alice.SubmitJob(ctx, f.job("before")); err != nil {
		t.Fatalf("submit before any rule: %v", err)
	}
	rule := &structs.AccessRule{Name: "solver-g1", Object: structs.AccessObjectApp, Match: f.App, Groups: []string{"g1"}}
	if _, err := admin.PutAccessRule(ctx, rule); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SubmitJob(ctx, f.job("under-rule")); !errors.Is(err, structs.ErrForbidden) {
		t.Fatalf("submit outside the rule's group: %v, want forbidden", err)
	}
	if err := admin.DeleteAccessRule(ctx, rule.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SubmitJob(ctx, f.job("after")); err != nil {
		t.Fatalf("submit after the rule was deleted: %v", err)
	}
}
