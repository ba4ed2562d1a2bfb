package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// An array job's CPU binding comes from --task-cpu-bind (Flotilla's
// none|slots, as the API takes it) or from sbatch's --cpu-bind (Slurm's
// value, mapped here: see docs/cli.md "Job scripts"), whichever the
// directives and the command line give last.

// taskCPUBind is the binding as the flags gave it.
type taskCPUBind struct {
	value string
	slurm bool   // given as --cpu-bind
	where string // the directive that gave it ("" the command line)
	// at is the directive being parsed, which runSbatch sets before it
	// parses each one.
	at string
}

// bindFlag is the flag.Value of --task-cpu-bind (slurm false) and of
// --cpu-bind (slurm true): both set the one binding.
type bindFlag struct {
	b     *taskCPUBind
	slurm bool
}

func (f bindFlag) String() string {
	if f.b == nil {
		return ""
	}
	return f.b.value
}

func (f bindFlag) Set(s string) error {
	if f.slurm {
		if _, err := parseSlurmCPUBind(s); err != nil {
			return err
		}
	}
	f.b.value, f.b.slurm, f.b.where = s, f.slurm, f.b.at
	return nil
}

// resolve is the request's TaskCPUBind for a job that is an array job or
// not, and the warnings to print: --task-cpu-bind's value as it is (the
// request's Validate checks it), a Slurm value mapped by slurmBinding.
func (b *taskCPUBind) resolve(array bool) (string, []string, error) {
	if !b.slurm {
		return b.value, nil, nil
	}
	sb, err := parseSlurmCPUBind(b.value)
	if err != nil { // checked when set; kept for a value set otherwise
		return "", nil, err
	}
	name := "--cpu-bind=" + b.value
	if b.where != "" {
		name = b.where
	}
	bind, warnings, err := sb.binding(array)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", name, err)
	}
	for i, w := range warnings {
		warnings[i] = name + ": " + w
	}
	return bind, warnings, nil
}

// slurmCPUBind is a value of Slurm's --cpu-bind read: the binding type
// (none, rank, map_cpu, mask_cpu, rank_ldom, map_ldom, mask_ldom; ""
// when none is given), the unit bound to (sockets, cores, threads,
// ldoms; ""), and the modifiers given that change nothing here
// (verbose, one_thread). As in Slurm a later word of the same kind
// overrides an earlier one; quiet is the default.
type slurmCPUBind struct {
	kind, unit string
	ignored    []string
}

// slurmBindWords are the words of --cpu-bind without a list, by kind:
// "" a modifier, "unit" a unit, else a binding type.
var slurmBindWords = map[string]struct{ kind, name string }{
	"q": {"", "quiet"}, "quiet": {"", "quiet"}, "v": {"", "verbose"}, "verbose": {"", "verbose"},
	"one_thread": {"", "one_thread"},
	"no":         {"type", "none"}, "none": {"type", "none"}, "rank": {"type", "rank"}, "rank_ldom": {"type", "rank_ldom"},
	"socket": {"unit", "sockets"}, "sockets": {"unit", "sockets"}, "core": {"unit", "cores"}, "cores": {"unit", "cores"},
	"thread": {"unit", "threads"}, "threads": {"unit", "threads"}, "ldom": {"unit", "ldoms"}, "ldoms": {"unit", "ldoms"},
}

// slurmBindLists are the binding types that take a list of CPUs or
// masks (also written without the underscore), after ":" or "=".
var slurmBindLists = map[string]string{
	"map_cpu": "map_cpu", "mapcpu": "map_cpu", "mask_cpu": "mask_cpu", "maskcpu": "mask_cpu",
	"map_ldom": "map_ldom", "mapldom": "map_ldom", "mask_ldom": "mask_ldom", "maskldom": "mask_ldom",
}

// cpuBindWhat says what --cpu-bind takes here, for its refusals.
const cpuBindWhat = "want [quiet|verbose,]none|cores|threads|rank (array jobs: none, or cores, threads and rank as " +
	"--task-cpu-bind slots), or Slurm's sockets, ldoms, rank_ldom, map_cpu:, mask_cpu:, map_ldom:, mask_ldom: (see docs/cli.md)"

