package structs

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// An AppDef is stored as registered: decoding keeps the document (Raw) and
// reads the fields Flotilla acts on leniently — a field of the wrong type
// is left zero here, because catalog-sync/appdef validates the document and
// reports every such error with its path before anything is stored.

// UnmarshalJSON keeps the document and reads the modelled fields from it.
func (d *AppDef) UnmarshalJSON(b []byte) error {
	m, raw, err := looseObject(b)
	if err != nil || m == nil {
		*d = AppDef{}
		return err
	}
	var n AppDef
	loose(m, "name", &n.Name)
	loose(m, "description", &n.Description)
	loose(m, "author", &n.Author)
	looseBool(m, "licensed", &n.Licensed)
	n.Classifications = looseStrings(m, "classifications")
	n.Machines = looseStrings(m, "machines")
	for _, v := range looseStrings(m, "vault-types") {
		n.VaultTypes = append(n.VaultTypes, VaultKind(v))
	}
	n.ScaleMax = int(looseNumber(m, "scale_max"))
	n.AppDefVersion = int(looseNumber(m, "appdefversion"))
	loose(m, "walltime", &n.Walltime)
	var icon map[string]json.RawMessage
	loose(m, "image", &icon)
	if icon != nil {
		ic := &AppIcon{}
		loose(icon, "type", &ic.Type)
		loose(icon, "data", &ic.Data)
		if ic.Data != "" {
			n.Icon = ic
		}
	}
	var cmds map[string]json.RawMessage
	loose(m, "commands", &cmds)
	if len(cmds) > 0 {
		n.Commands = make(map[string]Command, len(cmds))
		for k, v := range cmds {
			var c Command
			if c.UnmarshalJSON(v) == nil && c.Raw != nil {
				n.Commands[k] = c
			}
		}
	}
	n.Raw = raw
	*d = n
	return nil
}

// MarshalJSON writes the document as registered, or the modelled fields
// of an AppDef built in code.
func (d AppDef) MarshalJSON() ([]byte, error) {
	if len(d.Raw) > 0 {
		return d.Raw, nil
	}
	type plain AppDef
	return json.Marshal(plain(d))
}

// UnmarshalJSON keeps the command as written and reads its modelled
// fields, recording the order of its parameters, which a map loses.
func (c *Command) UnmarshalJSON(b []byte) error {
	m, raw, err := looseObject(b)
	if err != nil || m == nil {
		*c = Command{}
		return err
	}
	var n Command
	loose(m, "path", &n.Path)
	loose(m, "name", &n.Name)
	loose(m, "description", &n.Description)
	looseBool(m, "interactive", &n.Interactive)
	looseBool(m, "publicip", &n.PublicIP)
	n.Ports = looseStrings(m, "ports")
	loose(m, "url", &n.URL)
	n.Machines = looseStrings(m, "machines")
	looseBool(m, "webshell", &n.Webshell)
	looseBool(m, "desktop", &n.Desktop)
	n.ScaleMax = int(looseNumber(m, "scale_max"))
	if ps, ok := m["parameters"]; ok {
		dec := json.NewDecoder(bytes.NewReader(ps))
		if tok, err := dec.Token(); err == nil && tok == json.Delim('{') {
			n.Parameters = map[string]Parameter{}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					break
				}
				var v json.RawMessage
				if err := dec.Decode(&v); err != nil {
					break
				}
				k, _ := tok.(string)
				if _, dup := n.Parameters[k]; !dup {
					n.ParameterOrder = append(n.ParameterOrder, k)
				}
				n.Parameters[k] = looseParameter(v)
			}
		}
	}
	n.Raw = raw
	*c = n
	return nil
}

// MarshalJSON writes the command as registered, or the modelled fields of
// a command built in code.
func (c Command) MarshalJSON() ([]byte, error) {
	if len(c.Raw) > 0 {
		return c.Raw, nil
	}
	type plain Command
	return json.Marshal(plain(c))
}

func looseParameter(b json.RawMessage) Parameter {
	var p Parameter
	m, _, err := looseObject(b)
	if err != nil || m == nil {
		return p
	}
	loose(m, "name", &p.Name)
	loose(m, "description", &p.Description)
	var t string
	loose(m, "type", &t)
	p.Type = ParamType(t)
	looseBool(m, "required", &p.Required)
	looseBool(m, "positional", &p.Positional)
	looseBool(m, "variable", &p.Variable)
	if v, ok := m["value"]; ok && string(v) != "null" {
		p.Value = v
	}
	p.Min, p.Max, p.Step = looseNumber(m, "min"), looseNumber(m, "max"), looseNumber(m, "step")
	p.Values = looseStrings(m, "values")
	loose(m, "filter", &p.Filter)
	return p
}

// looseObject splits a JSON object into its members and a compact copy of
// the document; null gives a nil map and no error, other JSON no members.
func looseObject(b []byte) (map[string]json.RawMessage, json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		// Valid JSON of another kind: kept, for the validator to refuse
		// with its path.
		return map[string]json.RawMessage{}, buf.Bytes(), nil
	}
	if m == nil {
		return nil, nil, nil
	}
	return m, buf.Bytes(), nil
}

// loose decodes member k into dst, leaving dst alone on a type mismatch.
func loose[T any](m map[string]json.RawMessage, k string, dst *T) {
	if v, ok := m[k]; ok {
		var t T
		if json.Unmarshal(v, &t) == nil {
			*dst = t
		}
	}
}

// looseBool reads a boolean, or "true"/"false" written as a string.
func looseBool(m map[string]json.RawMessage, k string, dst *bool) {
	var s string
	if v, ok := m[k]; ok && json.Unmarshal(v, &s) == nil {
		switch t := strings.TrimSpace(s); {
		case strings.EqualFold(t, "true"):
			*dst = true
		case strings.EqualFold(t, "false"):
			*dst = false
		}
		return
	}
	loose(m, k, dst)
}

// looseNumber reads a number written as a number or a string; 0 if neither.
func looseNumber(m map[string]json.RawMessage, k string) float64 {
	v, ok := m[k]
	if !ok {
		return 0
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		s = string(v)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0
	}
	return f
}

// looseStrings reads a list of strings (numbers kept as their text) or a
// single string.
func looseStrings(m map[string]json.RawMessage, k string) []string {
	v, ok := m[k]
	if !ok {
		return nil
	}
	var one string
	if json.Unmarshal(v, &one) == nil {
		return []string{one}
	}
	var list []json.RawMessage
	if json.Unmarshal(v, &list) != nil {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		var s string
		if json.Unmarshal(e, &s) != nil {
			s = strings.TrimSpace(string(e))
		}
		out = append(out, s)
	}
	return out
}
