package source

import (
	"context"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Hub is another Flotilla hub's catalog (upstream → downstream): every app
// its key may see, with its visibility, owner, tenant and team kept, so a
// private app stays private and a team app stays its team's. Apps the
// upstream itself synced from elsewhere come along with their content; the
// origin downstream is this hub. A downstream refuses (and the report
// names) an app whose owner, tenant or team it does not know.
type Hub struct {
	URL    string
	Client *client.Client // authenticated at the upstream hub
}

// Origin is "hub:" and the upstream's URL.
func (h *Hub) Origin() string { return "hub:" + h.URL }

// Apps lists the upstream's catalog.
func (h *Hub) Apps(ctx context.Context) ([]*structs.App, []Refusal, error) {
	apps, err := h.Client.ListApps(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := make([]*structs.App, 0, len(apps))
	for _, a := range apps {
		c := &structs.App{Name: a.Name, Owner: a.Owner, Tenant: a.Tenant, Team: a.Team, Visibility: a.Visibility,
			Image: a.Image, AppDef: a.AppDef}
		out = append(out, c)
	}
	return out, nil, nil
}

// HubCatalog is a hub's catalog through its Go client.
type HubCatalog struct{ Client *client.Client }

// ListApps lists the apps the client may see.
func (c HubCatalog) ListApps(ctx context.Context) ([]*structs.App, error) {
	return c.Client.ListApps(ctx)
}

// PutApp creates or replaces an app.
func (c HubCatalog) PutApp(ctx context.Context, a *structs.App) (*structs.App, error) {
	return c.Client.PutApp(ctx, a)
}

// DeleteApp deletes an app.
func (c HubCatalog) DeleteApp(ctx context.Context, name string) error {
	return c.Client.DeleteApp(ctx, name)
}
