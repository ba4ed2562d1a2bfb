package appdef

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// MaxBytes bounds an AppDef document (icons are base64 inside it).
const MaxBytes = 4 << 20

// Known field names per level. Fields JARVICE itself adds when it serves
// an AppDef (id, owner, price, public, ...) count as known.
var (
	defFields = fields("name", "description", "author", "licensed", "classifications", "machines",
		"vault-types", "scale_max", "variables", "identity", "hints", "image", "commands",
		"appdefversion", "walltime", "enablehpc", "appkind", "meta",
		"certified", "id", "nae", "owner", "price", "public", "team")
	commandFields = fields("path", "name", "description", "interactive", "publicip", "ports", "noconnect",
		"url", "parameters", "machines", "variables", "hints", "webshell", "desktop", "verboseinit",
		"cmdscript", "mpirun", "noqueue", "scale_max", "walltime", "nestedkubernetes")
	parameterFields = fields("name", "description", "type", "required", "positional", "variable", "value",
		"min", "max", "step", "precision", "values", "mvalues", "filter", "target", "size", "if", "ifnot",
		"cmdscript")
	variableFields = fields("name", "description", "userowned", "inherit", "required")
	identityFields = fields("username", "group", "uid", "gid")
	imageFields    = fields("type", "data")
)

func fields(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Result is what Parse found besides the model.
type Result struct {
	// Unknown lists the JSON paths of fields the reference does not
	// define; they are kept in the stored AppDef and returned unchanged.
	Unknown []string
	// Errors lists every structural and semantic rule the AppDef breaks.
	Errors []structs.PathError
	// Lenient lists what real AppDefs do that the reference does not ask
	// for but JARVICE runs anyway (a duplicate key, an SVG icon, a relative
	// command path...): accepted, and named in the warnings.
	Lenient []structs.PathError
}

// Warnings are the messages a registration shows besides success.
func (r *Result) Warnings() []string {
	out := make([]string, 0, len(r.Unknown)+len(r.Lenient))
	for _, p := range r.Unknown {
		out = append(out, p+": unknown field, kept unchanged")
	}
	for _, e := range r.Lenient {
		out = append(out, e.Path+": "+e.Rule)
	}
	return out
}

// warn records something accepted as JARVICE accepts it, with a warning.
func (r *Result) warn(path, format string, args ...any) {
	r.Lenient = append(r.Lenient, structs.PathError{Path: path, Rule: fmt.Sprintf(format, args...)})
}

// Err is nil when the AppDef is valid, else a *structs.ValidationError
// listing every error.
func (r *Result) Err() error {
	if len(r.Errors) == 0 {
		return nil
	}
	return &structs.ValidationError{What: "appdef", Errors: r.Errors}
}

func (r *Result) fail(path, format string, args ...any) {
	r.Errors = append(r.Errors, structs.PathError{Path: path, Rule: fmt.Sprintf(format, args...)})
}

// Parse decodes and validates an AppDef. The model is returned whenever the
// document is a JSON object, even with errors, so callers can show them
// all; use Result.Err to decide.
func Parse(raw []byte) (*Def, *Result) {
	res := &Result{}
	if len(raw) > MaxBytes {
		res.fail("$", "document of %d bytes exceeds %d", len(raw), MaxBytes)
		return nil, res
	}
	if !json.Valid(raw) {
		res.fail("$", "not valid JSON: %s", syntaxError(raw))
		return nil, res
	}
	d := decodeDef(res, raw)
	if d != nil {
		validateDef(res, d)
	}
	return d, res
}

// ParseCommand decodes one command object (as an assignment carries it)
// without validating the AppDef around it.
func ParseCommand(key string, raw []byte) (*Command, error) {
	res := &Result{}
	c := decodeCommand(res, "$", key, raw)
	if c == nil || len(res.Errors) > 0 {
		return nil, res.Err()
	}
	return c, nil
}

var ident = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// child is the JSON path of key k below path.
func child(path, k string) string {
	if ident.MatchString(k) {
		return path + "." + k
	}
	b, _ := json.Marshal(k)
	return path + "[" + string(b) + "]"
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// member is one key of a JSON object, in document order.
type member struct {
	key string
	val json.RawMessage
}

// members splits a JSON object into its members in order; ok is false for
// anything but an object.
func members(raw json.RawMessage) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		out = append(out, member{k, v})
	}
	return out, true
}

// unique folds the members of an object of commands, parameters or
// variables whose key repeats into one, as JSON parsers (JARVICE's among
// them) read it: the last value, in the first one's place; each repeat
// is warned about.
func unique(res *Result, path string, ms []member) []member {
	at := make(map[string]int, len(ms))
	out := ms[:0:0]
	for _, m := range ms {
		if i, dup := at[m.key]; dup {
			res.warn(child(path, m.key), "duplicate key: the last value counts")
			out[i].val = m.val
			continue
		}
		at[m.key] = len(out)
		out = append(out, m)
	}
	return out
}

