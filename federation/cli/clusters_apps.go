package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// runClustersApps is `flotilla admin clusters apps NAME`: the catalog
// report of the cluster's agent — per app and machine type whether the
// image is on the nodes, and why it cannot run there.
func runClustersApps(ctx context.Context, s *session, path, args []string) error {
	fs := s.flagSet(path[len(path)-1])
	pos, err := s.leaf(fs, path, "NAME", 1, 1, args)
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	c, err := cl.GetCluster(ctx, pos[0])
	if err != nil {
		return err
	}
	cat := c.Catalog
	if cat == nil {
		cat = &structs.ClusterCatalog{Apps: map[string]structs.ClusterApp{}}
	}
	return s.show(cat, func() error {
		if len(cat.Apps) == 0 {
			return s.line("cluster %s: its agent reported no apps", c.Name)
		}
		var rows [][]string
		for _, app := range slices.Sorted(maps.Keys(cat.Apps)) {
			a := cat.Apps[app]
			for _, mt := range slices.Sorted(maps.Keys(a.MachineTypes)) {
				on := a.MachineTypes[mt]
				rows = append(rows, []string{app, mt, string(on.State), fmt.Sprintf("%d/%d", on.Ready, on.Nodes), dash(on.Reason)})
			}
		}
		return s.table([]string{"APP", "MACHINE_TYPE", "STATE", "READY", "REASON"}, rows)
	})
}
