package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/cloud"
	"github.com/flotilla-hpc/flotilla/federation/cloud/connect"
	"github.com/flotilla-hpc/flotilla/federation/cloud/eks"
	"github.com/flotilla-hpc/flotilla/federation/cloud/gke"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

func cloudTree() []*cmd {
	return []*cmd{
		{name: "plan", summary: "print what up would create and its estimated hourly price; creates nothing", run: runCloudPlan},
		{name: "up", summary: "create an EKS or GKE cluster, install the agent and join it to the hub (resumes)", run: runCloudUp},
		{name: "down", summary: "remove exactly what up created, in reverse order", run: runCloudDown},
		{name: "list", summary: "list the cloud clusters the hub has records of", run: runCloudList},
	}
}

// cloudFlags are the flags of plan and up.
type cloudFlags struct {
	name, region, project, machineTypes, version, subnets, endpoint string
	iamEndpoint, resourceManagerEndpoint                            string
	poll, elasticIdle                                               time.Duration
}

func (f *cloudFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "the cluster's name, in the cloud and at the hub")
	fs.StringVar(&f.region, "region", "", "AWS region, or GKE location (region or zone)")
	fs.StringVar(&f.project, "project", "", "GKE project")
	fs.StringVar(&f.machineTypes, "machine-types", "", "JSON or YAML file of machine types with their instance_type, nodes, min_nodes, max_nodes")
	fs.StringVar(&f.version, "kubernetes-version", "", "control plane version (default: the cloud's)")
	fs.StringVar(&f.subnets, "subnets", "", "EKS: VPC subnet IDs, comma-separated")
	fs.StringVar(&f.endpoint, "endpoint", "", "cloud API endpoint instead of the public one (a private endpoint; http:// only on loopback)")
	f.registerGoogleEndpoints(fs)
	fs.DurationVar(&f.poll, "poll", 0, "how often to ask the cloud for progress (default 15s EKS, 10s GKE)")
	fs.DurationVar(&f.elasticIdle, "elastic-idle", 0, "elastic machine types: how long a node group runs no job before the agent shrinks it to min_nodes (default 10m)")
}

// registerGoogleEndpoints registers the GKE-only endpoints of the REST
// APIs that make the agent's access.
func (f *cloudFlags) registerGoogleEndpoints(fs *flag.FlagSet) {
	fs.StringVar(&f.iamEndpoint, "iam-endpoint", "", "GKE: IAM API base URL instead of https://iam.googleapis.com")
	fs.StringVar(&f.resourceManagerEndpoint, "resource-manager-endpoint", "",
		"GKE: Resource Manager API base URL instead of https://cloudresourcemanager.googleapis.com")
}

// spec parses the provider argument and the flags into a spec.
func (f *cloudFlags) spec(provider string) (*cloud.Spec, error) {
	if f.machineTypes == "" {
		return nil, usagef("--machine-types FILE is required")
	}
	data, err := os.ReadFile(f.machineTypes)
	if err != nil {
		return nil, usageErr(err)
	}
	mts, err := cloud.ReadMachineTypes(data)
	if err != nil {
		return nil, usagef("%s: %v", f.machineTypes, err)
	}
	s := &cloud.Spec{Provider: structs.CloudProvider(provider), Name: f.name, Region: f.region, Project: f.project,
		KubernetesVersion: f.version, MachineTypes: mts}
	if err := s.Validate(); err != nil {
		return nil, usageErr(err)
	}
	return s, nil
}

func (f *cloudFlags) parse(s *session, path, args []string) (*cloud.Spec, error) {
	fs := s.flagSet(path[len(path)-1])
	f.register(fs)
	pos, err := s.leaf(fs, path, "eks|gke", 1, 1, args)
	if err != nil {
		return nil, err
	}
	return f.spec(pos[0])
}

