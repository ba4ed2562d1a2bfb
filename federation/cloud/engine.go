package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"k8s.io/client-go/rest"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Config is one run of up or down.
type Config struct {
	Provider Provider
	Spec     *Spec
	// Hub is the administrator's client of the hub; HubURLs are the URLs
	// the agent is given (usually the same).
	Hub     *client.Client
	HubURLs []string
	// Agent adjusts the installed agent (images, elastic node groups);
	// zero values take the build's defaults.
	Agent AgentOptions
	Out   io.Writer
	Now   func() time.Time
}

// Up carries out every step of the plan that the hub's record of the
// cluster does not list as done, recording each as it completes. An
// interrupted or failed run leaves the record of what exists; running Up
// again resumes. A failure before anything was made leaves no record.
func Up(ctx context.Context, cfg Config) error {
	spec := cfg.Spec
	rec, err := cfg.Hub.GetCloudDeployment(ctx, spec.Name)
	switch {
	case errors.Is(err, structs.ErrNotFound):
		rec = &structs.CloudDeployment{Name: spec.Name, Provider: spec.Provider, Region: spec.Region, Project: spec.Project}
	case err != nil:
		return fmt.Errorf("reading the record of %s at the hub: %w", spec.Name, err)
	case rec.Provider != spec.Provider || rec.Region != spec.Region || rec.Project != spec.Project:
		return fmt.Errorf("cluster %s was made by %s in %s: run down first or pick another name", spec.Name, rec.Provider, rec.Region)
	default:
		fmt.Fprintf(cfg.Out, "resuming %s: %d steps done before\n", spec.Name, len(rec.Resources))
	}
	plan := Plan(cfg.Provider, spec)
	pr := &progress{w: cfg.Out, now: cfg.Now, total: len(plan)}
	start := cfg.Now()
	var kube *rest.Config
	for i, step := range plan {
		if rec.Done(step.ID) && step.Kind != KindAccess {
			fmt.Fprintf(cfg.Out, "[%d/%d] %s: done before\n", i+1, len(plan), step.Title)
			continue
		}
		sp := pr.begin(i+1, step.Title)
		if j := rec.FailedResource(step.ID); j >= 0 {
			// A failed attempt of this step: remove it, then make it anew.
			sp.Status("removing the failed " + rec.Resources[j].Kind + " first")
			if err := cfg.Provider.Delete(ctx, spec, rec.Resources[j], sp.Status); err != nil {
				sp.done("failed")
				return upFailed(ctx, cfg, rec, err)
			}
			rec.Resources = slices.Delete(slices.Clone(rec.Resources), j, j+1)
			if rec, err = saveRecord(ctx, cfg.Hub, rec); err != nil {
				return fmt.Errorf("recording %s at the hub: %w", step.Title, err)
			}
		}
		id, err := runStep(ctx, cfg, step, &kube, sp.Status)
		if err != nil {
			sp.done("failed")
			if id != "" {
				// Made, then failed: it exists, so down must find it.
				rec.Resources = append(rec.Resources, structs.CloudResource{Step: step.ID, Kind: step.Kind, ID: id, Created: cfg.Now(), Failed: true})
				if saved, serr := saveRecord(context.WithoutCancel(ctx), cfg.Hub, rec); serr == nil {
					rec = saved
				}
			}
			return upFailed(ctx, cfg, rec, err)
		}
		if !rec.Done(step.ID) {
			rec.Resources = append(rec.Resources, structs.CloudResource{Step: step.ID, Kind: step.Kind, ID: id, Created: cfg.Now()})
			if rec, err = saveRecord(ctx, cfg.Hub, rec); err != nil {
				return fmt.Errorf("recording %s at the hub: %w", step.Title, err)
			}
		}
		sp.done("done")
	}
	fmt.Fprintf(cfg.Out, "cluster %s is up and joined the hub (%s)\n", spec.Name, elapsed(cfg.Now().Sub(start)))
	return nil
}

func runStep(ctx context.Context, cfg Config, step Step, kube **rest.Config, status func(string)) (string, error) {
	spec := cfg.Spec
	switch step.Kind {
	case KindAccess:
		c, err := cfg.Provider.Access(ctx, spec)
		if err != nil {
			return "", err
		}
		*kube = c
		return c.Host, nil
	case KindHub:
		if err := registerAtHub(ctx, cfg.Hub, spec); err != nil {
			return "", err
		}
		return spec.Name, nil
	case KindAgent:
		if *kube == nil {
			return "", errors.New("no kubeconfig")
		}
		tok, err := cfg.Hub.CreateBootstrapToken(ctx, spec.Name)
		if err != nil {
			return "", fmt.Errorf("issuing the agent's bootstrap token: %w", err)
		}
		return InstallAgent(ctx, *kube, AgentSettings{Spec: spec, HubURLs: cfg.HubURLs, BootstrapToken: tok.Key, Options: cfg.Agent})
	}
	return cfg.Provider.Create(ctx, spec, step, status)
}

