package structs

import (
	"encoding/json"
	"slices"
)

// Visibility says who may see and run an app.
type Visibility string

// Visibilities.
const (
	VisibilityPublic  Visibility = "public"  // every tenant
	VisibilityTenant  Visibility = "tenant"  // the owner's tenant
	VisibilityTeam    Visibility = "team"    // the members of Team in the tenant
	VisibilityPrivate Visibility = "private" // the owner only
)

// App is a catalog entry: a container image and the AppDef describing how to
// run it.
type App struct {
	RaftIndex
	Name       string     `json:"name"`
	Owner      string     `json:"owner,omitempty"` // username
	Tenant     string     `json:"tenant,omitempty"`
	Team       string     `json:"team,omitempty"` // for team visibility
	Visibility Visibility `json:"visibility"`
	Image      string     `json:"image,omitempty"` // container image reference
	AppDef     AppDef     `json:"appdef"`
	// Origin names the catalog source the app was synced from
	// (catalog-sync/source: "image:REF", "hub:URL", "dir:PATH"); empty
	// for an app registered directly. A sync changes and removes only the
	// apps of its own origin.
	Origin string `json:"origin,omitempty"`
	// NoPrePull: the agents do not pre-pull the app's image onto their
	// nodes (they still check it runs on the nodes' architecture).
	NoPrePull bool `json:"no_prepull,omitempty"`
	// PullSecret is the app's pull credential (a docker config JSON, see
	// PullSecretRegistries), written by whoever may write the app. An
	// app written without one keeps the one it has; PUT and DELETE
	// /v1/apps/{name}/pull-secret set or remove it alone. The API never
	// shows it: replies carry PullSecretRegistries instead.
	PullSecret string `json:"pull_secret,omitempty"`
	// PullSecretRegistries, in replies only, are the registries the
	// app's pull credential names (its presence, never its content).
	PullSecretRegistries []string `json:"pull_secret_registries,omitempty"`
}

// Redacted is a as the API shows it: its pull credential replaced by
// the registries it names.
func (a *App) Redacted() *App {
	if a == nil || (a.PullSecret == "" && a.PullSecretRegistries == nil) {
		return a
	}
	c := a.Copy()
	c.PullSecretRegistries, _ = PullSecretRegistries("pull_secret", a.PullSecret)
	c.PullSecret = ""
	return c
}

// Copy returns a deep copy of a.
func (a *App) Copy() *App {
	if a == nil {
		return nil
	}
	c := *a
	c.AppDef = a.AppDef.Copy()
	c.PullSecretRegistries = slices.Clone(a.PullSecretRegistries)
	return &c
}

// Validate checks the fields a writer must supply. Full AppDef validation is
// the catalog's job.
func (a *App) Validate() error {
	if err := validName("app", a.Name); err != nil {
		return err
	}
	if a.PullSecret != "" {
		if _, err := PullSecretRegistries("pull_secret", a.PullSecret); err != nil {
			return err
		}
	}
	switch a.Visibility {
	case VisibilityTeam:
		if a.Team == "" {
			return invalidf("app %q: team visibility needs a team", a.Name)
		}
		return nil
	case VisibilityPublic, VisibilityTenant, VisibilityPrivate:
		return nil
	}
	return invalidf("app %q: visibility %q", a.Name, a.Visibility)
}

// AppDef is an application definition in JARVICE's AppDef.json shape.
type AppDef struct {
	Name            string             `json:"name"`
	Description     string             `json:"description,omitempty"`
	Author          string             `json:"author,omitempty"`
	Licensed        bool               `json:"licensed,omitempty"`
	Classifications []string           `json:"classifications,omitempty"`
	Machines        []string           `json:"machines,omitempty"`    // machine type patterns, e.g. "n*"
	VaultTypes      []VaultKind        `json:"vault-types,omitempty"` // accepted vault kinds
	ScaleMax        int                `json:"scale_max,omitempty"`
	Commands        map[string]Command `json:"commands,omitempty"`
	AppDefVersion   int                `json:"appdefversion,omitempty"`
	Walltime        string             `json:"walltime,omitempty"` // default walltime, HH:MM:SS
	// Icon is the "image" object: the catalog icon (nil without data).
	Icon *AppIcon `json:"image,omitempty"`

	// Raw is the AppDef as registered (compact JSON). When set it is what
	// the AppDef encodes to, so a round trip keeps every field, value and
	// key order, also those the fields above do not model; the fields
	// above are read from it (numbers may be written as strings). So an
	// edit of a field above does NOT change what an AppDef with Raw
	// encodes to: edit the document and decode it again, or clear Raw
	// (and every Command's) to encode the fields (TestNoSecretsInLogs once
	// ran a stale command path this way).
	Raw json.RawMessage `json:"-"`
}

