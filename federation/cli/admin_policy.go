package cli

import (
	"context"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Limits.

func runLimitsApply(ctx context.Context, s *session, path, args []string) error {
	return applyObjects(ctx, s, path, args, "limit", (*structs.Limit).Validate,
		func(l *structs.Limit) string { return l.Name }, (*client.Client).PutLimit)
}

func runLimitsList(ctx context.Context, s *session, path, args []string) error {
	return listTable(ctx, s, path, args, []string{"NAME", "SCOPE", "APPLIES_TO", "KIND", "MACHINE", "VALUE"},
		ofTenant("only limits of this tenant", false, (*client.Client).ListLimits), func(l *structs.Limit) []string {
			who := l.Tenant
			switch l.Scope {
			case structs.ScopeTeam:
				who += "/team " + l.Team
			case structs.ScopeUser:
				who += "/user " + l.User
			}
			return []string{l.Name, string(l.Scope), who, string(l.Kind), dash(l.MachineType), strconv.FormatInt(l.Value, 10)}
		})
}

func runLimitsDelete(ctx context.Context, s *session, path, args []string) error {
	return deleteNamed(ctx, s, path, args, "limit", func(ctx context.Context, cl *client.Client, n string) error { return cl.DeleteLimit(ctx, n) })
}

// Burst rules.

func runBurstRulesApply(ctx context.Context, s *session, path, args []string) error {
	return applyObjects(ctx, s, path, args, "burst rule", (*structs.BurstRule).Validate,
		func(b *structs.BurstRule) string { return b.Name }, (*client.Client).PutBurstRule)
}

func runBurstRulesList(ctx context.Context, s *session, path, args []string) error {
	return listTable(ctx, s, path, args, []string{"NAME", "FROM", "TO", "AFTER", "WHEN_FULL", "CAP", "DISABLED"},
		all((*client.Client).ListBurstRules), func(b *structs.BurstRule) []string {
			after := "at once"
			if b.After > 0 {
				after = b.After.String()
			}
			return []string{b.Name, b.From, strings.Join(b.To, ","), after, yes(b.WhenFull), dash(capText(b.Cap)), yes(b.Disabled)}
		})
}

func capText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func runBurstRulesDelete(ctx context.Context, s *session, path, args []string) error {
	return deleteNamed(ctx, s, path, args, "burst rule", func(ctx context.Context, cl *client.Client, n string) error {
		return cl.DeleteBurstRule(ctx, n)
	})
}
