package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Source is a catalog: the apps it offers now.
type Source interface {
	// Origin names the source; it tags every app synced from it.
	Origin() string
	// Apps lists the apps offered. An app the source cannot read (a bad
	// file, an image without an AppDef) is a Refusal, not an error; an
	// error means the source could not be listed at all, and the sync
	// then removes nothing.
	Apps(ctx context.Context) ([]*structs.App, []Refusal, error)
}

// Catalog is the hub catalog a sync writes to (the Go client of the hub
// API satisfies it).
type Catalog interface {
	ListApps(ctx context.Context) ([]*structs.App, error)
	PutApp(ctx context.Context, a *structs.App) (*structs.App, error)
	DeleteApp(ctx context.Context, name string) error
}

// Refusal is an app a sync did not take, and why.
type Refusal struct {
	App    string `json:"app"`
	Reason string `json:"reason"`
}

// Report is what one sync did: names of the apps added, updated, removed
// and left unchanged, and those refused with the reason.
type Report struct {
	Origin    string    `json:"origin"`
	Added     []string  `json:"added,omitempty"`
	Updated   []string  `json:"updated,omitempty"`
	Removed   []string  `json:"removed,omitempty"`
	Unchanged []string  `json:"unchanged,omitempty"`
	Refused   []Refusal `json:"refused,omitempty"`
}

// Sync makes cat hold exactly the apps src offers, tagged with its
// origin. Apps of another origin (or registered directly) are never
// changed: an offered app of the same name is refused. When src cannot
// be listed, nothing is changed and the error is returned.
func Sync(ctx context.Context, src Source, cat Catalog) (*Report, error) {
	origin := src.Origin()
	rep := &Report{Origin: origin}
	offered, refused, err := src.Apps(ctx)
	if err != nil {
		return rep, fmt.Errorf("source %s: %w", origin, err)
	}
	rep.Refused = append(rep.Refused, refused...)
	have, err := cat.ListApps(ctx)
	if err != nil {
		return rep, fmt.Errorf("list the catalog: %w", err)
	}
	byName := make(map[string]*structs.App, len(have))
	for _, a := range have {
		byName[a.Name] = a
	}
	seen := map[string]bool{}
	sort.Slice(offered, func(i, j int) bool { return offered[i].Name < offered[j].Name })
	for _, a := range offered {
		if seen[a.Name] {
			rep.Refused = append(rep.Refused, Refusal{a.Name, "offered twice by the source"})
			continue
		}
		seen[a.Name] = true
		a.Origin = origin
		old := byName[a.Name]
		if old != nil {
			a.NoPrePull = old.NoPrePull // the hub's own pre-pull choice outlives syncs
		}
		switch {
		case old != nil && old.Origin != origin:
			rep.Refused = append(rep.Refused, Refusal{a.Name, fmt.Sprintf("an app of that name exists from %s", originOf(old))})
			continue
		case old != nil && Same(old, a):
			rep.Unchanged = append(rep.Unchanged, a.Name)
			continue
		}
		if _, err := appdef.Check(&a.AppDef); err != nil {
			rep.Refused = append(rep.Refused, Refusal{a.Name, err.Error()})
			continue
		}
		if _, err := cat.PutApp(ctx, a); err != nil {
			if ctx.Err() != nil {
				return rep, err
			}
			rep.Refused = append(rep.Refused, Refusal{a.Name, err.Error()})
			continue
		}
		if old == nil {
			rep.Added = append(rep.Added, a.Name)
		} else {
			rep.Updated = append(rep.Updated, a.Name)
		}
	}
	for _, a := range have {
		if a.Origin != origin || seen[a.Name] {
			continue
		}
		if err := cat.DeleteApp(ctx, a.Name); err != nil && !errors.Is(err, structs.ErrNotFound) {
			if ctx.Err() != nil {
				return rep, err
			}
			rep.Refused = append(rep.Refused, Refusal{a.Name, "remove: " + err.Error()})
			continue
		}
		rep.Removed = append(rep.Removed, a.Name)
	}
	return rep, nil
}

func originOf(a *structs.App) string {
	if a.Origin == "" {
		return "a direct registration"
	}
	return a.Origin
}

// Same says whether two apps are the same catalog entry: name, image,
// visibility, owner, tenant, team, origin and the AppDef document.
func Same(a, b *structs.App) bool {
	if a.Name != b.Name || a.Image != b.Image || a.Visibility != b.Visibility || a.Owner != b.Owner ||
		a.Tenant != b.Tenant || a.Team != b.Team || a.Origin != b.Origin {
		return false
	}
	da, errA := appdef.Document(&a.AppDef)
	db, errB := appdef.Document(&b.AppDef)
	return errA == nil && errB == nil && bytes.Equal(da, db)
}

// Total is the number of apps a report names.
func (r *Report) Total() int {
	return len(r.Added) + len(r.Updated) + len(r.Removed) + len(r.Unchanged) + len(r.Refused)
}

// Changed says whether the sync wrote anything.
func (r *Report) Changed() bool {
	return len(r.Added)+len(r.Updated)+len(r.Removed) > 0
}

// Names lists the apps of a report's refusals.
func (r *Report) RefusedNames() []string {
	out := make([]string, 0, len(r.Refused))
	for _, f := range r.Refused {
		out = append(out, f.App)
	}
	return slices.Sorted(slices.Values(out))
}