// object reads one JSON object at path, reporting unknown and duplicate
// keys; nil when raw is not an object (an error is recorded).
type object struct {
	res  *Result
	path string
	vals map[string]json.RawMessage
}

func readObject(res *Result, path string, raw json.RawMessage, known map[string]bool) *object {
	ms, ok := members(raw)
	if !ok {
		res.fail(path, "want an object")
		return nil
	}
	o := &object{res: res, path: path, vals: make(map[string]json.RawMessage, len(ms))}
	for _, m := range ms {
		if _, dup := o.vals[m.key]; dup {
			// JSON parsers (JARVICE's among them) keep the last one.
			res.warn(child(path, m.key), "duplicate key: the last value counts")
		}
		o.vals[m.key] = m.val
		if known != nil && !known[m.key] {
			res.Unknown = append(res.Unknown, child(path, m.key))
		}
	}
	return o
}

// get returns the raw value of k; absent and null are both "not given".
func (o *object) get(k string) (json.RawMessage, bool) {
	v, ok := o.vals[k]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return nil, false
	}
	return v, true
}

func (o *object) has(k string) bool { _, ok := o.get(k); return ok }

func (o *object) str(k string) string {
	v, ok := o.get(k)
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		o.res.fail(child(o.path, k), "want a string")
	}
	return s
}

func (o *object) boolean(k string) bool {
	v, ok := o.get(k)
	if !ok {
		return false
	}
	b, ok := boolOf(v)
	if !ok {
		o.res.fail(child(o.path, k), "want true or false")
	}
	return b
}

