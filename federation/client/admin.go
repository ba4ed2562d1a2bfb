package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Tenants.

// ListTenants returns the tenants the caller may see.
func (c *Client) ListTenants(ctx context.Context) ([]*structs.Tenant, error) {
	return list[*structs.Tenant](ctx, c, "/v1/tenants", nil)
}

// GetTenant returns a tenant.
func (c *Client) GetTenant(ctx context.Context, name string) (*structs.Tenant, error) {
	return call[structs.Tenant](ctx, c, http.MethodGet, "/v1/tenants/"+esc(name), nil, nil)
}

// PutTenant creates or replaces a tenant.
func (c *Client) PutTenant(ctx context.Context, t *structs.Tenant, opts ...WriteOption) (*structs.Tenant, error) {
	return call[structs.Tenant](ctx, c, http.MethodPut, "/v1/tenants/"+esc(t.Name), writeQuery(opts), t)
}

// DeleteTenant deletes a tenant with no teams, users, vaults or limits.
func (c *Client) DeleteTenant(ctx context.Context, name string, opts ...WriteOption) error {
	return c.del(ctx, "/v1/tenants/"+esc(name), opts...)
}

// Teams.

// ListTeams returns the teams of a tenant the caller may see.
func (c *Client) ListTeams(ctx context.Context, tenant string) ([]*structs.Team, error) {
	return list[*structs.Team](ctx, c, "/v1/tenants/"+esc(tenant)+"/teams", nil)
}

// GetTeam returns a team.
func (c *Client) GetTeam(ctx context.Context, tenant, name string) (*structs.Team, error) {
	return call[structs.Team](ctx, c, http.MethodGet, teamPath(tenant, name), nil, nil)
}

// PutTeam creates or replaces a team.
func (c *Client) PutTeam(ctx context.Context, t *structs.Team, opts ...WriteOption) (*structs.Team, error) {
	return call[structs.Team](ctx, c, http.MethodPut, teamPath(t.Tenant, t.Name), writeQuery(opts), t)
}

// DeleteTeam deletes a team.
func (c *Client) DeleteTeam(ctx context.Context, tenant, name string, opts ...WriteOption) error {
	return c.del(ctx, teamPath(tenant, name), opts...)
}

func teamPath(tenant, name string) string {
	return "/v1/tenants/" + esc(tenant) + "/teams/" + esc(name)
}

// Users and API keys.

// ListUsers returns the users the caller may see, of one tenant when
// tenant is set.
func (c *Client) ListUsers(ctx context.Context, tenant string) ([]*structs.UserView, error) {
	var q url.Values
	if tenant != "" {
		q = url.Values{"tenant": {tenant}}
	}
	return list[*structs.UserView](ctx, c, "/v1/users", q)
}

// GetUser returns a user.
func (c *Client) GetUser(ctx context.Context, username string) (*structs.UserView, error) {
	return call[structs.UserView](ctx, c, http.MethodGet, "/v1/users/"+esc(username), nil, nil)
}

// PutUser creates or replaces a user; API keys are kept.
func (c *Client) PutUser(ctx context.Context, username string, spec *structs.UserSpec, opts ...WriteOption) (*structs.UserView, error) {
	return call[structs.UserView](ctx, c, http.MethodPut, "/v1/users/"+esc(username), writeQuery(opts), spec)
}

// DeleteUser deletes a user.
func (c *Client) DeleteUser(ctx context.Context, username string, opts ...WriteOption) error {
	return c.del(ctx, "/v1/users/"+esc(username), opts...)
}

// CreateAPIKey makes a new API key for a user. The reply's Key is the
// secret, shown this once.
func (c *Client) CreateAPIKey(ctx context.Context, username, name string) (*structs.APIKeyCreated, error) {
	return call[structs.APIKeyCreated](ctx, c, http.MethodPost, "/v1/users/"+esc(username)+"/apikeys", nil,
		&structs.APIKeyRequest{Name: name})
}

// ListAPIKeys describes a user's API keys (never their secrets).
func (c *Client) ListAPIKeys(ctx context.Context, username string) ([]structs.APIKeyInfo, error) {
	return list[structs.APIKeyInfo](ctx, c, "/v1/users/"+esc(username)+"/apikeys", nil)
}

// RevokeAPIKey deletes one of a user's API keys by its id.
func (c *Client) RevokeAPIKey(ctx context.Context, username, id string) error {
	return c.del(ctx, "/v1/users/"+esc(username)+"/apikeys/"+esc(id))
}

// Machine types.

// ListMachineTypes returns the machine types the caller may use.
func (c *Client) ListMachineTypes(ctx context.Context) ([]*structs.MachineType, error) {
	return list[*structs.MachineType](ctx, c, "/v1/machinetypes", nil)
}

