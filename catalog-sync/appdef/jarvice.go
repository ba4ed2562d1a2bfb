package appdef

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// JarviceShape returns a stored AppDef as the JARVICE API serves it: the
// document as registered (order, unknown fields, false and 0 kept), with
// only the values whose JSON type differs from the one JARVICE clients
// (python-jarviceapi's models) expect converted: scale_max,
// appdefversion and identity uid/gid to integers, a parameter's size and
// step to strings, values and mvalues entries to strings. A document that
// is not an object is returned as it is.
func JarviceShape(doc []byte) json.RawMessage {
	return rewrite(doc, func(k string, v json.RawMessage) json.RawMessage {
		switch k {
		case "licensed", "enablehpc", "certified", "public", "team":
			return asBool(v)
		case "scale_max", "appdefversion":
			return asInt(v)
		case "identity":
			return rewrite(v, func(k string, v json.RawMessage) json.RawMessage {
				if k == "uid" || k == "gid" {
					return asInt(v)
				}
				return v
			})
		case "commands":
			return rewrite(v, func(_ string, cmd json.RawMessage) json.RawMessage {
				return rewrite(cmd, func(k string, v json.RawMessage) json.RawMessage {
					switch k {
					case "interactive", "publicip", "noconnect", "webshell", "desktop", "verboseinit", "mpirun", "noqueue":
						return asBool(v)
					case "scale_max":
						return asInt(v)
					case "parameters":
						return rewrite(v, func(_ string, p json.RawMessage) json.RawMessage { return rewrite(p, parameterShape) })
					}
					return v
				})
			})
		}
		return v
	})
}

func parameterShape(k string, v json.RawMessage) json.RawMessage {
	switch k {
	case "required", "positional", "variable", "cmdscript":
		return asBool(v)
	case "size", "step":
		return asString(v)
	case "values", "mvalues":
		var list []json.RawMessage
		if json.Unmarshal(v, &list) != nil {
			return v
		}
		out := make([]json.RawMessage, len(list))
		for i, e := range list {
			out[i] = asString(e)
		}
		b, _ := json.Marshal(out)
		return b
	}
	return v
}

// asInt turns a numeric string holding a whole number into that number.
func asInt(v json.RawMessage) json.RawMessage {
	var s string
	if json.Unmarshal(v, &s) != nil {
		return v
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return json.RawMessage(strconv.FormatInt(n, 10))
	}
	return v
}

// asBool turns "true" or "false" in a string into that boolean.
func asBool(v json.RawMessage) json.RawMessage {
	if b, ok := boolOf(v); ok {
		return json.RawMessage(strconv.FormatBool(b))
	}
	return v
}

// asString turns a number or boolean into its text as a JSON string.
func asString(v json.RawMessage) json.RawMessage {
	t := bytes.TrimSpace(v)
	if len(t) == 0 || t[0] == '"' || t[0] == '{' || t[0] == '[' || string(t) == "null" {
		return v
	}
	b, _ := json.Marshal(string(t))
	return b
}

// rewrite maps the members of a JSON object through fn, keeping their
// order; anything but an object is returned unchanged.
func rewrite(doc json.RawMessage, fn func(k string, v json.RawMessage) json.RawMessage) json.RawMessage {
	ms, ok := members(doc)
	if !ok {
		return doc
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		var c bytes.Buffer
		if json.Compact(&c, fn(m.key, m.val)) != nil {
			c.Reset()
			c.Write(m.val)
		}
		b.Write(c.Bytes())
	}
	b.WriteByte('}')
	return b.Bytes()
}
