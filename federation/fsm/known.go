package fsm

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// gated are the command types added after replicas began listing the
// types their binary applies (structs.Replica.Commands). A leader writes
// one only when every replica in the directory lists it: a replica on an
// older binary could not decode it and would skip it, and its state would
// part from the others' (a rolling upgrade runs old and new binaries side
// by side). Every command type added from now on is listed here.
var gated = map[CommandType]bool{ // TestNewCommandsAreGated keeps this list complete
	jobAuditedType: true, // JobAudited
	95:             true, // JobCancelTasks
	96:             true, // JobOutputRequest
	100:            true, // JobSubmitExt
	101:            true, // ClusterAgent
	102:            true, // JobSubmitArrayList
	103:            true, // JobSignal
	105:            true, // JobStateUpdateBin
	106:            true, // JobShares
	107:            true, // WebhookKeyRotate
}

// Gated reports whether t may only be written once every replica lists it.
func Gated(t CommandType) bool { return gated[t] }

// KnownCommands is this binary's structs.Replica.Commands: the registry's
// types as ascending ranges, e.g. "1-33,41-42,60-71,80,95".
func KnownCommands() string {
	types := Types()
	slices.Sort(types)
	var b strings.Builder
	for i := 0; i < len(types); {
		j := i
		for j+1 < len(types) && types[j+1] == types[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if i == j {
			fmt.Fprintf(&b, "%d", types[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", types[i], types[j])
		}
		i = j + 1
	}
	return b.String()
}

// ReplicaApplies reports whether a replica that lists list (its
// structs.Replica.Commands) applies commands of type t. A type that is not
// gated is applied by every replica; an empty or unreadable list is an
// older binary's, which applies none of the gated types.
func ReplicaApplies(list string, t CommandType) bool {
	return !gated[t] || inRanges(list, t)
}

// EveryReplicaApplies reports whether every replica of a directory
// applies commands of type t (see ReplicaApplies); an empty directory (a
// hub starting) counts as this binary's, which applies every type.
func EveryReplicaApplies(reps []*structs.Replica, t CommandType) bool {
	for _, rep := range reps {
		if !ReplicaApplies(rep.Commands, t) {
			return false
		}
	}
	return true
}

// inRanges reports whether t is in list's ranges ("1-33,80"); parts that
// do not read as numbers are ignored.
func inRanges(list string, t CommandType) bool {
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		z := a
		if isRange {
			if z, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		if int(t) >= a && int(t) <= z {
			return true
		}
	}
	return false
}
