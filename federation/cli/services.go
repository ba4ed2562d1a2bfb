package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Service accounts, events, triggers, webhooks and vault exports
// (docs/services.md).

func serviceAccountTree() []*cmd {
	return []*cmd{
		{name: "apply", summary: "create or replace service accounts from a JSON/YAML file (name, team, scope)", run: runSAApply},
		{name: "list", summary: "list a tenant's service accounts", run: runSAList},
		{name: "delete", summary: "delete a service account", run: runSADelete},
		{name: "key", summary: "API keys of a service account (two may be valid at once: rotate without downtime)", subs: []*cmd{
			{name: "create", summary: "create a key (printed once); the others stay valid", run: runSAKeyCreate},
			{name: "revoke", summary: "revoke a key", run: runSAKeyRevoke},
		}},
	}
}

// ServiceAccountFile is one service account in an apply file.
type ServiceAccountFile struct {
	Name string `json:"name"`
	structs.ServiceAccountSpec
}

func runSAApply(ctx context.Context, s *session, path, args []string) error {
	var tenant string
	file, err := s.applyFile(path, args, tenantFlag(&tenant))
	if err != nil {
		return err
	}
	objs, err := readObjects[ServiceAccountFile](file)
	if err != nil {
		return err
	}
	cl, err := s.tenantClient(ctx, &tenant)
	if err != nil {
		return err
	}
	var out []*structs.ServiceAccount
	for i, o := range objs {
		sa := structs.ServiceAccount{Tenant: tenant, Name: o.Name, Team: o.Team, Scope: o.Scope}
		if err := sa.Validate(); err != nil {
			return usagef("%s: service account %d: %v", file, i+1, err)
		}
	}
	for _, o := range objs {
		spec := o.ServiceAccountSpec
		stored, err := cl.PutServiceAccount(ctx, tenant, o.Name, &spec)
		if err != nil {
			return err
		}
		out = append(out, stored)
	}
	return s.show(out, func() error {
		for _, o := range out {
			if err := s.line("service account %s saved", o.Subject()); err != nil {
				return err
			}
		}
		return nil
	})
}

func runSAList(ctx context.Context, s *session, path, args []string) error {
	return listTable(ctx, s, path, args, []string{"SUBJECT", "TEAM", "APPS", "MACHINE_TYPES", "MAX_NODES", "RATE/MIN", "KEYS"},
		ofTenant("tenant (default: your own)", true, (*client.Client).ListServiceAccounts), func(sa *structs.ServiceAccount) []string {
			apps := make([]string, len(sa.Scope.Apps))
			for i, a := range sa.Scope.Apps {
				apps[i] = a.App
				if len(a.Commands) > 0 {
					apps[i] += ":" + strings.Join(a.Commands, "|")
				}
			}
			return []string{sa.Subject(), dash(sa.Team), dash(strings.Join(apps, ",")), dash(strings.Join(sa.Scope.MachineTypes, ",")),
				strconv.Itoa(max(sa.Scope.MaxNodes, 1)), strconv.Itoa(sa.Scope.RatePerMinute), strconv.Itoa(len(sa.APIKeys))}
		})
}

func runSADelete(ctx context.Context, s *session, path, args []string) error {
	return deleteInTenant(ctx, s, path, args, "service account", func(ctx context.Context, cl *client.Client, t, n string) error {
		return cl.DeleteServiceAccount(ctx, t, n)
	})
}

func runSAKeyCreate(ctx context.Context, s *session, path, args []string) error {
	var tenant, keyName string
	fs := s.flagSet("create")
	tenantFlag(&tenant)(fs)
	fs.StringVar(&keyName, "name", "", "a name for the key")
	pos, err := s.leaf(fs, path, "SERVICE_ACCOUNT", 1, 1, args)
	if err != nil {
		return err
	}
	cl, err := s.tenantClient(ctx, &tenant)
	if err != nil {
		return err
	}
	k, err := cl.CreateServiceKey(ctx, tenant, pos[0], keyName)
	if err != nil {
		return err
	}
	return s.show(k, func() error {
		return s.line("API key %s of %s (shown once; store it now):\n%s", k.ID, structs.ServiceSubject(tenant, pos[0]), k.Key)
	})
}

func runSAKeyRevoke(ctx context.Context, s *session, path, args []string) error {
	var tenant string
	fs := s.flagSet("revoke")
	tenantFlag(&tenant)(fs)
	pos, err := s.leaf(fs, path, "SERVICE_ACCOUNT KEY_ID", 2, 2, args)
	if err != nil {
		return err
	}
	cl, err := s.tenantClient(ctx, &tenant)
	if err != nil {
		return err
	}
	return s.deleted("api key", pos[1], cl.RevokeServiceKey(ctx, tenant, pos[0], pos[1]))
}

