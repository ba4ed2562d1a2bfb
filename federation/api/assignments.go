package api

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// assignmentTables are the tables a watch of assignments wakes on: the
// jobs, and the catalog its assignments resolve from.
var assignmentTables = []string{state.TableJobs, state.TableMachineTypes, state.TableApps, state.TableVaults}

// assignments serves a cluster's agent: a full listing (index 0) of the
// jobs active on the cluster, read linearizably, or a watch (index > 0)
// of its jobs changed after index, waiting up to wait for one or for the
// catalog to change. Both are paged by job number (after, limit); see
// structs.AssignmentList.
func (s *Server) assignments(c *call) (any, error) {
	name := c.r.PathValue("name")
	if err := c.checkAgent(name); err != nil {
		return nil, err
	}
	index, wait, err := c.watchParams()
	if err != nil {
		return nil, err
	}
	after, limit, err := c.pageParams()
	if err != nil {
		return nil, err
	}
	if index == 0 {
		// Linearizable: a listing from a lagging replica could miss a job
		// the agent already runs, and the agent stops what it misses.
		if err := s.reads.ConsistentRead(c.r.Context()); err != nil {
			return nil, err
		}
		txn := s.reads.Store().Read()
		jobs, next, err := txn.ActiveClusterJobs(name, after, limit)
		if err != nil {
			return nil, err
		}
		list, err := assignmentList(txn, name, jobs, next, catalogIndex(txn, state.TableJobs))
		if err != nil {
			return nil, err
		}
		c.withJobKeys(list)
		c.setIndex(list.Index)
		return list, nil
	}
	deadline := s.now().Add(wait)
	for {
		txn := s.reads.Store().Read()
		jobs, next, err := txn.ClusterJobsChanged(name, index, after, limit)
		if err != nil {
			return nil, err
		}
		at := max(catalogIndex(txn, state.TableJobs), index)
		left := deadline.Sub(s.now())
		if len(jobs) > 0 || catalogIndex(txn) > index || left <= 0 || s.Draining() {
			list, err := assignmentList(txn, name, jobs, next, at)
			if err != nil {
				return nil, err
			}
			c.withJobKeys(list)
			c.setIndex(list.Index)
			return list, nil
		}
		if err := c.waitAny(at, left, assignmentTables...); err != nil {
			return nil, err
		}
	}
}

// catalogIndex is the highest modify index of the catalog tables an
// assignment resolves from, and of the further tables named.
func catalogIndex(txn *state.ReadTxn, more ...string) uint64 {
	var at uint64
	for _, t := range append([]string{state.TableMachineTypes, state.TableApps, state.TableVaults}, more...) {
		at = max(at, txn.Index(t))
	}
	return at
}

// assignmentList resolves jobs read in txn into assignments and adds the
// machine types the agent needs: those pinned to the cluster and those
// its assignments run on.
func assignmentList(txn *state.ReadTxn, cluster string, jobs []*structs.Job, next, at uint64) (*structs.AssignmentList, error) {
	list := &structs.AssignmentList{Assignments: make([]*structs.Assignment, 0, len(jobs)), Index: at, Next: next}
	mts, err := txn.MachineTypesByCluster(cluster)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		a, err := assignmentOf(txn, cluster, j)
		if err != nil {
			return nil, err
		}
		list.Assignments = append(list.Assignments, a)
		if a.MachineType != nil && a.MachineType.Cluster != cluster &&
			!slices.ContainsFunc(mts, func(m *structs.MachineType) bool { return m.Name == a.MachineType.Name }) {
			mts = append(mts, a.MachineType)
		}
	}
	slices.SortFunc(mts, func(a, b *structs.MachineType) int { return strings.Compare(a.Name, b.Name) })
	if mts == nil {
		mts = []*structs.MachineType{}
	}
	list.MachineTypes = mts
	return list, nil
}

// assignmentOf resolves what a job active on the cluster runs with: its
// effective machine type, its app's command and image, its vault and its
// identity. When one of them no longer exists, Problem names it and
// nothing else is resolved. A job that ended or left the cluster carries
// the job alone.
func assignmentOf(txn *state.ReadTxn, cluster string, j *structs.Job) (*structs.Assignment, error) {
	if j.Array != nil && len(j.Array.Outputs) > 0 { // the agent needs the requests, not the answers
		c := *j
		c.Array = j.Array.Copy()
		c.Array.Outputs = nil
		j = &c
	}
	a := &structs.Assignment{Job: j}
	if j.Cluster != cluster || !j.State.OnCluster() {
		return a, nil
	}
	problem := func(format string, args ...any) (*structs.Assignment, error) {
		a.Problem = fmt.Sprintf(format, args...)
		return a, nil
	}
	app, err := txn.AppRef(j.App) // read only
	if errors.Is(err, structs.ErrNotFound) {
		return problem("app %q no longer exists", j.App)
	} else if err != nil {
		return nil, err
	}
	cmd, ok := app.AppDef.Commands[j.Command]
	if !ok {
		return problem("app %q has no command %q", j.App, j.Command)
	}
	mt, err := txn.MachineTypeRef(j.EffectiveMachineType()) // read only
	if errors.Is(err, structs.ErrNotFound) {
		return problem("machine type %q no longer exists", j.EffectiveMachineType())
	} else if err != nil {
		return nil, err
	}
	if j.Vault != "" {
		v, err := txn.Vault(j.Tenant, j.Vault)
		if errors.Is(err, structs.ErrNotFound) {
			return problem("vault %q of tenant %q no longer exists", j.Vault, j.Tenant)
		} else if err != nil {
			return nil, err
		}
		a.Vault = v
	}
	a.MachineType, a.Command, a.Image = mt, &cmd, app.Image
	a.PullSecret = j.PullSecret // the job's own credential wins over its app's
	if a.PullSecret == "" {
		a.PullSecret = app.PullSecret
	}
	a.Identity = j.Identity
	if a.Identity == nil {
		if u, err := txn.UserRef(j.Owner); err == nil && (u.Identity.UID != 0 || u.Identity.GID != 0) {
			id := u.Identity
			a.Identity = &id
		}
	}
	return a, nil
}