// upFailed ends a failed run: the record stays if something exists (down
// removes it, up resumes), else it goes. An interruption says how to go
// on.
func upFailed(ctx context.Context, cfg Config, rec *structs.CloudDeployment, err error) error {
	if len(rec.Resources) == 0 && rec.ModifyIndex > 0 {
		// Nothing was made: leave nothing at the hub. ctx may be done.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = cfg.Hub.DeleteCloudDeployment(dctx, rec.Name, client.CAS(rec.ModifyIndex))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted with %d steps done: run the same command again to resume, or `flotilla cloud down %s` to remove them: %w",
			len(rec.Resources), rec.Name, ctx.Err())
	}
	return err
}

// saveRecord writes rec to the hub on the condition that it is as this
// run last wrote it (a concurrent run fails instead of overwriting).
func saveRecord(ctx context.Context, hub *client.Client, rec *structs.CloudDeployment) (*structs.CloudDeployment, error) {
	return hub.PutCloudDeployment(ctx, rec, client.CAS(rec.ModifyIndex))
}

// registerAtHub registers the cluster and its machine types.
func registerAtHub(ctx context.Context, hub *client.Client, spec *Spec) error {
	labels := map[string]string{LabelCloud: string(spec.Provider), LabelRegion: spec.Region}
	if _, err := hub.PutCluster(ctx, spec.Name, &structs.ClusterSpec{Labels: labels}); err != nil {
		return fmt.Errorf("registering cluster %s: %w", spec.Name, err)
	}
	for _, m := range spec.MachineTypes {
		if _, err := hub.PutMachineType(ctx, m.HubMachineType(spec.Name)); err != nil {
			return fmt.Errorf("registering machine type %s: %w", m.Name, err)
		}
	}
	return nil
}

// Down removes what the record of the cluster lists, newest first,
// updating the record after each removal; then the record. Without a
// record there is nothing to do.
func Down(ctx context.Context, cfg Config) error {
	spec := cfg.Spec
	rec, err := cfg.Hub.GetCloudDeployment(ctx, spec.Name)
	if errors.Is(err, structs.ErrNotFound) {
		fmt.Fprintf(cfg.Out, "nothing to remove: the hub has no record of a cloud cluster %s\n", spec.Name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the record of %s at the hub: %w", spec.Name, err)
	}
	spec.Provider, spec.Region, spec.Project = rec.Provider, rec.Region, rec.Project
	pr := &progress{w: cfg.Out, now: cfg.Now, total: len(rec.Resources)}
	start := cfg.Now()
	for n := 1; len(rec.Resources) > 0; n++ {
		res := rec.Resources[len(rec.Resources)-1]
		sp := pr.begin(n, "removing "+res.Kind+" "+res.ID)
		if err := removeResource(ctx, cfg, res, sp.Status); err != nil {
			sp.done("failed")
			return fmt.Errorf("%w (run down again to retry; %d resources remain)", err, len(rec.Resources))
		}
		rec.Resources = slices.Clone(rec.Resources[:len(rec.Resources)-1])
		if rec, err = saveRecord(ctx, cfg.Hub, rec); err != nil {
			return fmt.Errorf("recording the removal at the hub: %w", err)
		}
		sp.done("removed")
	}
	if err := cfg.Hub.DeleteCloudDeployment(ctx, rec.Name, client.CAS(rec.ModifyIndex)); err != nil && !errors.Is(err, structs.ErrNotFound) {
		return fmt.Errorf("deleting the record at the hub: %w", err)
	}
	fmt.Fprintf(cfg.Out, "cluster %s is gone (%s)\n", spec.Name, elapsed(cfg.Now().Sub(start)))
	return nil
}

func removeResource(ctx context.Context, cfg Config, res structs.CloudResource, status func(string)) error {
	switch res.Kind {
	case KindAccess:
		return nil
	case KindAgent:
		// Best effort: the cluster's deletion removes the agent anyway,
		// and an unreachable cluster must not keep down from going on.
		kube, err := cfg.Provider.Access(ctx, cfg.Spec)
		if err == nil {
			err = UninstallAgent(ctx, kube, status)
		}
		if err != nil && ctx.Err() == nil {
			status("left to the cluster's deletion: " + err.Error())
			return nil
		}
		return err
	case KindHub:
		return unregisterAtHub(ctx, cfg.Hub, cfg.Spec.Name)
	}
	return cfg.Provider.Delete(ctx, cfg.Spec, res, status)
}

// unregisterAtHub deletes the machine types pinned to the cluster, then
// the cluster.
func unregisterAtHub(ctx context.Context, hub *client.Client, name string) error {
	mts, err := hub.ListMachineTypes(ctx)
	if err != nil {
		return err
	}
	for _, m := range mts {
		if m.Cluster != name {
			continue
		}
		if err := hub.DeleteMachineType(ctx, m.Name); err != nil && !errors.Is(err, structs.ErrNotFound) {
			return fmt.Errorf("deleting machine type %s at the hub: %w", m.Name, err)
		}
	}
	if err := hub.DeleteCluster(ctx, name); err != nil && !errors.Is(err, structs.ErrNotFound) {
		return fmt.Errorf("deleting cluster %s at the hub: %w", name, err)
	}
	return nil
}
