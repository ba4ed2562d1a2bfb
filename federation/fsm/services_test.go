package fsm

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// serviceCommand returns a random command of issue 22 (service accounts,
// triggers, exports, webhooks). It draws from a generator of its own, like
// replicaCommand, so the rest of the log stays as it was.
func (g *logGen) serviceCommands(t testing.TB) [][]byte {
	c := g.serviceCommand()
	if r, ok := c.(*DeliveryRetry); ok { // dead first, so the retry may find it
		return enc(t, &DeliveryOutcomes{Outcomes: []structs.DeliveryOutcome{{ID: r.ID, Dead: true}}}, r)
	}
	return enc(t, c)
}

func (g *logGen) serviceCommand() Command {
	if g.sr == nil {
		g.sr = rand.New(rand.NewPCG(33, 34))
	}
	pick := func(names ...string) string { return names[g.sr.IntN(len(names))] }
	tenant := pick("acme", "acme", "beta")
	now := g.now()
	switch g.sr.IntN(12) {
	case 0:
		return &ServiceAccountUpsert{Account: structs.ServiceAccount{Tenant: tenant, Name: "svc",
			Scope:   structs.Scope{Apps: []structs.AppGrant{{App: "solver"}}, MachineTypes: []string{"n3"}, RatePerMinute: 5},
			APIKeys: []structs.APIKeyHash{structs.HashAPIKey("sk-"+tenant, "s")}}}
	case 1:
		return &ServiceAccountDelete{Tenant: tenant, Name: "svc"}
	case 2:
		return &TriggerUpsert{Trigger: structs.Trigger{Name: "t-" + tenant, Tenant: tenant, ServiceAccount: "svc", App: "solver",
			MachineType: pick("n3", "g3"), Nodes: 1, Parameters: map[string]string{"np": "${payload.n}"}, Debounce: true}}
	case 3:
		return &TriggerDelete{Name: "t-" + pick("acme", "beta")}
	case 4:
		return &VaultExportUpsert{Export: structs.VaultExport{Tenant: tenant, Vault: "data", Namespace: pick("svc", "web")}}
	case 5:
		return &VaultExportDelete{Tenant: tenant, Vault: "data", Namespace: pick("svc", "web")}
	case 6:
		if g.index%7 == 0 { // the signing key rotated, with a grace period
			return &WebhookKeyRotate{NewKey: fmt.Sprintf("%064x", g.index), Grace: time.Hour, Time: now}
		}
		return &WebhookSettingsUpsert{Settings: structs.WebhookSettings{Name: structs.WebhookSettingsName,
			AllowList: []string{pick("10.0.0.0/8", "hooks.example.com")}, SigningKey: "k"}}
	case 7:
		return &SubscriptionUpsert{Subscription: structs.WebhookSubscription{Name: "s-" + tenant, Tenant: tenant,
			URL: "https://hooks.example.com/x", Secret: "0123456789abcdef0123"}}
	case 8:
		return &SubscriptionDelete{Name: "s-" + pick("acme", "beta")}
	case 9:
		id := fmt.Sprintf("%d-s-acme", 1+g.sr.IntN(1200))
		return &DeliveryOutcomes{Outcomes: []structs.DeliveryOutcome{{ID: id, Dead: true, Attempts: 3, Error: "refused"},
			{ID: fmt.Sprintf("%d-s-acme", 1+g.sr.IntN(1200)), Delivered: true}}}
	case 10:
		return &DeliveryRetry{ID: fmt.Sprintf("%d-s-acme", 1+g.sr.IntN(1200)), Time: now}
	default:
		return &DeliveryDrop{ID: fmt.Sprintf("%d-s-acme", 1+g.sr.IntN(1200))}
	}
}

