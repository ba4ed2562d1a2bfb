package structs

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Visibility says who may see and run an app.
type Visibility string

// Visibilities.
const (
	VisibilityPublic  Visibility = "public"  // every tenant
	VisibilityTenant  Visibility = "tenant"  // the owner's tenant
	VisibilityPrivate Visibility = "private" // the owner only
)

// App is a catalog entry: a container image and the AppDef describing how to
// run it.
type App struct {
	RaftIndex
	Name       string     `json:"name"`
	Owner      string     `json:"owner,omitempty"` // username
	Tenant     string     `json:"tenant,omitempty"`
	Visibility Visibility `json:"visibility"`
	Image      string     `json:"image,omitempty"` // container image reference
	AppDef     AppDef     `json:"appdef"`
}

// Copy returns a deep copy of a.
func (a *App) Copy() *App {
	if a == nil {
		return nil
	}
	c := *a
	c.AppDef = a.AppDef.Copy()
	return &c
}

// Validate checks the fields a writer must supply. Full AppDef validation is
// the catalog's job.
func (a *App) Validate() error {
	if err := validName("app", a.Name); err != nil {
		return err
	}
	switch a.Visibility {
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
}

// Copy returns a deep copy of d.
func (d AppDef) Copy() AppDef {
	d.Classifications = slices.Clone(d.Classifications)
	d.Machines = slices.Clone(d.Machines)
	d.VaultTypes = slices.Clone(d.VaultTypes)
	if d.Commands != nil {
		cmds := make(map[string]Command, len(d.Commands))
		for k, c := range d.Commands {
			cmds[k] = c.Copy()
		}
		d.Commands = cmds
	}
	return d
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
	// ParameterOrder is the order the AppDef lists its parameters in
	// (positional arguments follow it); filled from the JSON when absent.
	ParameterOrder []string `json:"parameter_order,omitempty"`
}

// UnmarshalJSON decodes a command and records the order of its parameters
// as written, which a Go map would lose.
func (c *Command) UnmarshalJSON(b []byte) error {
	type plain Command
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = Command(p)
	if len(c.ParameterOrder) > 0 || len(c.Parameters) == 0 {
		return nil
	}
	var raw struct {
		Parameters json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || len(raw.Parameters) == 0 {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Parameters))
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if key, ok := tok.(string); ok {
			c.ParameterOrder = append(c.ParameterOrder, key)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

// Copy returns a deep copy of c.
func (c Command) Copy() Command {
	c.Ports = slices.Clone(c.Ports)
	c.Machines = slices.Clone(c.Machines)
	c.ParameterOrder = slices.Clone(c.ParameterOrder)
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
	Positional  bool      `json:"positional,omitempty"`
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
