package appdef

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Def is an AppDef: what an app offers (commands and their parameters),
// where it runs, and how it shows in the catalog. Commands, parameters and
// variables keep the order the JSON lists them in.
type Def struct {
	Name            string
	Description     string
	Author          string
	Licensed        bool
	Classifications []string
	Machines        []string // machine type patterns, shell wildcards ("ng*")
	VaultTypes      []string // FILE, BLOCK, BLOCK_ARRAY, OBJECT or NONE
	ScaleMax        Num
	Variables       []*Variable
	Identity        *Identity
	Hints           []string
	Image           *Image // the catalog icon
	Commands        []*Command
	AppDefVersion   Num
	Walltime        string // default walltime, HH:MM:SS
	EnableHPC       bool
	AppKind         string // "k8s" (default) or "kns"
}

// Command returns the command with key k, nil if there is none.
func (d *Def) Command(k string) *Command {
	for _, c := range d.Commands {
		if c.Key == k {
			return c
		}
	}
	return nil
}

// Image is the app's icon: a media type and base64 data.
type Image struct {
	Type string
	Data string
}

// Identity is the POSIX user the app's environment runs as.
type Identity struct {
	Username string
	Group    string
	UID      Num
	GID      Num
}

// Variable is an account variable written to /etc/JARVICE/jobenv.sh.
type Variable struct {
	Key         string
	Name        string
	Description string
	UserOwned   bool
	Inherit     bool
	Required    bool
}

// Command is one entry point of an app.
type Command struct {
	Key              string // the key of the command in "commands"
	Path             string
	Name             string
	Description      string
	Interactive      bool
	PublicIP         bool
	Ports            []string // "<number>/<tcp|udp|sctp>"
	NoConnect        bool
	URL              string
	Parameters       []*Parameter
	Machines         []string
	Variables        []*Variable
	Hints            []string
	Webshell         bool
	Desktop          bool
	VerboseInit      bool
	CmdScript        string // written to Path and run; plain or base64
	MPIRun           bool
	NoQueue          bool
	ScaleMax         Num
	Walltime         string
	NestedKubernetes json.RawMessage
}

// Parameter returns the parameter with key k, nil if there is none.
func (c *Command) Parameter(k string) *Parameter {
	for _, p := range c.Parameters {
		if p.Key == k {
			return p
		}
	}
	return nil
}

// Parameter types.
const (
	TypeConst     = "CONST"
	TypeString    = "STR"
	TypeInt       = "INT"
	TypeFloat     = "FLOAT"
	TypeRange     = "RANGE"
	TypeBool      = "BOOL"
	TypeSelection = "selection"
	TypeFile      = "FILE"
	TypeUpload    = "UPLOAD"
)

// Types lists the parameter types of the reference.
var Types = []string{TypeConst, TypeString, TypeInt, TypeFloat, TypeRange, TypeBool, TypeSelection, TypeFile, TypeUpload}

// Parameter is one argument of a command.
type Parameter struct {
	Key         string // the key in "parameters"; a non-positional one is passed as it
	Name        string
	Description string
	Type        string // "" means STR
	Required    bool
	Positional  *bool // nil means true
	Variable    bool
	Value       json.RawMessage // the default as written; nil when absent
	Min, Max    Num
	Step        Num
	Precision   Num
	Values      []string
	MValues     []string
	Filter      string
	Target      string // UPLOAD: the file lands at /opt/<Target>
	Size        Num    // UPLOAD: largest file, bytes
	If, IfNot   []string
	CmdScript   bool
}

// EffectiveType is the parameter's type, STR when none is given.
func (p *Parameter) EffectiveType() string {
	if p.Type == "" {
		return TypeString
	}
	return p.Type
}

// IsPositional reports whether the parameter is passed by position (the
// default) rather than as its key followed by its value.
func (p *Parameter) IsPositional() bool { return p.Positional == nil || *p.Positional }

// Num is a number an AppDef may write as a JSON number or as a string
// ("1.2", "4096"); an empty string is no number.
type Num struct {
	Set  bool
	F    float64
	Text string // the number as written, without quotes
}

// IsInt reports whether n is a whole number.
func (n Num) IsInt() bool { return n.Set && n.F == math.Trunc(n.F) && !math.IsInf(n.F, 0) }

// parseNum reads a JSON number or numeric string.
func parseNum(raw json.RawMessage) (Num, bool) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return Num{}, true
	}
	if s[0] == '"' {
		var t string
		if json.Unmarshal(raw, &t) != nil {
			return Num{}, false
		}
		s = strings.TrimSpace(t)
		if s == "" {
			return Num{}, true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return Num{}, false
	}
	return Num{Set: true, F: f, Text: s}, true
}
