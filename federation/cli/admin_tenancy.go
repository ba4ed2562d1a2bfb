package cli

import (
	"context"
	"flag"
	"os"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// tenantOr returns tenant, or the caller's own tenant when it is empty.
func tenantOr(ctx context.Context, cl *client.Client, tenant string) (string, error) {
	if tenant != "" {
		return tenant, nil
	}
	me, err := cl.WhoAmI(ctx)
	if err != nil {
		return "", err
	}
	if me.Tenant == "" {
		return "", usagef("--tenant is required")
	}
	return me.Tenant, nil
}

// Tenants.

func runTenantsList(ctx context.Context, s *session, path, args []string) error {
	if err := s.noArgs(path, args, nil); err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	ts, err := cl.ListTenants(ctx)
	if err != nil {
		return err
	}
	return s.show(orEmpty(ts), func() error {
		rows := make([][]string, len(ts))
		for i, t := range ts {
			rows[i] = []string{t.Name, yes(t.Isolated), yes(t.Disabled), t.Description}
		}
		return s.table([]string{"NAME", "ISOLATED", "DISABLED", "DESCRIPTION"}, rows)
	})
}

func runTenantsAdd(ctx context.Context, s *session, path, args []string) error {
	var t structs.Tenant
	name, err := s.nameArg(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&t.Description, "description", "", "description")
		fs.BoolVar(&t.Isolated, "isolated", false, "keep its pods off nodes running other tenants' pods")
		fs.BoolVar(&t.Disabled, "disabled", false, "disable the tenant")
	})
	if err != nil {
		return err
	}
	t.Name = name
	if err := t.Validate(); err != nil {
		return usageErr(err)
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	out, err := cl.PutTenant(ctx, &t)
	if err != nil {
		return err
	}
	return s.show(out, func() error { return s.line("tenant %s saved", out.Name) })
}

func runTenantsDelete(ctx context.Context, s *session, path, args []string) error {
	name, err := s.nameArg(path, args, nil)
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	return s.deleted("tenant", name, cl.DeleteTenant(ctx, name))
}

// Teams.

func runTeamsList(ctx context.Context, s *session, path, args []string) error {
	var tenant string
	if err := s.noArgs(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "tenant (default: your own)")
	}); err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	if tenant, err = tenantOr(ctx, cl, tenant); err != nil {
		return err
	}
	ts, err := cl.ListTeams(ctx, tenant)
	if err != nil {
		return err
	}
	return s.show(orEmpty(ts), func() error {
		rows := make([][]string, len(ts))
		for i, t := range ts {
			rows[i] = []string{t.Tenant, t.Name, dash(strings.Join(t.Members, ",")), dash(strings.Join(t.Admins, ","))}
		}
		return s.table([]string{"TENANT", "TEAM", "MEMBERS", "ADMINS"}, rows)
	})
}

func runTeamsAdd(ctx context.Context, s *session, path, args []string) error {
	var t structs.Team
	var members, admins listFlag
	name, err := s.nameArg(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&t.Tenant, "tenant", "", "tenant (default: your own)")
		fs.Var(&members, "members", "members, comma-separated usernames")
		fs.Var(&admins, "admins", "team admins, comma-separated usernames")
	})
	if err != nil {
		return err
	}
	t.Name, t.Members, t.Admins = name, members, admins
	cl, err := s.client()
	if err != nil {
		return err
	}
	if t.Tenant, err = tenantOr(ctx, cl, t.Tenant); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return usageErr(err)
	}
	out, err := cl.PutTeam(ctx, &t)
	if err != nil {
		return err
	}
	return s.show(out, func() error { return s.line("team %s/%s saved", out.Tenant, out.Name) })
}

func runTeamsDelete(ctx context.Context, s *session, path, args []string) error {
	var tenant string
	name, err := s.nameArg(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "tenant (default: your own)")
	})
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	if tenant, err = tenantOr(ctx, cl, tenant); err != nil {
		return err
	}
	return s.deleted("team", tenant+"/"+name, cl.DeleteTeam(ctx, tenant, name))
}

// Users.

func runUsersList(ctx context.Context, s *session, path, args []string) error {
	var tenant string
	if err := s.noArgs(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "only users of this tenant")
	}); err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	us, err := cl.ListUsers(ctx, tenant)
	if err != nil {
		return err
	}
	return s.show(orEmpty(us), func() error {
		rows := make([][]string, len(us))
		for i, u := range us {
			rows[i] = []string{u.Username, u.Tenant, string(u.Role), dash(strings.Join(u.Teams, ",")),
				strconv.Itoa(len(u.APIKeys)), yes(u.Disabled)}
		}
		return s.table([]string{"USERNAME", "TENANT", "ROLE", "TEAMS", "KEYS", "DISABLED"}, rows)
	})
}