// parseSlurmCPUBind reads a value of Slurm's --cpu-bind: words separated
// by commas, where the commas between the items of a map_* or mask_*
// list belong to the list.
func parseSlurmCPUBind(v string) (slurmCPUBind, error) {
	var b slurmCPUBind
	inList := false
	for _, w := range strings.Split(v, ",") {
		lw := strings.ToLower(w)
		if inList && isBindListItem(lw) {
			continue
		}
		inList = false
		if lw == "help" {
			return b, errors.New("help: " + cpuBindWhat)
		}
		if word, ok := slurmBindWords[lw]; ok {
			switch word.kind {
			case "type":
				b.kind = word.name
			case "unit":
				b.unit = word.name
			default:
				if word.name != "quiet" {
					b.ignored = append(b.ignored, word.name)
				}
			}
			continue
		}
		head, list, hasList := strings.Cut(lw, ":")
		if !hasList {
			head, list, hasList = strings.Cut(lw, "=")
		}
		kind, ok := slurmBindLists[head]
		if !ok {
			return b, fmt.Errorf("%q is not a --cpu-bind word: %s", w, cpuBindWhat)
		}
		if !hasList || !isBindListItem(list) {
			return b, fmt.Errorf("%s needs a list of CPU numbers or masks (%s:0,2 or %s:0x3,0xc)", kind, kind, kind)
		}
		b.kind, inList = kind, true
	}
	return b, nil
}

// isBindListItem reports whether w is an item of a map_* or mask_* list:
// a decimal or hexadecimal number, optionally repeated ("0x3*2").
func isBindListItem(w string) bool {
	w, n, repeated := strings.Cut(w, "*")
	if repeated && !isDigits(n) {
		return false
	}
	w = strings.TrimPrefix(w, "0x")
	return w != "" && strings.Trim(w, "0123456789abcdef") == ""
}

func isDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

// binding maps a Slurm binding to the request's TaskCPUBind ("": the
// default, none) with the warnings to print.
//
// Flotilla binds only an array job's tasks, each slot of a node to CPUs
// of its own: Slurm's cores, threads and rank are that (slots), none is
// none. sockets, ldoms and rank_ldom it does not offer; they ask how
// tightly to bind, and the tasks run unbound, with a warning. map_* and
// mask_* name CPUs by number, which a pod's CPUs are not: refused. A job
// that is not an array has no binding to set (there is no srun step to
// bind): every binding but none is ignored, with a warning.
func (b slurmCPUBind) binding(array bool) (string, []string, error) {
	if !array {
		if (b.kind == "none" || (b.kind == "" && b.unit == "")) && len(b.ignored) == 0 {
			return "", nil, nil
		}
		return "", []string{"ignored: Flotilla binds only an array job's tasks (--array); this job's processes may use every CPU " +
			"of its pods (an mpirun in the script binds its ranks itself, e.g. Open MPI's --bind-to core)"}, nil
	}
	var bind string
	var warnings []string
	switch {
	case strings.HasPrefix(b.kind, "map_") || strings.HasPrefix(b.kind, "mask_"):
		return "", nil, fmt.Errorf("%s is not offered: an array job's tasks are bound by slot, not to CPUs named by number "+
			"(a pod's CPUs are not the node's); use --cpu-bind=cores (--task-cpu-bind slots) or none", b.kind)
	case b.kind == "none":
		bind = structs.TaskCPUBindNone
	case b.kind == "rank" || (b.kind == "" && (b.unit == "cores" || b.unit == "threads")):
		bind = structs.TaskCPUBindSlots
	case b.kind == "rank_ldom" || b.unit != "":
		what := b.kind
		if what == "" {
			what = b.unit
		}
		warnings = append(warnings, what+" is not offered (an array's tasks are bound by slot: cores, threads or rank; "+
			"or none): the tasks run unbound")
	}
	if len(b.ignored) > 0 && bind != structs.TaskCPUBindNone {
		warnings = append(warnings, strings.Join(b.ignored, ", ")+" ignored (a task sees its CPUs in $FLOTILLA_TASK_CPUS)")
	}
	return bind, warnings, nil
}