func triggerTree() []*cmd {
	return []*cmd{
		{name: "apply", summary: "create or replace triggers from a JSON/YAML file", run: runTriggersApply},
		{name: "list", summary: "list triggers", run: runTriggersList},
		{name: "delete", summary: "delete a trigger", run: runTriggersDelete},
		{name: "fire", summary: "fire a trigger with a JSON payload; prints the job", run: runTriggersFire},
	}
}

func runTriggersApply(ctx context.Context, s *session, path, args []string) error {
	return applyObjects(ctx, s, path, args, "trigger", (*structs.Trigger).Validate,
		func(t *structs.Trigger) string { return t.Name },
		func(cl *client.Client, ctx context.Context, t *structs.Trigger, _ ...client.WriteOption) (*structs.Trigger, error) {
			return cl.PutTrigger(ctx, t)
		})
}

func runTriggersList(ctx context.Context, s *session, path, args []string) error {
	return listTable(ctx, s, path, args, []string{"NAME", "TENANT", "SERVICE_ACCOUNT", "APP", "COMMAND", "MACHINE_TYPE", "NODES", "DEBOUNCE"},
		all((*client.Client).ListTriggers), func(t *structs.Trigger) []string {
			return []string{t.Name, t.Tenant, t.ServiceAccount, t.App, dash(t.Command), t.MachineType, strconv.Itoa(t.Nodes), strconv.FormatBool(t.Debounce)}
		})
}

func runTriggersDelete(ctx context.Context, s *session, path, args []string) error {
	return deleteNamed(ctx, s, path, args, "trigger", func(ctx context.Context, cl *client.Client, n string) error {
		return cl.DeleteTrigger(ctx, n)
	})
}

func runTriggersFire(ctx context.Context, s *session, path, args []string) error {
	var payload string
	pos, cl, err := s.leafClient(func() *flag.FlagSet {
		fs := s.flagSet("fire")
		fs.StringVar(&payload, "payload", "{}", "the payload, a JSON object")
		return fs
	}(), path, "TRIGGER", 1, 1, args)
	if err != nil {
		return err
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		return usagef("--payload: want a JSON object: %v", err)
	}
	fired, err := cl.FireTrigger(ctx, pos[0], p)
	if err != nil {
		return err
	}
	return s.show(fired, func() error {
		return s.line("%s (job %d) submitted by trigger %s", fired.Job.Name, fired.Job.Number, pos[0])
	})
}

func runVaultsExport(ctx context.Context, s *session, path, args []string) error {
	var tenant, ns, cluster string
	var rw bool
	fs := s.flagSet("export")
	tenantFlag(&tenant)(fs)
	fs.StringVar(&ns, "namespace", "", "namespace the claim is made in (required)")
	fs.StringVar(&cluster, "cluster", "", "only on this cluster (default: every cluster holding the vault's claim)")
	fs.BoolVar(&rw, "read-write", false, "let the namespace write (default: read-only)")
	pos, err := s.leaf(fs, path, "VAULT", 1, 1, args)
	if err != nil {
		return err
	}
	if ns == "" {
		return usagef("--namespace is required")
	}
	cl, err := s.tenantClient(ctx, &tenant)
	if err != nil {
		return err
	}
	e, err := cl.ExportVault(ctx, &structs.VaultExport{Tenant: tenant, Vault: pos[0], Namespace: ns, Cluster: cluster, ReadWrite: rw})
	return saved(s, e, err, func(e *structs.VaultExport) string {
		mode := "read-only"
		if e.ReadWrite {
			mode = "read-write"
		}
		return fmt.Sprintf("vault %s/%s exported to namespace %s (%s) as claim vault-%s", e.Tenant, e.Vault, e.Namespace, mode, e.Vault)
	})
}

func runVaultsUnexport(ctx context.Context, s *session, path, args []string) error {
	var tenant, ns string
	fs := s.flagSet("unexport")
	tenantFlag(&tenant)(fs)
	fs.StringVar(&ns, "namespace", "", "namespace the export is in (required)")
	pos, err := s.leaf(fs, path, "VAULT", 1, 1, args)
	if err != nil {
		return err
	}
	if ns == "" {
		return usagef("--namespace is required")
	}
	cl, err := s.tenantClient(ctx, &tenant)
	if err != nil {
		return err
	}
	return s.deleted("export of vault", tenant+"/"+pos[0]+" in "+ns, cl.UnexportVault(ctx, tenant, pos[0], ns))
}

func webhookTree() []*cmd {
	return []*cmd{
		{name: "allow", summary: "set the callback allow-list (CIDRs, host names, *.domain); none given: show it", run: runWebhookAllow},
		{name: "secret", summary: "print the secret that signs your jobs' callbacks (--owner: a service account's)", run: runWebhookSecret},
		{name: "rotate-key", summary: "replace the hub's webhook signing key (every callback secret changes; both signatures sent for --grace, default 24h)", run: runWebhookRotateKey},
		{name: "subscribe", summary: "create or replace a subscription of your tenant's job changes (its secret is printed once)", run: runSubscribe},
		{name: "subscriptions", summary: "list subscriptions", run: runSubscriptions},
		{name: "unsubscribe", summary: "delete a subscription", run: runUnsubscribe},
		{name: "dead-letters", summary: "deliveries that failed every attempt", subs: []*cmd{
			{name: "list", summary: "list dead letters", run: runDeadList},
			{name: "retry", summary: "queue a dead letter again", run: runDeadRetry},
			{name: "drop", summary: "drop a dead letter", run: runDeadDrop},
		}},
	}
}

