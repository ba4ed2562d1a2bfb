package cli

import (
	"context"
	"flag"
	"fmt"
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
	return listTable(ctx, s, path, args, []string{"NAME", "ISOLATED", "DISABLED", "ID_RANGE", "DESCRIPTION"},
		all((*client.Client).ListTenants), func(t *structs.Tenant) []string {
			r := ""
			if !t.IDRange.IsZero() {
				r = t.IDRange.String()
			}
			return []string{t.Name, yes(t.Isolated), yes(t.Disabled), dash(r), t.Description}
		})
}

func runTenantsAdd(ctx context.Context, s *session, path, args []string) error {
	var t structs.Tenant
	name, err := s.nameArg(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&t.Description, "description", "", "description")
		fs.BoolVar(&t.Isolated, "isolated", false, "keep its pods off nodes running other tenants' pods")
		fs.BoolVar(&t.Disabled, "disabled", false, "disable the tenant")
		fs.Var((*idRangeFlag)(&t.IDRange), "id-range", "uids and gids of its users, MIN-MAX (global administrators; unique across tenants)")
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
	return saved(s, out, err, func(t *structs.Tenant) string { return "tenant " + t.Name + " saved" })
}

func runTenantsDelete(ctx context.Context, s *session, path, args []string) error {
	return deleteNamed(ctx, s, path, args, "tenant", func(ctx context.Context, cl *client.Client, n string) error { return cl.DeleteTenant(ctx, n) })
}

// Teams.

func runTeamsList(ctx context.Context, s *session, path, args []string) error {
	return listTable(ctx, s, path, args, []string{"TENANT", "TEAM", "MEMBERS", "ADMINS"},
		ofTenant("tenant (default: your own)", true, (*client.Client).ListTeams), func(t *structs.Team) []string {
			return []string{t.Tenant, t.Name, dash(strings.Join(t.Members, ",")), dash(strings.Join(t.Admins, ","))}
		})
}

func runTeamsAdd(ctx context.Context, s *session, path, args []string) error {
	var t structs.Team
	var members, admins listFlag
	name, err := s.nameArg(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&t.Tenant, "tenant", "", "tenant (default: your own)")
		fs.Var(&members, "members", "members, comma-separated usernames: exactly these (omitted: the members stay as they are)")
		fs.Var(&admins, "admins", "team admins, comma-separated usernames")
	})
	if err != nil {
		return err
	}
	t.Name, t.Members, t.Admins = name, members, admins
	cl, err := s.tenantClient(ctx, &t.Tenant)
	if err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return usageErr(err)
	}
	out, err := cl.PutTeam(ctx, &t)
	return saved(s, out, err, func(t *structs.Team) string { return fmt.Sprintf("team %s/%s saved", t.Tenant, t.Name) })
}

func runTeamsDelete(ctx context.Context, s *session, path, args []string) error {
	return deleteInTenant(ctx, s, path, args, "team", func(ctx context.Context, cl *client.Client, tenant, n string) error {
		return cl.DeleteTeam(ctx, tenant, n)
	})
}

// Users.

func runUsersList(ctx context.Context, s *session, path, args []string) error {
	return listTable(ctx, s, path, args, []string{"USERNAME", "TENANT", "ROLE", "TEAMS", "UID", "KEYS", "DISABLED"},
		ofTenant("only users of this tenant", false, (*client.Client).ListUsers), func(u *structs.UserView) []string {
			return []string{u.Username, u.Tenant, string(u.Role), dash(strings.Join(u.Teams, ",")),
				dash(uidText(u.Identity.UID)), strconv.Itoa(len(u.APIKeys)), yes(u.Disabled)}
		})
}

func uidText(uid int) string {
	if uid == 0 {
		return ""
	}
	return strconv.Itoa(uid)
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
		fs.IntVar(&spec.Identity.UID, "uid", 0, "POSIX uid of the user's job processes (inside the tenant's id range)")
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
	return saved(s, out, err, func(u *structs.UserView) string {
		return fmt.Sprintf("user %s saved (tenant %s, role %s)", u.Username, u.Tenant, u.Role)
	})
}

func runUsersDelete(ctx context.Context, s *session, path, args []string) error {
	return deleteNamed(ctx, s, path, args, "user", func(ctx context.Context, cl *client.Client, n string) error { return cl.DeleteUser(ctx, n) })
}

func runKeyCreate(ctx context.Context, s *session, path, args []string) error {
	var keyName string
	fs := s.flagSet("create")
	fs.StringVar(&keyName, "name", "", "a name for the key")
	pos, cl, err := s.leafClient(fs, path, "USERNAME", 1, 1, args)
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
	pos, cl, err := s.leafClient(s.flagSet("list"), path, "USERNAME", 1, 1, args)
	if err != nil {
		return err
	}
	keys, err := cl.ListAPIKeys(ctx, pos[0])
	if err != nil {
		return err
	}
	return showTable(s, keys, []string{"ID", "NAME", "CREATED"}, func(k structs.APIKeyInfo) []string {
		return []string{k.ID, dash(k.Name), stamp(k.Created)}
	})
}

func runKeyRevoke(ctx context.Context, s *session, path, args []string) error {
	pos, cl, err := s.leafClient(s.flagSet("revoke"), path, "USERNAME KEY-ID", 2, 2, args)
	if err != nil {
		return err
	}
	return s.deleted("API key", pos[1], cl.RevokeAPIKey(ctx, pos[0], pos[1]))
}

// Vaults.

func runVaultsList(ctx context.Context, s *session, path, args []string) error {
	return listTable(ctx, s, path, args, []string{"TENANT", "VAULT", "KIND", "ACCESS", "CLAIM", "ZONE"},
		ofTenant("tenant (default: your own)", true, (*client.Client).ListVaults), func(v *structs.Vault) []string {
			return []string{v.Tenant, v.Name, string(v.Kind), string(v.AccessMode), dash(v.ClaimName), dash(v.Zone)}
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
	cl, err := s.tenantClient(ctx, &v.Tenant)
	if err != nil {
		return err
	}
	out, err := cl.PutVault(ctx, &v)
	return saved(s, out, err, func(v *structs.Vault) string { return fmt.Sprintf("vault %s/%s saved", v.Tenant, v.Name) })
}

func runVaultsDelete(ctx context.Context, s *session, path, args []string) error {
	return deleteInTenant(ctx, s, path, args, "vault", func(ctx context.Context, cl *client.Client, tenant, n string) error {
		return cl.DeleteVault(ctx, tenant, n)
	})
}
