package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/flotilla-hpc/flotilla/catalog-sync/appdef"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Machine types.

func runMachineTypesApply(ctx context.Context, s *session, path, args []string) error {
	return applyObjects(ctx, s, path, args, "machine type", (*structs.MachineType).Validate,
		func(m *structs.MachineType) string { return m.Name }, (*client.Client).PutMachineType)
}

// nonNil wraps a validator so that a null list item is an error.
func nonNil[T any](validate func(*T) error) func(*T) error {
	return func(v *T) error {
		if v == nil {
			return fmt.Errorf("null item")
		}
		return validate(v)
	}
}

func runMachineTypesList(ctx context.Context, s *session, path, args []string) error {
	return listTable(ctx, s, path, args, []string{"NAME", "CLUSTER", "CORES", "GPUS", "RAM_GB", "SCALE", "PRICE", "DESCRIPTION"},
		all((*client.Client).ListMachineTypes), func(m *structs.MachineType) []string {
			scale := fmt.Sprintf("%d..%d", max(m.ScaleMin, 1), m.ScaleMax)
			if m.ScaleMax == 0 {
				scale = fmt.Sprintf("%d..", max(m.ScaleMin, 1))
			}
			return []string{m.Name, dash(m.Cluster), strconv.Itoa(m.Cores), strconv.Itoa(m.GPUs),
				strconv.Itoa(m.RAM), scale, strconv.FormatFloat(m.Price, 'f', -1, 64), m.Description}
		})
}

func runMachineTypesDelete(ctx context.Context, s *session, path, args []string) error {
	return deleteNamed(ctx, s, path, args, "machine type", func(ctx context.Context, cl *client.Client, n string) error {
		return cl.DeleteMachineType(ctx, n)
	})
}

// Clusters.

// ClusterAdded is the -o json reply of "admin clusters add" and
// "rotate-key": the cluster and its agent key, shown this once.
type ClusterAdded struct {
	Cluster  *structs.Cluster       `json:"cluster"`
	AgentKey *structs.APIKeyCreated `json:"agent_key"`
}

func runClustersAdd(ctx context.Context, s *session, path, args []string) error {
	var spec structs.ClusterSpec
	var labels kvFlag
	name, err := s.nameArg(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&spec.Zone, "zone", "", "zone (a job's machine and vault must share one)")
		fs.Var(&labels, "label", "label key=value (repeatable)")
	})
	if err != nil {
		return err
	}
	spec.Labels = labels.m
	if err := (&structs.Cluster{Name: name}).Validate(); err != nil {
		return usageErr(err)
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	// An existing cluster keeps its agent key: adding it again would cut
	// its running agent off. CAS(0) keeps a concurrent add from slipping
	// in between the check and the write.
	registered := fmt.Errorf("cluster %s is already registered (use 'admin clusters rotate-key' for a new agent key)", name)
	if _, err := cl.GetCluster(ctx, name); err == nil {
		return registered
	} else if structs.KindOf(err) != structs.ErrNotFound {
		return err
	}
	c, err := cl.PutCluster(ctx, name, &spec, client.CAS(0))
	if errors.Is(err, structs.ErrConflict) {
		return registered
	}
	if err != nil {
		return err
	}
	return s.agentKey(ctx, c)
}

func runClustersRotateKey(ctx context.Context, s *session, path, args []string) error {
	name, cl, err := s.namedClient(path, args, nil)
	if err != nil {
		return err
	}
	c, err := cl.GetCluster(ctx, name)
	if err != nil {
		return err
	}
	return s.agentKey(ctx, c)
}

func runClustersToken(ctx context.Context, s *session, path, args []string) error {
	name, cl, err := s.namedClient(path, args, nil)
	if err != nil {
		return err
	}
	k, err := cl.CreateBootstrapToken(ctx, name)
	return saved(s, k, err, func(k *structs.APIKeyCreated) string {
		return fmt.Sprintf("bootstrap token of cluster %s (works once; give it to the agent with -bootstrap-token-file):\n%s", name, k.Key)
	})
}

// agentKey issues cluster c's agent key and prints it once.
func (s *session) agentKey(ctx context.Context, c *structs.Cluster) error {
	k, err := s.cl.CreateAgentKey(ctx, c.Name)
	if err != nil {
		return withPrefix("cluster "+c.Name+" is registered, but issuing its agent key failed", err)
	}
	return s.show(&ClusterAdded{Cluster: c, AgentKey: k}, func() error {
		return s.line("cluster %s registered; its agent key (shown once; store it now):\n%s", c.Name, k.Key)
	})
}

