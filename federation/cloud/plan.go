package cloud

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Plan is every step of `up` for a spec, in the order they run: the
// provider's cloud steps, then reaching the API server, registering at the
// hub and installing the agent.
func Plan(p Provider, spec *Spec) []Step {
	steps := p.Steps(spec)
	var cloudIDs []string
	for _, s := range steps {
		cloudIDs = append(cloudIDs, s.ID)
	}
	return append(steps,
		Step{ID: "kubeconfig", Kind: KindAccess, Title: "kubeconfig of " + spec.Name, Needs: cloudIDs},
		Step{ID: "hub", Kind: KindHub, Title: fmt.Sprintf("cluster %s and %d machine types at the hub", spec.Name, len(spec.MachineTypes)),
			Needs: []string{"kubeconfig"}},
		Step{ID: "agent", Kind: KindAgent, Title: "agent in namespace " + AgentNamespace, Needs: []string{"hub"}},
	)
}

// HourlyPrice is the estimated price per hour of the node groups at their
// initial size and at their maximum, from the machine types' prices.
func HourlyPrice(spec *Spec) (initial, maximum float64) {
	for _, g := range spec.NodeGroups() {
		initial += float64(g.Nodes) * g.Price
		maximum += float64(g.MaxNodes) * g.Price
	}
	return initial, maximum
}

// PrintPlan writes what `up` would make: the steps, the node groups with
// their instance types and counts, and the estimated hourly price.
func PrintPlan(w io.Writer, p Provider, spec *Spec) {
	fmt.Fprintf(w, "%s cluster %s in %s", strings.ToUpper(string(spec.Provider)), spec.Name, spec.Region)
	if spec.Project != "" {
		fmt.Fprintf(w, " (project %s)", spec.Project)
	}
	fmt.Fprintln(w, ":")
	for i, s := range Plan(p, spec) {
		fmt.Fprintf(w, "  %d. %s\n", i+1, s.Title)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MACHINE TYPE\tNODE GROUP\tINSTANCE TYPE\tGPUS\tNODES\tMIN..MAX\tPRICE/NODE-HOUR")
	for _, g := range spec.NodeGroups() {
		it := g.InstanceType
		if g.Accelerator != "" {
			it += " + " + g.Accelerator
		}
		bounds := fmt.Sprintf("%d..%d", g.MinNodes, g.MaxNodes)
		if g.Elastic {
			bounds += " elastic"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", g.MachineType, g.Name, it, g.GPUs, g.Nodes, bounds, money(g.Price))
	}
	_ = tw.Flush()
	initial, maximum := HourlyPrice(spec)
	fmt.Fprintf(w, "\nEstimated price: %s per hour at the initial size, up to %s per hour at the maximum (machine type prices; the control plane is billed by the cloud on top).\n",
		money(initial), money(maximum))
	if idle, ok := IdlePrice(spec); ok {
		fmt.Fprintf(w, "Elastic node groups are resized by the agent for the jobs that wait for them and shrink to their minimum when idle: %s per hour with every elastic group idle.\n",
			money(idle))
	}
}

// IdlePrice is the estimated price per hour with every elastic node group
// at its minimum and the others at their initial size; ok is false when
// no group is elastic.
func IdlePrice(spec *Spec) (price float64, ok bool) {
	for _, g := range spec.NodeGroups() {
		n := g.Nodes
		if g.Elastic {
			n, ok = g.MinNodes, true
		}
		price += float64(n) * g.Price
	}
	return price, ok
}

func money(v float64) string { return fmt.Sprintf("$%.2f", v) }