// serviceApplyCases are TestApplyRoundTrip's cases of issue 22's commands.
func serviceApplyCases() map[string]applyCase {
	sa := structs.ServiceAccount{Tenant: "acme", Name: "svc", Team: "cfd",
		Scope:   structs.Scope{Apps: []structs.AppGrant{{App: "solver", Commands: []string{"run"}}}, MachineTypes: []string{"n3"}, MaxNodes: 2},
		APIKeys: []structs.APIKeyHash{structs.HashAPIKey("k1", "secret")}}
	created := structs.RaftIndex{CreateIndex: 100, ModifyIndex: 100}
	trig := structs.Trigger{Name: "train", Tenant: "acme", ServiceAccount: "svc", App: "solver", MachineType: "n3", Nodes: 1}
	exp := structs.VaultExport{Tenant: "acme", Vault: "data", Namespace: "web"}
	settings := structs.WebhookSettings{Name: structs.WebhookSettingsName, AllowList: []string{"127.0.0.1/32"}, SigningKey: "key"}
	sub := structs.WebhookSubscription{Name: "all", Tenant: "acme", URL: "https://h.example/x", Secret: "0123456789abcdef"}
	// A subscription before a cancel makes delivery "N-all" of the cancel's event.
	withDelivery := []Command{&SubscriptionUpsert{Subscription: sub}, &JobCancel{ID: "j-1", Reason: "x", Time: t0}}
	delivery := func(r *state.ReadTxn) any {
		ds, _ := r.Deliveries(structs.DeliveryPending, 0)
		dead, _ := r.Deliveries(structs.DeliveryDead, 0)
		return fmt.Sprintf("%d pending, %d dead", len(ds), len(dead))
	}
	return map[string]applyCase{
		"service account upsert": {cmd: &ServiceAccountUpsert{Account: sa},
			read: func(r *state.ReadTxn) any { v, _ := r.ServiceAccount("acme", "svc"); return v },
			want: func() *structs.ServiceAccount { s := sa.Copy(); s.RaftIndex = created; return s }()},
		"service account unknown team": {cmd: &ServiceAccountUpsert{Account: func() structs.ServiceAccount { s := *sa.Copy(); s.Team = "x"; return s }()},
			wantErr: structs.ErrInvalid},
		"service account delete": {before: []Command{&ServiceAccountUpsert{Account: sa}}, cmd: &ServiceAccountDelete{Tenant: "acme", Name: "svc"},
			read: func(r *state.ReadTxn) any { return kind(r.ServiceAccount("acme", "svc")) }, want: structs.ErrNotFound},
		"trigger upsert": {before: []Command{&ServiceAccountUpsert{Account: sa}}, cmd: &TriggerUpsert{Trigger: trig},
			read: func(r *state.ReadTxn) any { v, _ := r.Trigger("train"); return v },
			want: func() *structs.Trigger { t := trig.Copy(); t.RaftIndex = created; return t }()},
		"trigger without account": {cmd: &TriggerUpsert{Trigger: trig}, wantErr: structs.ErrInvalid},
		"trigger delete": {before: []Command{&ServiceAccountUpsert{Account: sa}, &TriggerUpsert{Trigger: trig}}, cmd: &TriggerDelete{Name: "train"},
			read: func(r *state.ReadTxn) any { return kind(r.Trigger("train")) }, want: structs.ErrNotFound},
		"vault export": {cmd: &VaultExportUpsert{Export: exp},
			read: func(r *state.ReadTxn) any { v, _ := r.VaultExports("acme"); return v },
			want: []*structs.VaultExport{func() *structs.VaultExport { e := exp; e.RaftIndex = created; return &e }()}},
		"vault export bad namespace": {cmd: &VaultExportUpsert{Export: structs.VaultExport{Tenant: "acme", Vault: "data", Namespace: "A_B"}},
			wantErr: structs.ErrInvalid},
		"vault unexport": {before: []Command{&VaultExportUpsert{Export: exp}}, cmd: &VaultExportDelete{Tenant: "acme", Vault: "data", Namespace: "web"},
			read: func(r *state.ReadTxn) any { v, _ := r.VaultExports("acme"); return len(v) }, want: 0},
		"webhook key rotation": {before: []Command{&WebhookSettingsUpsert{Settings: settings}},
			cmd: &WebhookKeyRotate{NewKey: strings.Repeat("ab", 32), Grace: time.Hour, Time: t0},
			read: func(r *state.ReadTxn) any {
				v, _ := r.WebhookSettings()
				return []any{v.SigningKey, v.PreviousSigningKey, v.PreviousUntil.String(), v.PreviousKey(t0.Add(time.Hour)), v.AllowList}
			},
			want: []any{strings.Repeat("ab", 32), "key", t0.Add(time.Hour).String(), "", []string{"127.0.0.1/32"}}},
		"webhook key rotation without settings": {cmd: &WebhookKeyRotate{NewKey: strings.Repeat("ab", 32), Time: t0},
			wantErr: structs.ErrNotFound},
		"webhook key rotation to a malformed key": {before: []Command{&WebhookSettingsUpsert{Settings: settings}},
			cmd: &WebhookKeyRotate{NewKey: "short", Time: t0}, wantErr: structs.ErrInvalid},
		"webhook settings": {cmd: &WebhookSettingsUpsert{Settings: settings},
			read: func(r *state.ReadTxn) any { v, _ := r.WebhookSettings(); return v.AllowList }, want: []string{"127.0.0.1/32"}},
		"subscription upsert": {cmd: &SubscriptionUpsert{Subscription: sub},
			read: func(r *state.ReadTxn) any { v, _ := r.Subscription("all"); return v.URL }, want: sub.URL},
		"subscription delete": {before: []Command{&SubscriptionUpsert{Subscription: sub}}, cmd: &SubscriptionDelete{Name: "all"},
			read: func(r *state.ReadTxn) any { return kind(r.Subscription("all")) }, want: structs.ErrNotFound},
		"delivery dead": {before: withDelivery, cmd: &DeliveryOutcomes{Outcomes: []structs.DeliveryOutcome{{ID: "7-all", Dead: true, Attempts: 4}, {ID: "nope"}}},
			read: delivery, want: "0 pending, 1 dead"},
		"delivery retry": {before: append(withDelivery, &DeliveryOutcomes{Outcomes: []structs.DeliveryOutcome{{ID: "7-all", Dead: true}}}),
			cmd: &DeliveryRetry{ID: "7-all", Time: t0}, read: delivery, want: "1 pending, 0 dead"},
		"delivery drop": {before: withDelivery, cmd: &DeliveryDrop{ID: "7-all"}, read: delivery, want: "0 pending, 0 dead"},
	}
}