// GetMachineType returns a machine type.
func (c *Client) GetMachineType(ctx context.Context, name string) (*structs.MachineType, error) {
	return call[structs.MachineType](ctx, c, http.MethodGet, "/v1/machinetypes/"+esc(name), nil, nil)
}

// PutMachineType creates or replaces a machine type.
func (c *Client) PutMachineType(ctx context.Context, m *structs.MachineType, opts ...WriteOption) (*structs.MachineType, error) {
	return call[structs.MachineType](ctx, c, http.MethodPut, "/v1/machinetypes/"+esc(m.Name), writeQuery(opts), m)
}

// DeleteMachineType deletes a machine type.
func (c *Client) DeleteMachineType(ctx context.Context, name string, opts ...WriteOption) error {
	return c.del(ctx, "/v1/machinetypes/"+esc(name), opts...)
}

// Clusters.

// ListClusters returns the registered clusters.
func (c *Client) ListClusters(ctx context.Context) ([]*structs.Cluster, error) {
	return list[*structs.Cluster](ctx, c, "/v1/clusters", nil)
}

// GetCluster returns a cluster.
func (c *Client) GetCluster(ctx context.Context, name string) (*structs.Cluster, error) {
	return call[structs.Cluster](ctx, c, http.MethodGet, "/v1/clusters/"+esc(name), nil, nil)
}

// PutCluster registers a cluster or updates its registration.
func (c *Client) PutCluster(ctx context.Context, name string, spec *structs.ClusterSpec, opts ...WriteOption) (*structs.Cluster, error) {
	return call[structs.Cluster](ctx, c, http.MethodPut, "/v1/clusters/"+esc(name), writeQuery(opts), spec)
}

// DeleteCluster deletes a cluster no machine type is pinned to.
func (c *Client) DeleteCluster(ctx context.Context, name string, opts ...WriteOption) error {
	return c.del(ctx, "/v1/clusters/"+esc(name), opts...)
}

// CreateAgentKey issues a new key for a cluster's agent, replacing the old
// one. The reply's Key is the secret, shown this once.
func (c *Client) CreateAgentKey(ctx context.Context, cluster string) (*structs.APIKeyCreated, error) {
	return call[structs.APIKeyCreated](ctx, c, http.MethodPost, "/v1/clusters/"+esc(cluster)+"/agentkey", nil, nil)
}

// Vaults.

// ListVaults returns a tenant's vaults.
func (c *Client) ListVaults(ctx context.Context, tenant string) ([]*structs.Vault, error) {
	return list[*structs.Vault](ctx, c, "/v1/tenants/"+esc(tenant)+"/vaults", nil)
}

// GetVault returns a vault.
func (c *Client) GetVault(ctx context.Context, tenant, name string) (*structs.Vault, error) {
	return call[structs.Vault](ctx, c, http.MethodGet, vaultPath(tenant, name), nil, nil)
}

// PutVault creates or replaces a vault.
func (c *Client) PutVault(ctx context.Context, v *structs.Vault, opts ...WriteOption) (*structs.Vault, error) {
	return call[structs.Vault](ctx, c, http.MethodPut, vaultPath(v.Tenant, v.Name), writeQuery(opts), v)
}

// DeleteVault deletes a vault.
func (c *Client) DeleteVault(ctx context.Context, tenant, name string, opts ...WriteOption) error {
	return c.del(ctx, vaultPath(tenant, name), opts...)
}

func vaultPath(tenant, name string) string {
	return "/v1/tenants/" + esc(tenant) + "/vaults/" + esc(name)
}

// Apps.

// ListApps returns the apps the caller may see, without the batch apps
// of job scripts (structs.App.IsBatchApp).
func (c *Client) ListApps(ctx context.Context) ([]*structs.App, error) {
	return list[*structs.App](ctx, c, "/v1/apps", nil)
}

// ListAllApps is ListApps with the batch apps of job scripts.
func (c *Client) ListAllApps(ctx context.Context) ([]*structs.App, error) {
	return list[*structs.App](ctx, c, "/v1/apps", url.Values{"all": {"true"}})
}

// GetApp returns an app.
func (c *Client) GetApp(ctx context.Context, name string) (*structs.App, error) {
	return call[structs.App](ctx, c, http.MethodGet, "/v1/apps/"+esc(name), nil, nil)
}

// AppIcon returns an app's icon (its AppDef's image) and media type.
func (c *Client) AppIcon(ctx context.Context, name string) (mediaType string, data []byte, err error) {
	h, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/apps/" + esc(name) + "/icon", raw: &data})
	if err != nil {
		return "", nil, err
	}
	return h.Get("Content-Type"), data, nil
}