func runWebhookAllow(ctx context.Context, s *session, path, args []string) error {
	pos, cl, err := s.leafClient(s.flagSet("allow"), path, "[ENTRY...]", 0, 1000, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		if err := cl.SetWebhookAllowList(ctx, pos); err != nil {
			return err
		}
	}
	list, err := cl.WebhookAllowList(ctx)
	if err != nil {
		return err
	}
	return s.show(list, func() error { return s.line("%s", strings.Join(list, "\n")) })
}

func runWebhookSecret(ctx context.Context, s *session, path, args []string) error {
	var owner string
	fs := s.flagSet("secret")
	fs.StringVar(&owner, "owner", "", "a service account's subject, sa:TENANT/NAME (tenant administrators)")
	_, cl, err := s.leafClient(fs, path, "", 0, 0, args)
	if err != nil {
		return err
	}
	sec, err := cl.CallbackSecret(ctx, owner)
	if err != nil {
		return err
	}
	return s.show(sec, func() error { return s.line("%s", sec.Secret) })
}

func runDeadList(ctx context.Context, s *session, path, args []string) error {
	return listTable(ctx, s, path, args, []string{"ID", "TENANT", "URL", "JOB", "STATE", "ATTEMPTS", "LAST_ERROR"},
		all(func(cl *client.Client, ctx context.Context) ([]*structs.WebhookDelivery, error) {
			return cl.ListDeliveries(ctx, structs.DeliveryDead)
		}), func(d *structs.WebhookDelivery) []string {
			return []string{d.ID, d.Tenant, d.URL, d.Event.JobID, string(d.Event.State), strconv.Itoa(d.Attempts), d.LastError}
		})
}

func runDeadRetry(ctx context.Context, s *session, path, args []string) error {
	id, cl, err := s.namedClient(path, args, nil)
	if err != nil {
		return err
	}
	d, err := cl.RetryDelivery(ctx, id)
	return saved(s, d, err, func(d *structs.WebhookDelivery) string { return "delivery " + d.ID + " queued again" })
}

func runDeadDrop(ctx context.Context, s *session, path, args []string) error {
	return deleteNamed(ctx, s, path, args, "delivery", func(ctx context.Context, cl *client.Client, id string) error {
		return cl.DropDelivery(ctx, id)
	})
}

func runSubscribe(ctx context.Context, s *session, path, args []string) error {
	var sub structs.WebhookSubscription
	var states string
	fs := s.flagSet("subscribe")
	fs.StringVar(&sub.URL, "url", "", "where to send the calls (must pass the allow-list; required)")
	fs.StringVar(&sub.Tenant, "tenant", "", "tenant (default: your own)")
	fs.StringVar(&sub.Team, "team", "", "only jobs of this team")
	fs.StringVar(&sub.App, "app", "", "only jobs of this app")
	fs.StringVar(&states, "states", "", "only these states, comma-separated (default: every change)")
	pos, cl, err := s.leafClient(fs, path, "NAME", 1, 1, args)
	if err != nil {
		return err
	}
	if sub.URL == "" {
		return usagef("--url is required")
	}
	sub.Name = pos[0]
	for _, st := range strings.Split(states, ",") {
		if st = strings.TrimSpace(st); st != "" {
			if !structs.JobState(st).Valid() {
				return usagef("--states: unknown state %q", st)
			}
			sub.States = append(sub.States, structs.JobState(st))
		}
	}
	out, err := cl.PutSubscription(ctx, &sub)
	return saved(s, out, err, func(o *structs.WebhookSubscription) string {
		if o.Secret != "" {
			return fmt.Sprintf("subscription %s saved; its signing secret (shown once; store it now):\n%s", o.Name, o.Secret)
		}
		return fmt.Sprintf("subscription %s saved (its secret is unchanged)", o.Name)
	})
}

func runSubscriptions(ctx context.Context, s *session, path, args []string) error {
	return listTable(ctx, s, path, args, []string{"NAME", "TENANT", "TEAM", "APP", "STATES", "URL"},
		all((*client.Client).ListSubscriptions), func(o *structs.WebhookSubscription) []string {
			st := make([]string, len(o.States))
			for i, x := range o.States {
				st[i] = string(x)
			}
			return []string{o.Name, o.Tenant, dash(o.Team), dash(o.App), dash(strings.Join(st, ",")), o.URL}
		})
}

func runUnsubscribe(ctx context.Context, s *session, path, args []string) error {
	return deleteNamed(ctx, s, path, args, "subscription", func(ctx context.Context, cl *client.Client, n string) error {
		return cl.DeleteSubscription(ctx, n)
	})
}