// ScaleMaxOf is the largest node count of a job of command key: the
// command's own scale_max, else the AppDef's; 0 means no limit.
func (d *AppDef) ScaleMaxOf(key string) int {
	if c, ok := d.Commands[key]; ok && c.ScaleMax > 0 {
		return c.ScaleMax
	}
	return d.ScaleMax
}

// MachinesOf are the machine type patterns of command key: the
// command's own, which replace the AppDef's, else the AppDef's; none
// admit every machine type.
func (d *AppDef) MachinesOf(key string) []string {
	if c, ok := d.Commands[key]; ok && len(c.Machines) > 0 {
		return c.Machines
	}
	return d.Machines
}

// Copy returns a deep copy of d.
func (d AppDef) Copy() AppDef {
	d.Classifications = slices.Clone(d.Classifications)
	d.Machines = slices.Clone(d.Machines)
	d.VaultTypes = slices.Clone(d.VaultTypes)
	d.Raw = slices.Clone(d.Raw)
	if d.Icon != nil {
		ic := *d.Icon
		d.Icon = &ic
	}
	if d.Commands != nil {
		cmds := make(map[string]Command, len(d.Commands))
		for k, c := range d.Commands {
			cmds[k] = c.Copy()
		}
		d.Commands = cmds
	}
	return d
}

// AppIcon is an AppDef's "image": the app's catalog icon, base64 data of
// an image of the media type Type.
type AppIcon struct {
	Type string `json:"type,omitempty"`
	Data string `json:"data,omitempty"`
}

// Command is one entry point of an app.
type Command struct {
	Path        string               `json:"path"`
	Name        string               `json:"name,omitempty"`
	Description string               `json:"description,omitempty"`
	Interactive bool                 `json:"interactive,omitempty"`
	PublicIP    bool                 `json:"publicip,omitempty"`
	Ports       []string             `json:"ports,omitempty"` // e.g. "5901/tcp"
	URL         string               `json:"url,omitempty"`   // template with %PUBLICADDR% etc.
	Machines    []string             `json:"machines,omitempty"`
	Webshell    bool                 `json:"webshell,omitempty"`
	Desktop     bool                 `json:"desktop,omitempty"`
	Parameters  map[string]Parameter `json:"parameters,omitempty"`
	// ScaleMax, when above 0, replaces the AppDef's scale_max for jobs
	// of this command (the reference lets a command override it).
	ScaleMax int `json:"scale_max,omitempty"`
	// ParameterOrder is the order the AppDef lists its parameters in
	// (positional arguments follow it); read from the JSON.
	ParameterOrder []string `json:"-"`
	// Raw is the command as registered, encoded in its place (see
	// AppDef.Raw).
	Raw json.RawMessage `json:"-"`
}

// Copy returns a deep copy of c.
func (c Command) Copy() Command {
	c.Ports = slices.Clone(c.Ports)
	c.Machines = slices.Clone(c.Machines)
	c.ParameterOrder = slices.Clone(c.ParameterOrder)
	c.Raw = slices.Clone(c.Raw)
	if c.Parameters != nil {
		ps := make(map[string]Parameter, len(c.Parameters))
		for k, p := range c.Parameters {
			ps[k] = p.Copy()
		}
		c.Parameters = ps
	}
	return c
}

// ParamType is an AppDef parameter type.
type ParamType string

// Parameter types.
const (
	ParamConst     ParamType = "CONST"
	ParamString    ParamType = "STR"
	ParamBool      ParamType = "BOOL"
	ParamInt       ParamType = "INT"
	ParamFloat     ParamType = "FLOAT"
	ParamRange     ParamType = "RANGE"
	ParamSelection ParamType = "selection"
	ParamFile      ParamType = "FILE"
	ParamUpload    ParamType = "UPLOAD"
)

// Parameter is one argument of a command.
type Parameter struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Type        ParamType `json:"type"`
	Required    bool      `json:"required,omitempty"`
	Positional  bool      `json:"positional"`         // written always: absent means true (the reference's default)
	Variable    bool      `json:"variable,omitempty"` // also exported in the job's env file
	// Value is the default, as JSON: a string, number or boolean by Type.
	Value  json.RawMessage `json:"value,omitempty"`
	Min    float64         `json:"min,omitempty"`
	Max    float64         `json:"max,omitempty"`
	Step   float64         `json:"step,omitempty"`
	Values []string        `json:"values,omitempty"` // choices of a selection
	Filter string          `json:"filter,omitempty"` // FILE pattern, e.g. "*.cas"
}

// Copy returns a deep copy of p.
func (p Parameter) Copy() Parameter {
	p.Value = slices.Clone(p.Value)
	p.Values = slices.Clone(p.Values)
	return p
}
