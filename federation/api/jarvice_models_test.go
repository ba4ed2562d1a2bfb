package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
)

// jarviceModels are the field types of python-jarviceapi's response models
// (jarviceapi_client/models), which that client enforces strictly: "str",
// "int" (a JSON number without fraction, not a boolean), "num" (any
// number), "bool", "[str]", "any", "{str}" (an object of strings), or
// another model's name; "map:M" is an object whose values are models M.
// Every field is optional and may be null.
var jarviceModels = map[string]map[string]string{
	"SchedJobStatusEntry": {"job_application": "str", "job_command": "str", "job_end_time": "int", "job_name": "str",
		"job_project": "str", "job_start_time": "int", "job_status": "str", "job_submit_time": "int",
		"job_substatus": "int", "job_walltime": "str"},
	"JobEntry": {"job_address": "str", "job_after": "str", "job_app_discount": "int", "job_app_price": "num",
		"job_application": "str", "job_billed": "bool", "job_billing_code": "int", "job_command": "str",
		"job_dashboard_visible": "int", "job_end_time": "int", "job_exitcode": "int", "job_label": "str",
		"job_mc_discount": "int", "job_mc_name": "str", "job_mc_scale": "int", "job_name": "str", "job_nodes": "str",
		"job_number": "int", "job_owner_username": "str", "job_payer": "str", "job_price": "num", "job_sched_id": "int",
		"job_sched_job_id": "str", "job_start_time": "int", "job_status": "str", "job_submit_time": "int",
		"job_substatus": "int", "job_substatus_text": "str", "job_walltime": "str"},
	"App": {"price": "num", "data": "AppDef", "owner": "num", "arch": "str", "id": "str", "privs": "[str]", "src": "str",
		"updated": "int", "checkedout": "bool", "certified": "bool", "walltime": "str", "repo": "str"},
	"AppDef": {"appdefversion": "int", "author": "str", "certified": "bool", "classifications": "[str]",
		"commands": "map:AppDefCmd", "description": "str", "enablehpc": "bool", "id": "str", "identity": "AppDefIdent",
		"image": "AppDefImage", "licensed": "bool", "machines": "[str]", "nae": "str", "name": "str", "owner": "str",
		"price": "str", "public": "bool", "scale_max": "int", "team": "bool", "variables": "map:Variable",
		"vault-types": "[str]", "walltime": "str"},
	"AppDefCmd": {"cmdscript": "str", "description": "str", "desktop": "bool", "interactive": "bool", "machines": "[str]",
		"mpirun": "bool", "name": "str", "noconnect": "bool", "noqueue": "bool", "parameters": "map:ParDef", "path": "str",
		"ports": "[str]", "publicip": "bool", "scale_max": "int", "url": "str", "variables": "map:Variable",
		"verboseinit": "bool", "walltime": "str", "webshell": "bool"},
	"ParDef": {"cmdscript": "bool", "description": "str", "filter": "str", "if": "[str]", "ifnot": "[str]", "max": "any",
		"min": "any", "mvalues": "[str]", "name": "str", "positional": "bool", "required": "bool", "size": "str",
		"step": "str", "target": "str", "type": "str", "value": "any", "values": "[str]", "variable": "bool"},
	"Variable":    {"description": "str", "inherit": "bool", "name": "str", "required": "bool", "userowned": "bool"},
	"AppDefIdent": {"gid": "int", "group": "str", "uid": "int", "username": "str"},
	"AppDefImage": {"data": "str", "type": "str"},
	"MachineDef": {"mc_arch": "str", "mc_cores": "int", "mc_description": "str", "mc_devices": "str", "mc_gpus": "int",
		"mc_lesser": "int", "mc_max_concurrent": "int", "mc_name": "str", "mc_price": "num", "mc_priority": "int",
		"mc_privs": "[str]", "mc_properties": "str", "mc_ram": "int", "mc_scale_max": "int", "mc_scale_min": "int",
		"mc_scale_select": "str", "mc_sched_id": "int", "mc_scratch": "int", "mc_slave_cores": "int", "mc_slave_gpus": "int",
		"mc_slave_properties": "str", "mc_slave_ram": "int", "mc_slots": "int", "mc_swap": "int"},
	"RuntimeInfo":    {"about": "str", "actions": "map:{str}", "address": "str", "help": "str", "password": "str", "url": "str"},
	"RuntimeConnect": {"address": "str", "password": "str"},
	"Queue":          {"app": "str", "machine": "str", "name": "str", "size": "int"},
	"TeamUser":       {"email": "str", "name": "str"},
}

// checkModel reports every field of v (a decoded JSON value, numbers as
// json.Number) whose type the model does not accept.
func checkModel(path string, v any, typ string) []string {
	if v == nil {
		return nil // every field is Optional
	}
	bad := func() []string { return []string{fmt.Sprintf("%s: %T %v is not %s", path, v, v, typ)} }
	switch {
	case typ == "any":
		return nil
	case typ == "str":
		if _, ok := v.(string); !ok {
			return bad()
		}
	case typ == "bool":
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case typ == "int":
		n, ok := v.(json.Number)
		if !ok || strings.ContainsAny(n.String(), ".eE") {
			return bad()
		}
	case typ == "num":
		if _, ok := v.(json.Number); !ok {
			return bad()
		}
	case typ == "[str]":
		list, ok := v.([]any)
		if !ok {
			return bad()
		}
		var out []string
		for i, e := range list {
			out = append(out, checkModel(fmt.Sprintf("%s[%d]", path, i), e, "str")...)
		}
		return out
	case typ == "{str}":
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		var out []string
		for k, e := range m {
			out = append(out, checkModel(path+"."+k, e, "str")...)
		}
		return out
	case strings.HasPrefix(typ, "map:"):
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		var out []string
		for k, e := range m {
			out = append(out, checkModel(path+"."+k, e, typ[4:])...)
		}
		return out
	default:
		fields, known := jarviceModels[typ]
		m, ok := v.(map[string]any)
		if !known || !ok {
			return bad()
		}
		var out []string
		for k, e := range m {
			if ft, ok := fields[k]; ok {
				out = append(out, checkModel(path+"."+k, e, ft)...)
			}
		}
		return out
	}
	return nil
}
