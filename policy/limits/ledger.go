package limits

import (
	"cmp"
	"path"
	"slices"
	"strconv"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Hold says why a job waits: the limit that holds it and a reason for humans.
type Hold struct {
	Limit string // the limit's name
	// MachineType is the machine type counted by a per-machine-type limit;
	// empty for total cores and GPUs.
	MachineType string
	// Reason reads like "tenant acme: 64 cores in use, limit 64 (job needs 8)".
	Reason string
	// Behind is the earlier held job this one queues behind, if that is why.
	Behind string
	// Exceeds is true when the job needs more than the limit allows at all:
	// it waits until the limit is raised, and holds up no other job.
	Exceeds bool
}

type blockKey struct {
	limit, machineType string
}

// Ledger decides jobs against limits one after another, in the order the
// caller presents them (queue order): each admitted job is added to the
// usage the next is checked against, and each held job blocks later jobs
// counted by the same limit. A Ledger is for one decision pass; it does
// not change the Usage it was made from.
type Ledger struct {
	byTenant map[string][]*structs.Limit // scope tenant, team, user; then name
	base     *Usage
	added    Usage
	blocked  map[blockKey]string // held job id
}

func scopeRank(s structs.LimitScope) int {
	switch s {
	case structs.ScopeTenant:
		return 0
	case structs.ScopeTeam:
		return 1
	}
	return 2
}

// NewLedger returns a ledger of limits ls over usage u (nil means none).
func NewLedger(ls []*structs.Limit, u *Usage) *Ledger {
	l := &Ledger{byTenant: make(map[string][]*structs.Limit), base: u, blocked: make(map[blockKey]string)}
	for _, lim := range ls {
		if lim != nil {
			l.byTenant[lim.Tenant] = append(l.byTenant[lim.Tenant], lim)
		}
	}
	for _, v := range l.byTenant {
		slices.SortFunc(v, func(a, b *structs.Limit) int {
			if c := cmp.Compare(scopeRank(a.Scope), scopeRank(b.Scope)); c != 0 {
				return c
			}
			return cmp.Compare(a.Name, b.Name)
		})
	}
	return l
}

// Evaluate decides one job on machine type mt against limits ls and usage
// u: nil admits it, a Hold says which limit holds it and why.
func Evaluate(j *structs.Job, mt *structs.MachineType, u *Usage, ls []*structs.Limit) *Hold {
	return NewLedger(ls, u).Check(j, mt)
}

// applies reports whether lim counts job j running on machine type mtName,
// and under which machine type ("" for totals).
func applies(lim *structs.Limit, j *structs.Job, mtName string) (string, bool) {
	switch lim.Scope {
	case structs.ScopeTenant:
	case structs.ScopeTeam:
		if j.Team == "" || lim.Team != j.Team {
			return "", false
		}
	case structs.ScopeUser:
		if lim.User != j.Owner {
			return "", false
		}
	default:
		return "", false
	}
	if !lim.Kind.PerMachineType() {
		return "", true
	}
	if ok, err := path.Match(lim.MachineType, mtName); err != nil || !ok {
		return "", false
	}
	return mtName, true
}

// Check decides job j on machine type mt (nil when unknown: the job then
// counts nodes and jobs but no cores or GPUs) without recording anything.
// Limits are tried tenant first, then team, then user, each by name; the
// first that holds the job is returned.
func (l *Ledger) Check(j *structs.Job, mt *structs.MachineType) *Hold {
	lims := l.byTenant[j.Tenant]
	if len(lims) == 0 {
		return nil
	}
	mtName := j.EffectiveMachineType()
	if mt != nil {
		mtName = mt.Name
	}
	need := Demand(j, mt)
	for _, lim := range lims {
		keyMT, ok := applies(lim, j, mtName)
		if !ok {
			continue
		}
		subj := SubjectOf(lim)
		n := need.of(lim.Kind)
		if n > lim.Value {
			return &Hold{Limit: lim.Name, MachineType: keyMT, Exceeds: true,
				Reason: subj.String() + ": " + exceedsText(lim.Kind, keyMT, n, lim.Value)}
		}
		if by, ok := l.blocked[blockKey{lim.Name, keyMT}]; ok && by != j.ID {
			return &Hold{Limit: lim.Name, MachineType: keyMT, Behind: by,
				Reason: subj.String() + ": waiting behind earlier job " + by + ", held by limit " + lim.Name}
		}
		used := l.base.Get(subj, keyMT).plus(l.added.Get(subj, keyMT)).of(lim.Kind)
		if used+n > lim.Value {
			return &Hold{Limit: lim.Name, MachineType: keyMT,
				Reason: subj.String() + ": " + usedText(lim.Kind, keyMT, used, n, lim.Value)}
		}
	}
	return nil
}

// Admit adds job j on machine type mt to the ledger's usage.
func (l *Ledger) Admit(j *structs.Job, mt *structs.MachineType) { l.added.Add(j, mt) }

// Block records that job j is held by h, so later jobs counted by the same
// limit and machine type wait behind it. A hold that Exceeds, or that is
// itself behind another job, blocks nothing new.
func (l *Ledger) Block(j *structs.Job, h *Hold) {
	if h == nil || h.Exceeds || h.Behind != "" {
		return
	}
	k := blockKey{h.Limit, h.MachineType}
	if _, ok := l.blocked[k]; !ok {
		l.blocked[k] = j.ID
	}
}

func unit(kind structs.LimitKind, mt string) string {
	switch kind {
	case structs.LimitConcurrentJobs:
		return mt + " jobs"
	case structs.LimitMaxNodes:
		return mt + " nodes"
	case structs.LimitTotalGPUs:
		return "GPUs"
	}
	return "cores"
}

func usedText(kind structs.LimitKind, mt string, used, need, limit int64) string {
	verb := " in use"
	if kind == structs.LimitConcurrentJobs {
		verb = " running"
	}
	s := strconv.FormatInt(used, 10) + " " + unit(kind, mt) + verb + ", limit " + strconv.FormatInt(limit, 10)
	if kind != structs.LimitConcurrentJobs {
		s += " (job needs " + strconv.FormatInt(need, 10) + ")"
	}
	return s
}

func exceedsText(kind structs.LimitKind, mt string, need, limit int64) string {
	if kind == structs.LimitConcurrentJobs {
		return "no " + mt + " jobs allowed (limit 0)"
	}
	return "job needs " + strconv.FormatInt(need, 10) + " " + unit(kind, mt) + ", limit " + strconv.FormatInt(limit, 10)
}
