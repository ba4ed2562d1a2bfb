// Package scope decides what a service account may submit: its apps and
// commands, machine types, node count, parameter bounds and rate of
// submissions. Each refusal names the rule that refused (a
// *structs.ScopeError, ErrForbidden; a *structs.RateError, ErrRateLimited,
// saying when to come back). The package is pure: no I/O, no clock.
package scope

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Submission is what the scope checks of a job.
type Submission struct {
	App         string
	Command     string
	MachineType string
	Nodes       int
	Parameters  map[string]string
}

// Check returns nil when sc allows sub, else a *structs.ScopeError naming
// the first rule broken, in this order: apps, commands, machine_types,
// max_nodes, params.<name> (parameters by name).
func Check(account string, sc structs.Scope, sub Submission) error {
	deny := func(rule, msg string) error { return &structs.ScopeError{Account: account, Rule: rule, Msg: msg} }
	i := slices.IndexFunc(sc.Apps, func(g structs.AppGrant) bool { return g.App == sub.App })
	if i < 0 {
		return deny("apps", "app "+strconv.Quote(sub.App)+" is not allowed")
	}
	if cmds := sc.Apps[i].Commands; len(cmds) > 0 && !slices.Contains(cmds, sub.Command) {
		return deny("commands", "command "+strconv.Quote(sub.Command)+" of app "+strconv.Quote(sub.App)+" is not allowed")
	}
	if !slices.Contains(sc.MachineTypes, sub.MachineType) {
		return deny("machine_types", "machine type "+strconv.Quote(sub.MachineType)+" is not allowed")
	}
	if maxNodes := max(sc.MaxNodes, 1); sub.Nodes > maxNodes {
		return deny("max_nodes", strconv.Itoa(sub.Nodes)+" nodes, at most "+strconv.Itoa(maxNodes))
	}
	names := make([]string, 0, len(sc.Params))
	for n := range sc.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v, ok := sub.Parameters[n]
		if !ok {
			continue
		}
		if msg := checkParam(sc.Params[n], v); msg != "" {
			return deny("params."+n, "value "+strconv.Quote(v)+": "+msg)
		}
	}
	return nil
}

// checkParam returns why v breaks b, "" when it does not.
func checkParam(b structs.ParamBound, v string) string {
	if len(b.Values) > 0 && !slices.Contains(b.Values, v) {
		return "not one of " + strings.Join(b.Values, ", ")
	}
	if b.Prefix != "" && !strings.HasPrefix(v, b.Prefix) {
		return "does not start with " + strconv.Quote(b.Prefix)
	}
	if b.Prefix != "" && slices.Contains(strings.Split(v, "/"), "..") {
		return "contains \"..\""
	}
	if b.MaxLength > 0 && len(v) > b.MaxLength {
		return "longer than " + strconv.Itoa(b.MaxLength)
	}
	if b.Min != nil || b.Max != nil {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return "not a number"
		}
		if b.Min != nil && f < *b.Min {
			return "below " + strconv.FormatFloat(*b.Min, 'g', -1, 64)
		}
		if b.Max != nil && f > *b.Max {
			return "above " + strconv.FormatFloat(*b.Max, 'g', -1, 64)
		}
	}
	return ""
}

// Window is the span RatePerMinute counts submissions over.
const Window = time.Minute

// CheckRate returns nil when one more submission at now stays within
// rate submissions per Window, given the times of the account's recent
// submissions (any order; older ones are ignored), else a
// *structs.RateError whose RetryAfter is when the oldest submission in the
// window leaves it. rate 0 means no bound.
func CheckRate(account string, rate int, recent []time.Time, now time.Time) error {
	if rate <= 0 {
		return nil
	}
	var in []time.Time
	for _, t := range recent {
		if now.Sub(t) < Window {
			in = append(in, t)
		}
	}
	if len(in) < rate {
		return nil
	}
	slices.SortFunc(in, func(a, b time.Time) int { return a.Compare(b) })
	// The submission that must leave the window for one more to fit.
	oldest := in[len(in)-rate]
	return &structs.RateError{Account: account, Rate: rate, After: max(oldest.Add(Window).Sub(now), time.Second)}
}
