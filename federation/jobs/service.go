package jobs

import (
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/scope"
)

// checkService narrows a service account's submission to its scope
// (policy/scope: 403 naming the rule) and rate (429 with when to retry),
// counting the submissions stored in the last minute. Users pass.
func checkService(snap Snapshot, caller *authz.Identity, j *structs.Job, now time.Time) error {
	sa := caller.Service
	if sa == nil {
		return nil
	}
	sub := scope.Submission{App: j.App, Command: j.Command, MachineType: j.MachineType, Nodes: j.Nodes, Parameters: j.Parameters}
	if err := scope.Check(caller.Username, sa.Scope, sub); err != nil {
		return err
	}
	if sa.Scope.RatePerMinute <= 0 {
		return nil
	}
	recent, err := snap.SubmitTimesSince(caller.Username, now.Add(-scope.Window))
	if err != nil {
		return err
	}
	return scope.CheckRate(caller.Username, sa.Scope.RatePerMinute, recent, now)
}

// payloadRef matches one ${payload.<key>} reference in a trigger's
// parameter template.
var payloadRef = regexp.MustCompile(`\$\{payload\.([A-Za-z0-9_]+)\}`)

// MaxPayloadKeys bounds a trigger's payload.
const MaxPayloadKeys = 64

// TriggerRequest renders the submission trigger t makes of payload: every
// ${payload.<key>} in its parameter values replaced by the payload's
// value (a string, number or boolean; a missing key or another type is
// ErrInvalid naming it). The request is then admitted as any other, as
// the trigger's service account.
func TriggerRequest(t *structs.Trigger, payload map[string]any) (*structs.JobSubmitRequest, error) {
	if len(payload) > MaxPayloadKeys {
		return nil, structs.Errorf(structs.ErrInvalid, "trigger %q: payload has more than %d keys", t.Name, MaxPayloadKeys)
	}
	params := make(map[string]string, len(t.Parameters))
	for name, tmpl := range t.Parameters {
		var bad error
		params[name] = payloadRef.ReplaceAllStringFunc(tmpl, func(ref string) string {
			key := payloadRef.FindStringSubmatch(ref)[1]
			v, err := payloadValue(payload, key)
			if err != nil && bad == nil {
				bad = structs.Errorf(structs.ErrInvalid, "trigger %q: parameter %q: %v", t.Name, name, err)
			}
			return v
		})
		if bad != nil {
			return nil, bad
		}
	}
	if len(params) == 0 {
		params = nil
	}
	return &structs.JobSubmitRequest{App: t.App, Command: t.Command, MachineType: t.MachineType, Nodes: t.Nodes,
		Vault: t.Vault, Parameters: params, CallbackURL: t.CallbackURL, Label: "trigger " + t.Name}, nil
}

func payloadValue(payload map[string]any, key string) (string, error) {
	raw, ok := payload[key]
	if !ok {
		return "", structs.Errorf(structs.ErrInvalid, "payload has no %q", key)
	}
	switch v := raw.(type) {
	case string:
		if strings.ContainsAny(v, "\x00\n\r") {
			return "", structs.Errorf(structs.ErrInvalid, "payload %q: control character", key)
		}
		return v, nil
	case json.Number:
		return v.String(), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", structs.Errorf(structs.ErrInvalid, "payload %q: want a string, number or boolean", key)
}

// ValidateTrigger checks a trigger's template against its app: the
// command exists, every parameter it sets is one of the command's, and
// every value without a ${payload.x} reference passes the parameter's
// type check (those with one are checked when fired).
func ValidateTrigger(snap Snapshot, t *structs.Trigger) error {
	app, err := snap.AppRef(t.App)
	if err != nil {
		return structs.Errorf(structs.ErrInvalid, "trigger %q: app %q: %v", t.Name, t.App, err)
	}
	if _, err := snap.MachineTypeRef(t.MachineType); err != nil {
		return structs.Errorf(structs.ErrInvalid, "trigger %q: machine type %q: %v", t.Name, t.MachineType, err)
	}
	cmd, ok := app.AppDef.Commands[t.Command]
	if !ok {
		return structs.Errorf(structs.ErrInvalid, "trigger %q: app %q has no command %q", t.Name, t.App, t.Command)
	}
	fixed := map[string]string{}
	for name, v := range t.Parameters {
		if _, ok := cmd.Parameters[name]; !ok {
			return structs.Errorf(structs.ErrInvalid, "trigger %q: command %q has no parameter %q", t.Name, t.Command, name)
		}
		if !payloadRef.MatchString(v) {
			fixed[name] = v
		}
	}
	return checkParamValues(app, t.Command, fixed)
}

// checkParamValues checks the fixed values of a trigger's parameters
// against its command, leaving out what is about the parameters filled at
// fire time (their values, and their being required).
func checkParamValues(app *structs.App, command string, fixed map[string]string) error {
	cmd := app.AppDef.Commands[command]
	c, err := appdef.CommandOf(&cmd, command)
	if err != nil {
		return structs.Errorf(structs.ErrInvalid, "command %q: %v", command, err)
	}
	err = appdef.CheckValues(c, fixed)
	var ve *structs.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var kept []structs.PathError
	for _, pe := range ve.Errors {
		if key, ok := paramOfPath(pe.Path); ok {
			if _, isFixed := fixed[key]; !isFixed {
				continue
			}
		}
		kept = append(kept, pe)
	}
	if len(kept) == 0 {
		return nil
	}
	return &structs.ValidationError{What: ve.What, Errors: kept}
}

// paramOfPath returns the parameter key a "$.parameters.<key>" or
// `$.parameters["<key>"]` path names.
func paramOfPath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "$.parameters")
	switch {
	case !ok:
		return "", false
	case strings.HasPrefix(rest, "."):
		return rest[1:], true
	case strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]"):
		var k string
		if json.Unmarshal([]byte(rest[1:len(rest)-1]), &k) == nil {
			return k, true
		}
	}
	return "", false
}
