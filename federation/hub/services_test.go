package hub_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/hub/hubtest"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestServiceAccountScope: a service account's submissions are held to
// its scope (403 naming the rule) and rate (429 with Retry-After), its
// jobs carry its subject; triggers are checked against the AppDef, fire
// only for their account, substitute the payload and debounce; the
// account's events are its own jobs only.
func TestServiceAccountScope(t *testing.T) {
	c := hubtest.New(t, 1, hubtest.Options{NoSync: true})
	f := seed(t, c)
	ctx := ctxFor(t, 60*time.Second)
	admin := newClient(t, c, c.AdminKey)
	params := map[string]structs.Parameter{"data": {Name: "Data", Type: structs.ParamString, Required: true},
		"epochs": {Name: "Epochs", Type: structs.ParamInt, Value: []byte(`5`)}}
	if _, err := admin.PutApp(ctx, &structs.App{Name: "trainer", Visibility: structs.VisibilityPublic,
		AppDef: structs.AppDef{Name: "Trainer", Commands: map[string]structs.Command{"train": {Path: "/t", Parameters: params}}}}); err != nil {
		t.Fatal(err)
	}
	maxEpochs := 20.0
	if _, err := admin.PutServiceAccount(ctx, "acme", "svc", &structs.ServiceAccountSpec{Scope: structs.Scope{
		Apps: []structs.AppGrant{{App: "trainer", Commands: []string{"train"}}}, MachineTypes: []string{f.MachineType},
		MaxNodes: 2, RatePerMinute: 3, Params: map[string]structs.ParamBound{"epochs": {Max: &maxEpochs}}}}); err != nil {
		t.Fatal(err)
	}
	k, err := admin.CreateServiceKey(ctx, "acme", "svc", "")
	if err != nil {
		t.Fatal(err)
	}
	svc := newClient(t, c, k.Key)
	alice := newClient(t, c, f.Key)
	ok := structs.JobSubmitRequest{App: "trainer", Command: "train", MachineType: f.MachineType, Nodes: 1,
		Parameters: map[string]string{"data": "/x"}}
	for name, tc := range map[string]struct {
		mod  func(*structs.JobSubmitRequest)
		rule string
	}{
		"other app":     {func(r *structs.JobSubmitRequest) { r.App, r.Command = f.App, "Run" }, `"apps"`},
		"too many":      {func(r *structs.JobSubmitRequest) { r.Nodes = 3 }, `"max_nodes"`},
		"param bound":   {func(r *structs.JobSubmitRequest) { r.Parameters = map[string]string{"data": "/x", "epochs": "21"} }, `"params.epochs"`},
		"other command": {func(r *structs.JobSubmitRequest) { r.Command = "Run" }, `"commands"`},
	} {
		r := ok
		tc.mod(&r)
		if _, err := svc.SubmitJob(ctx, r); client.StatusOf(err) != http.StatusForbidden || !strings.Contains(err.Error(), tc.rule) {
			t.Errorf("%s: %v, want 403 naming %s", name, err, tc.rule)
		}
	}
	j, err := svc.SubmitJob(ctx, ok)
	if err != nil {
		t.Fatal(err)
	}
	if j.Owner != "sa:acme/svc" {
		t.Errorf("owner %q", j.Owner)
	}

	// Triggers: checked against the AppDef, fired by their account only.
	bad := &structs.Trigger{Name: "t", Tenant: "acme", ServiceAccount: "svc", App: "trainer", Command: "train",
		MachineType: f.MachineType, Nodes: 1, Parameters: map[string]string{"nope": "${payload.x}"}}
	if _, err := admin.PutTrigger(ctx, bad); client.StatusOf(err) != http.StatusBadRequest {
		t.Errorf("trigger with an unknown parameter: %v", err)
	}
	bad.Parameters = map[string]string{"data": "${payload.path}", "epochs": "many"}
	if _, err := admin.PutTrigger(ctx, bad); client.StatusOf(err) != http.StatusBadRequest {
		t.Errorf("trigger with a bad fixed value: %v", err)
	}
	bad.Parameters = map[string]string{"data": "${payload.path}", "epochs": "7"}
	bad.Debounce = true
	if _, err := admin.PutTrigger(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.FireTrigger(ctx, "t", map[string]any{"path": "/a"}); client.StatusOf(err) != http.StatusForbidden {
		t.Errorf("alice fires the account's trigger: %v", err)
	}
	if _, err := svc.FireTrigger(ctx, "t", map[string]any{}); client.StatusOf(err) != http.StatusBadRequest {
		t.Errorf("a payload without the key: %v", err)
	}
	fired, err := svc.FireTrigger(ctx, "t", map[string]any{"path": "/data/new.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if p := fired.Job.Parameters; p["data"] != "/data/new.csv" || p["epochs"] != "7" || fired.Job.Trigger != "t" {
		t.Errorf("fired job %+v", fired.Job)
	}
	if _, err := svc.FireTrigger(ctx, "t", map[string]any{"path": "/b"}); client.StatusOf(err) != http.StatusConflict {
		t.Errorf("debounce: %v", err)
	}

	// Rate: the third submission in a minute was the trigger's; a fourth
	// is 429 with Retry-After.
	if _, err := svc.SubmitJob(ctx, ok); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(ok)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.URL(0)+"/v1/jobs", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+k.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the rate: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// Events: the account sees its own jobs, not alice's.
	if _, err := alice.SubmitJob(ctx, f.job("alice-1")); err != nil {
		t.Fatal(err)
	}
	page, err := svc.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Events {
		if e.Owner != "sa:acme/svc" {
			t.Errorf("the account sees %s's event", e.Owner)
		}
	}
	if len(page.Events) != 3 {
		t.Errorf("%d events, want the account's 3 jobs", len(page.Events))
	}
}