func runUsersAdd(ctx context.Context, s *session, path, args []string) error {
	spec := structs.UserSpec{Role: structs.RoleUser}
	var role, passwordFile string
	var teams, groups listFlag
	name, err := s.nameArg(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&spec.Tenant, "tenant", "", "tenant (required)")
		fs.StringVar(&role, "role", string(structs.RoleUser), "user, team-admin or admin")
		fs.StringVar(&spec.Email, "email", "", "email address")
		fs.Var(&teams, "teams", "teams, comma-separated")
		fs.Var(&groups, "groups", "groups granting access to apps, data and machine types, comma-separated")
		fs.IntVar(&spec.Identity.UID, "uid", 0, "POSIX uid of the user's job processes")
		fs.IntVar(&spec.Identity.GID, "gid", 0, "POSIX gid of the user's job processes")
		fs.StringVar(&spec.Identity.Group, "group", "", "POSIX group name")
		fs.StringVar(&passwordFile, "password-file", "", "file holding the user's password (for portal login)")
		fs.BoolVar(&spec.Disabled, "disabled", false, "disable the user")
	})
	if err != nil {
		return err
	}
	spec.Role, spec.Teams, spec.Groups = structs.Role(role), teams, groups
	u := structs.User{Username: name, Tenant: spec.Tenant, Role: spec.Role, Identity: spec.Identity}
	if spec.Tenant == "" {
		return usagef("users add: --tenant is required")
	}
	if err := u.Validate(); err != nil {
		return usageErr(err)
	}
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return usageErr(err)
		}
		if spec.Password = strings.TrimRight(string(b), "\r\n"); spec.Password == "" {
			return usagef("users add: password file %s is empty", passwordFile)
		}
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	out, err := cl.PutUser(ctx, name, &spec)
	if err != nil {
		return err
	}
	return s.show(out, func() error { return s.line("user %s saved (tenant %s, role %s)", out.Username, out.Tenant, out.Role) })
}

func runUsersDelete(ctx context.Context, s *session, path, args []string) error {
	name, err := s.nameArg(path, args, nil)
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	return s.deleted("user", name, cl.DeleteUser(ctx, name))
}

func runKeyCreate(ctx context.Context, s *session, path, args []string) error {
	var keyName string
	fs := s.flagSet("create")
	fs.StringVar(&keyName, "name", "", "a name for the key")
	pos, err := s.leaf(fs, path, "USERNAME", 1, 1, args)
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	k, err := cl.CreateAPIKey(ctx, pos[0], keyName)
	if err != nil {
		return err
	}
	return s.show(k, func() error {
		return s.line("API key %s of %s (shown once; store it now):\n%s", k.ID, pos[0], k.Key)
	})
}

func runKeyList(ctx context.Context, s *session, path, args []string) error {
	pos, err := s.leaf(s.flagSet("list"), path, "USERNAME", 1, 1, args)
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	keys, err := cl.ListAPIKeys(ctx, pos[0])
	if err != nil {
		return err
	}
	return s.show(orEmpty(keys), func() error {
		rows := make([][]string, len(keys))
		for i, k := range keys {
			rows[i] = []string{k.ID, dash(k.Name), stamp(k.Created)}
		}
		return s.table([]string{"ID", "NAME", "CREATED"}, rows)
	})
}

func runKeyRevoke(ctx context.Context, s *session, path, args []string) error {
	pos, err := s.leaf(s.flagSet("revoke"), path, "USERNAME KEY-ID", 2, 2, args)
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	return s.deleted("API key", pos[1], cl.RevokeAPIKey(ctx, pos[0], pos[1]))
}

// Vaults.

func runVaultsList(ctx context.Context, s *session, path, args []string) error {
	var tenant string
	if err := s.noArgs(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "tenant (default: your own)")
	}); err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	if tenant, err = tenantOr(ctx, cl, tenant); err != nil {
		return err
	}
	vs, err := cl.ListVaults(ctx, tenant)
	if err != nil {
		return err
	}
	return s.show(orEmpty(vs), func() error {
		rows := make([][]string, len(vs))
		for i, v := range vs {
			rows[i] = []string{v.Tenant, v.Name, string(v.Kind), string(v.AccessMode), dash(v.ClaimName), dash(v.Zone)}
		}
		return s.table([]string{"TENANT", "VAULT", "KIND", "ACCESS", "CLAIM", "ZONE"}, rows)
	})
}

func runVaultsAdd(ctx context.Context, s *session, path, args []string) error {
	var v structs.Vault
	var kind, access string
	name, err := s.nameArg(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&v.Tenant, "tenant", "", "tenant (default: your own)")
		fs.StringVar(&kind, "kind", string(structs.VaultFile), "FILE, BLOCK, BLOCK_ARRAY, OBJECT or NONE")
		fs.StringVar(&access, "access", string(structs.AccessRWX), "RWO or RWX")
		fs.StringVar(&v.ClaimName, "claim", "", "PersistentVolumeClaim name")
		fs.StringVar(&v.Zone, "zone", "", "zone jobs using it run in")
	})
	if err != nil {
		return err
	}
	v.Name, v.Kind, v.AccessMode = name, structs.VaultKind(kind), structs.AccessMode(access)
	probe := v
	if probe.Tenant == "" {
		probe.Tenant = "-" // checked below, once the caller's tenant is known
	}
	if err := probe.Validate(); err != nil {
		return usageErr(err)
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	if v.Tenant, err = tenantOr(ctx, cl, v.Tenant); err != nil {
		return err
	}
	out, err := cl.PutVault(ctx, &v)
	if err != nil {
		return err
	}
	return s.show(out, func() error { return s.line("vault %s/%s saved", out.Tenant, out.Name) })
}

func runVaultsDelete(ctx context.Context, s *session, path, args []string) error {
	var tenant string
	name, err := s.nameArg(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "tenant (default: your own)")
	})
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	if tenant, err = tenantOr(ctx, cl, tenant); err != nil {
		return err
	}
	return s.deleted("vault", tenant+"/"+name, cl.DeleteVault(ctx, tenant, name))
}