// boolOf reads a JSON boolean, or "true"/"false" in a string as some real
// AppDefs write them (as numbers may be written as strings).
func boolOf(v json.RawMessage) (b, ok bool) {
	if json.Unmarshal(v, &b) == nil {
		return b, true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// syntaxError says where a document stops being JSON: line and column.
func syntaxError(raw []byte) string {
	var v any
	err := json.Unmarshal(raw, &v)
	se, ok := err.(*json.SyntaxError)
	if !ok {
		if err == nil {
			return "trailing data"
		}
		return err.Error()
	}
	off := min(int(se.Offset), len(raw))
	line := 1 + bytes.Count(raw[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(raw[:off], '\n')
	return fmt.Sprintf("line %d, column %d: %v", line, col, se)
}

func (o *object) optBool(k string) *bool {
	if !o.has(k) {
		return nil
	}
	b := o.boolean(k)
	return &b
}

func (o *object) num(k string) Num {
	v, ok := o.get(k)
	if !ok {
		return Num{}
	}
	n, ok := parseNum(v)
	if !ok {
		o.res.fail(child(o.path, k), "want a number (or a number in a string)")
	}
	return n
}

// strs reads a list of strings; a single string counts as a list of one
// (some AppDefs write "classifications": "Simulation").
func (o *object) strs(k string) []string {
	v, ok := o.get(k)
	if !ok {
		return nil
	}
	var one string
	if json.Unmarshal(v, &one) == nil {
		return []string{one}
	}
	var list []json.RawMessage
	if json.Unmarshal(v, &list) != nil {
		o.res.fail(child(o.path, k), "want a list of strings")
		return nil
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		var s string
		if json.Unmarshal(e, &s) != nil {
			// selection values may be numbers; keep their text
			if n, ok := parseNum(e); ok && n.Set {
				out = append(out, n.Text)
				continue
			}
			o.res.fail(index(child(o.path, k), i), "want a string")
			continue
		}
		out = append(out, s)
	}
	return out
}

func decodeDef(res *Result, raw json.RawMessage) *Def {
	o := readObject(res, "$", raw, defFields)
	if o == nil {
		return nil
	}
	d := &Def{
		Name: o.str("name"), Description: o.str("description"), Author: o.str("author"),
		Licensed: o.boolean("licensed"), Classifications: o.strs("classifications"),
		Machines: o.strs("machines"), VaultTypes: o.strs("vault-types"), ScaleMax: o.num("scale_max"),
		Hints: o.strs("hints"), AppDefVersion: o.num("appdefversion"), Walltime: o.str("walltime"),
		EnableHPC: o.boolean("enablehpc"), AppKind: o.str("appkind"),
	}
	d.Variables = decodeVariables(res, o, "variables")
	if v, ok := o.get("identity"); ok {
		if io := readObject(res, child("$", "identity"), v, identityFields); io != nil {
			d.Identity = &Identity{Username: io.str("username"), Group: io.str("group"), UID: io.num("uid"), GID: io.num("gid")}
		}
	}
	if v, ok := o.get("image"); ok {
		if im := readObject(res, child("$", "image"), v, imageFields); im != nil {
			d.Image = &Image{Type: im.str("type"), Data: im.str("data")}
		}
	}
	if v, ok := o.get("commands"); ok {
		path := child("$", "commands")
		ms, isObj := members(v)
		if !isObj {
			res.fail(path, "want an object of commands")
		}
		for _, m := range unique(res, path, ms) {
			if c := decodeCommand(res, child(path, m.key), m.key, m.val); c != nil {
				d.Commands = append(d.Commands, c)
			}
		}
	}
	return d
}

func decodeVariables(res *Result, o *object, k string) []*Variable {
	v, ok := o.get(k)
	if !ok {
		return nil
	}
	path := child(o.path, k)
	ms, isObj := members(v)
	if !isObj {
		res.fail(path, "want an object of variables")
		return nil
	}
	var out []*Variable
	for _, m := range unique(res, path, ms) {
		if vo := readObject(res, child(path, m.key), m.val, variableFields); vo != nil {
			out = append(out, &Variable{Key: m.key, Name: vo.str("name"), Description: vo.str("description"),
				UserOwned: vo.boolean("userowned"), Inherit: vo.boolean("inherit"), Required: vo.boolean("required")})
		}
	}
	return out
}

func decodeCommand(res *Result, path, key string, raw json.RawMessage) *Command {
	o := readObject(res, path, raw, commandFields)
	if o == nil {
		return nil
	}
	c := &Command{Key: key,
		Path: o.str("path"), Name: o.str("name"), Description: o.str("description"),
		Interactive: o.boolean("interactive"), PublicIP: o.boolean("publicip"), Ports: o.strs("ports"),
		NoConnect: o.boolean("noconnect"), URL: o.str("url"), Machines: o.strs("machines"),
		Hints: o.strs("hints"), Webshell: o.boolean("webshell"), Desktop: o.boolean("desktop"),
		VerboseInit: o.boolean("verboseinit"), CmdScript: o.str("cmdscript"), MPIRun: o.boolean("mpirun"),
		NoQueue: o.boolean("noqueue"), ScaleMax: o.num("scale_max"), Walltime: o.str("walltime"),
	}
	c.NestedKubernetes, _ = o.get("nestedkubernetes")
	c.Variables = decodeVariables(res, o, "variables")
	if v, ok := o.get("parameters"); ok {
		ppath := child(path, "parameters")
		ms, isObj := members(v)
		if !isObj {
			res.fail(ppath, "want an object of parameters")
		}
		for _, m := range unique(res, ppath, ms) {
			if p := decodeParameter(res, child(ppath, m.key), m.key, m.val); p != nil {
				c.Parameters = append(c.Parameters, p)
			}
		}
	}
	legacyOrder(c, o.strs("parameter_order"))
	return c
}

// legacyOrder orders c's parameters by order, the "parameter_order" list
// hubs before the lossless catalog stored beside a command's parameters
// (whose object they wrote with sorted keys): a command restored from
// such a log or snapshot keeps the order it was registered with.
// Parameters the list does not name keep their place after those it does.
func legacyOrder(c *Command, order []string) {
	if len(order) == 0 {
		return
	}
	rank := make(map[string]int, len(order))
	for i, k := range order {
		if _, dup := rank[k]; !dup {
			rank[k] = i
		}
	}
	pos := func(p *Parameter) int {
		if r, ok := rank[p.Key]; ok {
			return r
		}
		return len(order)
	}
	slices.SortStableFunc(c.Parameters, func(a, b *Parameter) int { return pos(a) - pos(b) })
}

func decodeParameter(res *Result, path, key string, raw json.RawMessage) *Parameter {
	o := readObject(res, path, raw, parameterFields)
	if o == nil {
		return nil
	}
	p := &Parameter{Key: key, Name: o.str("name"), Description: o.str("description"), Type: o.str("type"),
		Required: o.boolean("required"), Positional: o.optBool("positional"), Variable: o.boolean("variable"),
		Min: o.num("min"), Max: o.num("max"), Step: o.num("step"), Precision: o.num("precision"),
		Values: o.strs("values"), MValues: o.strs("mvalues"), Filter: o.str("filter"), Target: o.str("target"),
		Size: o.num("size"), If: o.strs("if"), IfNot: o.strs("ifnot"), CmdScript: o.boolean("cmdscript"),
	}
	if v, ok := o.get("value"); ok {
		p.Value = v
	}
	return p
}
