package api

import (
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/jobs"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// agentCatalogTables are the tables an agent's catalog read depends on.
var agentCatalogTables = []string{state.TableApps, state.TableMachineTypes}

// agentCatalog serves a cluster's agent the apps it keeps on its nodes:
// every app with an image whose AppDef allows one of the cluster's
// machine types, with those machine types. index > 0 waits up to wait for
// the apps or machine types to change after index.
func (s *Server) agentCatalog(c *call) (any, error) {
	name := c.r.PathValue("name")
	if err := c.checkAgent(name); err != nil {
		return nil, err
	}
	index, wait, err := c.watchParams()
	if err != nil {
		return nil, err
	}
	if index > 0 {
		if err := c.waitAny(index, wait, agentCatalogTables...); err != nil {
			return nil, err
		}
	}
	txn := s.reads.Store().Read()
	at := max(txn.Index(state.TableApps), txn.Index(state.TableMachineTypes))
	mts, err := txn.MachineTypesByCluster(name)
	if err != nil {
		return nil, err
	}
	apps, err := txn.Apps()
	if err != nil {
		return nil, err
	}
	out := &structs.AgentCatalog{Apps: []structs.AgentApp{}, Index: at}
	for _, a := range apps {
		if a.Image == "" {
			continue
		}
		var names []string
		for _, mt := range mts {
			if jobs.AppRunsOn(&a.AppDef, mt.Name) {
				names = append(names, mt.Name)
			}
		}
		if len(names) == 0 {
			continue
		}
		slices.Sort(names)
		out.Apps = append(out.Apps, structs.AgentApp{Name: a.Name, Image: a.Image, MachineTypes: names, NoPrePull: a.NoPrePull,
			PullSecret: a.PullSecret})
	}
	c.setIndex(at)
	return out, nil
}
