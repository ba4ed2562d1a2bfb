package appdefsweep

import (
	"encoding/json"
	"fmt"
	"strings"
)

// models are the field types python-jarviceapi's models
// (jarviceapi_client/models) give the parts of /jarvice/apps and
// /jarvice/appdef; the client refuses a reply whose field has another
// type. "int" is a JSON number without a fraction, "num" any number,
// "[str]" a list of strings, "map:M" an object of models M.
var models = map[string]map[string]string{
	"App": {"price": "num", "data": "AppDef", "owner": "num", "arch": "str", "id": "str", "privs": "[str]", "src": "str",
		"updated": "int", "checkedout": "bool", "certified": "bool", "walltime": "str", "repo": "str"},
	"AppDef": {"appdefversion": "int", "author": "str", "certified": "bool", "classifications": "[str]",
		"commands": "map:Cmd", "description": "str", "enablehpc": "bool", "id": "str", "identity": "Identity",
		"image": "Image", "licensed": "bool", "machines": "[str]", "nae": "str", "name": "str", "owner": "str",
		"price": "str", "public": "bool", "scale_max": "int", "team": "bool", "variables": "map:Variable",
		"vault-types": "[str]", "walltime": "str"},
	"Cmd": {"cmdscript": "str", "description": "str", "desktop": "bool", "interactive": "bool", "machines": "[str]",
		"mpirun": "bool", "name": "str", "noconnect": "bool", "noqueue": "bool", "parameters": "map:Param", "path": "str",
		"ports": "[str]", "publicip": "bool", "scale_max": "int", "url": "str", "variables": "map:Variable",
		"verboseinit": "bool", "walltime": "str", "webshell": "bool"},
	"Param": {"cmdscript": "bool", "description": "str", "filter": "str", "if": "[str]", "ifnot": "[str]",
		"mvalues": "[str]", "name": "str", "positional": "bool", "required": "bool", "size": "str",
		"step": "str", "target": "str", "type": "str", "values": "[str]", "variable": "bool"},
	"Variable": {"description": "str", "inherit": "bool", "name": "str", "required": "bool", "userowned": "bool"},
	"Identity": {"gid": "int", "group": "str", "uid": "int", "username": "str"},
	"Image":    {"data": "str", "type": "str"},
}

// checkModel lists every field of v (decoded with json.Number) whose
// type the model typ does not take; null is always taken.
func checkModel(where string, v any, typ string) []string {
	if v == nil {
		return nil
	}
	bad := []string{fmt.Sprintf("%s: %T %.60v is not %s", where, v, v, typ)}
	switch {
	case typ == "str":
		if _, ok := v.(string); !ok {
			return bad
		}
	case typ == "bool":
		if _, ok := v.(bool); !ok {
			return bad
		}
	case typ == "int", typ == "num":
		n, ok := v.(json.Number)
		if !ok || (typ == "int" && strings.ContainsAny(n.String(), ".eE")) {
			return bad
		}
	case typ == "[str]":
		list, ok := v.([]any)
		if !ok {
			return bad
		}
		var out []string
		for i, e := range list {
			out = append(out, checkModel(fmt.Sprintf("%s[%d]", where, i), e, "str")...)
		}
		return out
	case strings.HasPrefix(typ, "map:"):
		m, ok := v.(map[string]any)
		if !ok {
			return bad
		}
		var out []string
		for k, e := range m {
			out = append(out, checkModel(where+"."+k, e, typ[4:])...)
		}
		return out
	default:
		m, ok := v.(map[string]any)
		if !ok {
			return bad
		}
		var out []string
		for k, e := range m {
			if ft, ok := models[typ][k]; ok {
				out = append(out, checkModel(where+"."+k, e, ft)...)
			}
		}
		return out
	}
	return nil
}