// PutApp creates or replaces an app.
func (c *Client) PutApp(ctx context.Context, a *structs.App, opts ...WriteOption) (*structs.App, error) {
	return call[structs.App](ctx, c, http.MethodPut, "/v1/apps/"+esc(a.Name), writeQuery(opts), a)
}

// SetAppPullSecret sets or replaces an app's pull credential (a docker
// config JSON); nothing else of the app changes. It returns the app as
// the API shows it (the credential's registries, not the credential).
func (c *Client) SetAppPullSecret(ctx context.Context, name, pullSecret string, opts ...WriteOption) (*structs.App, error) {
	return call[structs.App](ctx, c, http.MethodPut, "/v1/apps/"+esc(name)+"/pull-secret", writeQuery(opts),
		&structs.AppPullSecret{PullSecret: pullSecret})
}

// RemoveAppPullSecret removes an app's pull credential (none: no
// change) and returns the app.
func (c *Client) RemoveAppPullSecret(ctx context.Context, name string, opts ...WriteOption) (*structs.App, error) {
	return call[structs.App](ctx, c, http.MethodDelete, "/v1/apps/"+esc(name)+"/pull-secret", writeQuery(opts), nil)
}

// DeleteApp deletes an app.
func (c *Client) DeleteApp(ctx context.Context, name string, opts ...WriteOption) error {
	return c.del(ctx, "/v1/apps/"+esc(name), opts...)
}

// Limits.

// ListLimits returns the limits the caller may see, of one tenant when
// tenant is set.
func (c *Client) ListLimits(ctx context.Context, tenant string) ([]*structs.Limit, error) {
	var q url.Values
	if tenant != "" {
		q = url.Values{"tenant": {tenant}}
	}
	return list[*structs.Limit](ctx, c, "/v1/limits", q)
}

// GetLimit returns a limit.
func (c *Client) GetLimit(ctx context.Context, name string) (*structs.Limit, error) {
	return call[structs.Limit](ctx, c, http.MethodGet, "/v1/limits/"+esc(name), nil, nil)
}

// PutLimit creates or replaces a limit.
func (c *Client) PutLimit(ctx context.Context, l *structs.Limit, opts ...WriteOption) (*structs.Limit, error) {
	return call[structs.Limit](ctx, c, http.MethodPut, "/v1/limits/"+esc(l.Name), writeQuery(opts), l)
}

// DeleteLimit deletes a limit.
func (c *Client) DeleteLimit(ctx context.Context, name string, opts ...WriteOption) error {
	return c.del(ctx, "/v1/limits/"+esc(name), opts...)
}

// Burst rules.

// ListBurstRules returns the burst rules.
func (c *Client) ListBurstRules(ctx context.Context) ([]*structs.BurstRule, error) {
	return list[*structs.BurstRule](ctx, c, "/v1/burstrules", nil)
}

// GetBurstRule returns a burst rule.
func (c *Client) GetBurstRule(ctx context.Context, name string) (*structs.BurstRule, error) {
	return call[structs.BurstRule](ctx, c, http.MethodGet, "/v1/burstrules/"+esc(name), nil, nil)
}

// PutBurstRule creates or replaces a burst rule.
func (c *Client) PutBurstRule(ctx context.Context, b *structs.BurstRule, opts ...WriteOption) (*structs.BurstRule, error) {
	return call[structs.BurstRule](ctx, c, http.MethodPut, "/v1/burstrules/"+esc(b.Name), writeQuery(opts), b)
}

// DeleteBurstRule deletes a burst rule.
func (c *Client) DeleteBurstRule(ctx context.Context, name string, opts ...WriteOption) error {
	return c.del(ctx, "/v1/burstrules/"+esc(name), opts...)
}

// ListAccessRules returns the access rules.
func (c *Client) ListAccessRules(ctx context.Context) ([]*structs.AccessRule, error) {
	return list[*structs.AccessRule](ctx, c, "/v1/accessrules", nil)
}

// PutAccessRule creates or replaces an access rule.
func (c *Client) PutAccessRule(ctx context.Context, a *structs.AccessRule, opts ...WriteOption) (*structs.AccessRule, error) {
	return call[structs.AccessRule](ctx, c, http.MethodPut, "/v1/accessrules/"+esc(a.Name), writeQuery(opts), a)
}

// DeleteAccessRule deletes an access rule.
func (c *Client) DeleteAccessRule(ctx context.Context, name string, opts ...WriteOption) error {
	return c.del(ctx, "/v1/accessrules/"+esc(name), opts...)
}