// TestJobEvents: every job state change leaves one event at the index it
// was applied at, pages end on whole indexes, and a subscription and a
// callback URL each get a delivery of every change.
func TestJobEvents(t *testing.T) {
	f := newFSM(t)
	applyAll(t, f, baseLog(t))
	cb := testJob("j-cb")
	cb.CallbackURL = "https://hooks.example.com/cb"
	applyAll(t, f, []entry{
		{10, enc(t, &SubscriptionUpsert{Subscription: structs.WebhookSubscription{Name: "done", Tenant: "acme",
			States: []structs.JobState{structs.JobCanceled}, URL: "https://h.example/x", Secret: "0123456789abcdef"}})},
		{11, enc(t, &JobSubmit{Job: cb}, &JobCancel{ID: "j-cb", Reason: "x", Time: t0.Add(time.Minute)})},
	})
	r := f.Store().Read()
	all, next, err := r.EventsAfter(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range all {
		got = append(got, fmt.Sprintf("%d %s %s<-%s", e.Index, e.JobID, e.State, e.Previous))
	}
	want := []string{"3 j-1 SUBMITTED<-", "3 j-2 SUBMITTED<-", "3 j-3 SUBMITTED<-", "4 j-2 ASSIGNED<-SUBMITTED", "4 j-2 RUNNING<-ASSIGNED",
		"4 j-3 CANCELED<-SUBMITTED", "11 j-cb SUBMITTED<-", "11 j-cb CANCELED<-SUBMITTED"}
	if diff := cmp.Diff(want, got[:len(want)]); diff != "" || next != 11 {
		t.Fatalf("events (-want +got):\n%s\nnext %d", diff, next)
	}
	page, next, _ := r.EventsAfter(3, 1)
	if len(page) != 3 || next != 4 {
		t.Errorf("a page of 1 after 3 = %d events up to %d, want the 3 of index 4", len(page), next)
	}
	ds, _ := r.Deliveries(structs.DeliveryPending, 0)
	var urls []string
	for _, d := range ds {
		urls = append(urls, string(d.Event.State)+" "+d.URL)
	}
	wantURLs := []string{"SUBMITTED https://hooks.example.com/cb", "CANCELED https://hooks.example.com/cb", "CANCELED https://h.example/x"}
	if diff := cmp.Diff(wantURLs, urls); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}
