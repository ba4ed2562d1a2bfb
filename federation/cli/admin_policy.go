package cli

import (
	"context"
	"flag"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Limits.

func runLimitsApply(ctx context.Context, s *session, path, args []string) error {
	return applyObjects(ctx, s, path, args, "limit", (*structs.Limit).Validate,
		func(l *structs.Limit) string { return l.Name },
		func(cl *client.Client) func(context.Context, *structs.Limit, ...client.WriteOption) (*structs.Limit, error) {
			return cl.PutLimit
		})
}

func runLimitsList(ctx context.Context, s *session, path, args []string) error {
	var tenant string
	if err := s.noArgs(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "only limits of this tenant")
	}); err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	ls, err := cl.ListLimits(ctx, tenant)
	if err != nil {
		return err
	}
	return s.show(orEmpty(ls), func() error {
		rows := make([][]string, len(ls))
		for i, l := range ls {
			who := l.Tenant
			switch l.Scope {
			case structs.ScopeTeam:
				who += "/team " + l.Team
			case structs.ScopeUser:
				who += "/user " + l.User
			}
			rows[i] = []string{l.Name, string(l.Scope), who, string(l.Kind), dash(l.MachineType), strconv.FormatInt(l.Value, 10)}
		}
		return s.table([]string{"NAME", "SCOPE", "APPLIES_TO", "KIND", "MACHINE", "VALUE"}, rows)
	})
}

func runLimitsDelete(ctx context.Context, s *session, path, args []string) error {
	name, err := s.nameArg(path, args, nil)
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	return s.deleted("limit", name, cl.DeleteLimit(ctx, name))
}

// Burst rules.

func runBurstRulesApply(ctx context.Context, s *session, path, args []string) error {
	return applyObjects(ctx, s, path, args, "burst rule", (*structs.BurstRule).Validate,
		func(b *structs.BurstRule) string { return b.Name },
		func(cl *client.Client) func(context.Context, *structs.BurstRule, ...client.WriteOption) (*structs.BurstRule, error) {
			return cl.PutBurstRule
		})
}

func runBurstRulesList(ctx context.Context, s *session, path, args []string) error {
	if err := s.noArgs(path, args, nil); err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	rs, err := cl.ListBurstRules(ctx)
	if err != nil {
		return err
	}
	return s.show(orEmpty(rs), func() error {
		rows := make([][]string, len(rs))
		for i, b := range rs {
			after := "at once"
			if b.After > 0 {
				after = b.After.String()
			}
			rows[i] = []string{b.Name, b.From, strings.Join(b.To, ","), after, yes(b.WhenFull),
				dash(capText(b.Cap)), yes(b.Disabled)}
		}
		return s.table([]string{"NAME", "FROM", "TO", "AFTER", "WHEN_FULL", "CAP", "DISABLED"}, rows)
	})
}

func capText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func runBurstRulesDelete(ctx context.Context, s *session, path, args []string) error {
	name, err := s.nameArg(path, args, nil)
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	return s.deleted("burst rule", name, cl.DeleteBurstRule(ctx, name))
}