func runClustersList(ctx context.Context, s *session, path, args []string) error {
	return listTable(ctx, s, path, args, []string{"NAME", "ZONE", "STATUS", "LAST_HEARTBEAT", "FREE/TOTAL", "AGENT", "FEATURES"},
		all((*client.Client).ListClusters), func(c *structs.Cluster) []string {
			status := string(c.Status)
			if status == "" {
				status = string(structs.ClusterUnknown)
			}
			var capa []string
			for _, mt := range slices.Sorted(maps.Keys(c.Capacity)) {
				capa = append(capa, fmt.Sprintf("%s %d/%d", mt, c.Capacity[mt].Free, c.Capacity[mt].Total))
			}
			version, features := agentColumns(c.Agent)
			return []string{c.Name, dash(c.Zone), status, dash(stamp(c.LastHeartbeat)), dash(strings.Join(capa, ", ")), version, features}
		})
}

// agentColumns are a cluster's AGENT and FEATURES columns: its agent's
// version and features as the hub records them; "-" for an agent that
// never reported them (an older release: placement sends it no job
// needing a feature).
func agentColumns(a *structs.AgentInfo) (version, features string) {
	if a == nil {
		return "-", "-"
	}
	fs := make([]string, len(a.Features))
	for i, f := range a.Features {
		fs[i] = string(f)
	}
	return dash(a.Version), dash(strings.Join(fs, ","))
}

func runClustersDelete(ctx context.Context, s *session, path, args []string) error {
	return deleteNamed(ctx, s, path, args, "cluster", func(ctx context.Context, cl *client.Client, n string) error { return cl.DeleteCluster(ctx, n) })
}

// Apps.

func runAppsApply(ctx context.Context, s *session, path, args []string) error {
	var name, visibility, image, team string
	file, err := s.applyFile(path, args, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "app name (for a bare AppDef; default: from the AppDef's name)")
		fs.StringVar(&visibility, "visibility", "", "public, tenant, team or private (for a bare AppDef; default public)")
		fs.StringVar(&team, "team", "", "the team of a team app (for a bare AppDef)")
		fs.StringVar(&image, "image", "", "container image (for a bare AppDef)")
	})
	if err != nil {
		return err
	}
	app, err := readApp(file, name, visibility, image)
	if err != nil {
		return err
	}
	if team != "" {
		app.Team = team
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	return applyAll(ctx, s, file, "app", []*structs.App{app}, checkApp,
		func(a *structs.App) string { return a.Name }, cl.PutApp)
}

// readApp reads an app file: a Flotilla app object (with an "appdef"
// key), or a bare JARVICE-style AppDef.json completed by the flags.
func readApp(file, name, visibility, image string) (*structs.App, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, usageErr(err)
	}
	var probe map[string]json.RawMessage
	if objs, err := decodeObjects[map[string]json.RawMessage](data); err == nil && len(objs) == 1 {
		probe = objs[0]
	}
	if _, isApp := probe["appdef"]; isApp {
		if name != "" || visibility != "" || image != "" {
			return nil, usagef("%s: an app file carries its own name, visibility and image; drop the flags", file)
		}
		apps, err := decodeObjects[*structs.App](data)
		if err != nil {
			return nil, usagef("%s: %v", file, err)
		}
		return apps[0], nil
	}
	defs, err := decodeObjects[structs.AppDef](data)
	if err != nil {
		return nil, usagef("%s: %v", file, err)
	}
	if len(defs) != 1 {
		return nil, usagef("%s: want one AppDef", file)
	}
	if name == "" {
		name = slug(defs[0].Name)
	}
	if visibility == "" {
		visibility = string(structs.VisibilityPublic)
	}
	return &structs.App{Name: name, Visibility: structs.Visibility(visibility), Image: image, AppDef: defs[0]}, nil
}

// checkApp validates an app and its AppDef with the hub's validator,
// which lists every error with its JSON path.
func checkApp(a *structs.App) error {
	if a == nil {
		return fmt.Errorf("null app")
	}
	if err := a.Validate(); err != nil {
		return err
	}
	_, err := appdef.Check(&a.AppDef)
	return err
}

// slug makes an app name from an AppDef name: "Mini Solver" → "mini-solver".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func runAppsList(ctx context.Context, s *session, path, args []string) error {
	withBatch := func(fs *flag.FlagSet) lister[*structs.App] {
		every := fs.Bool("all", false, "also the batch apps the hub made for your job scripts (batch-<hash>)")
		return func(cl *client.Client, ctx context.Context) ([]*structs.App, error) {
			if *every {
				return cl.ListAllApps(ctx)
			}
			return cl.ListApps(ctx)
		}
	}
	return listTable(ctx, s, path, args, []string{"NAME", "VISIBILITY", "OWNER", "IMAGE", "COMMANDS", "DESCRIPTION"},
		withBatch, func(a *structs.App) []string {
			return []string{a.Name, string(a.Visibility), dash(a.Owner), dash(a.Image),
				dash(strings.Join(slices.Sorted(maps.Keys(a.AppDef.Commands)), ",")), a.AppDef.Description}
		})
}

func runAppsDelete(ctx context.Context, s *session, path, args []string) error {
	return deleteNamed(ctx, s, path, args, "app", func(ctx context.Context, cl *client.Client, n string) error { return cl.DeleteApp(ctx, n) })
}