func runCloudPlan(ctx context.Context, s *session, path, args []string) error {
	var f cloudFlags
	spec, err := f.parse(s, path, args)
	if err != nil {
		return err
	}
	// The plan needs no credentials: the steps are the provider's, the
	// clients are never called.
	var p cloud.Provider
	if spec.Provider == structs.CloudEKS {
		p = eks.New(aws.Config{Region: spec.Region}, eks.Options{})
	} else {
		p = gke.New(nil, nil, gke.Options{})
	}
	cloud.PrintPlan(s.stdout, p, spec)
	return nil
}

func runCloudUp(ctx context.Context, s *session, path, args []string) error {
	var f cloudFlags
	spec, err := f.parse(s, path, args)
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	p, closeP, err := f.provider(ctx, spec)
	if err != nil {
		return err
	}
	defer closeP()
	return cloud.Up(ctx, cloud.Config{Provider: p, Spec: spec, Hub: cl, HubURLs: cl.URLs(), Out: s.stdout, Now: time.Now,
		Agent: cloud.AgentOptions{Endpoint: f.endpoint, PollInterval: f.poll, ElasticIdle: f.elasticIdle}})
}

func runCloudDown(ctx context.Context, s *session, path, args []string) error {
	var f cloudFlags
	fs := s.flagSet(path[len(path)-1])
	fs.StringVar(&f.subnets, "subnets", "", "unused by down; accepted so up's flags may be repeated")
	fs.StringVar(&f.endpoint, "endpoint", "", "cloud API endpoint instead of the public one")
	f.registerGoogleEndpoints(fs)
	fs.DurationVar(&f.poll, "poll", 0, "how often to ask the cloud for progress")
	pos, err := s.leaf(fs, path, "NAME", 1, 1, args)
	if err != nil {
		return err
	}
	cl, err := s.client()
	if err != nil {
		return err
	}
	rec, err := cl.GetCloudDeployment(ctx, pos[0])
	if errors.Is(err, structs.ErrNotFound) {
		fmt.Fprintf(s.stdout, "nothing to remove: the hub has no record of a cloud cluster %s\n", pos[0])
		return nil
	}
	if err != nil {
		return err
	}
	spec := &cloud.Spec{Provider: rec.Provider, Name: rec.Name, Region: rec.Region, Project: rec.Project}
	p, closeP, err := f.provider(ctx, spec)
	if err != nil {
		return err
	}
	defer closeP()
	return cloud.Down(ctx, cloud.Config{Provider: p, Spec: spec, Hub: cl, Out: s.stdout, Now: time.Now})
}

func runCloudList(ctx context.Context, s *session, path, args []string) error {
	return listTable(ctx, s, path, args, []string{"NAME", "PROVIDER", "REGION", "PROJECT", "STEPS DONE"},
		all((*client.Client).ListCloudDeployments), func(d *structs.CloudDeployment) []string {
			steps := make([]string, 0, len(d.Resources))
			for _, r := range d.Resources {
				steps = append(steps, r.Step)
			}
			return []string{d.Name, string(d.Provider), d.Region, dash(d.Project), strings.Join(steps, ",")}
		})
}

// provider makes the provider of spec with the default credentials of
// its cloud (federation/cloud/connect).
func (f *cloudFlags) provider(ctx context.Context, spec *cloud.Spec) (cloud.Provider, func(), error) {
	var subnets []string
	for sn := range strings.SplitSeq(f.subnets, ",") {
		if sn = strings.TrimSpace(sn); sn != "" {
			subnets = append(subnets, sn)
		}
	}
	p, closeP, err := connect.Provider(ctx, connect.Options{Provider: spec.Provider, Region: spec.Region, Subnets: subnets,
		Endpoint: f.endpoint, IAMEndpoint: f.iamEndpoint, ResourceManagerEndpoint: f.resourceManagerEndpoint, PollInterval: f.poll})
	if errors.Is(err, connect.ErrPlaintext) {
		return nil, nil, usageErr(err)
	}
	return p, closeP, err
}
