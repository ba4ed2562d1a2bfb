package appdef_test

import "github.com/flotilla-hpc/flotilla/federation/state"

// storedIndex is the latest write to any table a refused request must
// leave alone: every table but the audit trail, where a refusal is
// recorded on purpose (docs/operations.md, invariant 7).
func (h *hubEnv) storedIndex() uint64 {
	r := h.c.Hub(0).Store().Read()
	var n uint64
	for _, t := range []string{state.TableTenants, state.TableTeams, state.TableUsers, state.TableClusters,
		state.TableMachineTypes, state.TableVaults, state.TableApps, state.TableLimits, state.TableBurstRules,
		state.TableJobs, state.TableAccounting, state.TableAccessRules, state.TableReplicas, state.TableEvents} {
		n = max(n, r.Index(t))
	}
	return n
}
