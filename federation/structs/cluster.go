package structs

import (
	"maps"
	"time"
)

// ClusterStatus is what the hub last heard from a cluster's agent.
type ClusterStatus string

// Cluster statuses.
const (
	ClusterUnknown  ClusterStatus = "unknown" // registered, never heard from
	ClusterReady    ClusterStatus = "ready"
	ClusterDraining ClusterStatus = "draining" // runs its jobs, takes no new ones
	ClusterDown     ClusterStatus = "down"
)

// Valid reports whether s is a known status.
func (s ClusterStatus) Valid() bool {
	switch s {
	case ClusterUnknown, ClusterReady, ClusterDraining, ClusterDown:
		return true
	}
	return false
}

// Capacity counts the nodes of one machine type in a cluster.
type Capacity struct {
	Free  int `json:"free"`
	Total int `json:"total"`
	// Grow is how many nodes an elastic node group of the machine type can
	// still add (its maximum minus its size): placement treats them as
	// free, the agent provisions them when a job needs them.
	Grow int `json:"grow,omitempty"`
}

// Cluster is a Kubernetes cluster federated under the hub, reached through
// its agent.
type Cluster struct {
	RaftIndex
	Name   string            `json:"name"`
	Zone   string            `json:"zone,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// AgentKey authenticates the cluster's agent; the secret is never stored.
	AgentKey APIKeyHash `json:"agent_key,omitzero"`
	// BootstrapToken, while set, lets the cluster's agent register once:
	// it exchanges the token for an agent key, which clears the token.
	BootstrapToken APIKeyHash `json:"bootstrap_token,omitzero"`

	// Runtime fields, written by heartbeats; a registration upsert of an
	// existing cluster keeps the stored values.
	Status        ClusterStatus       `json:"status,omitempty"`
	LastHeartbeat time.Time           `json:"last_heartbeat,omitzero"`
	Capacity      map[string]Capacity `json:"capacity,omitempty"` // by machine type name
	// Catalog is the agent's latest report on the apps' images there
	// (nil from an agent that sends none).
	Catalog *ClusterCatalog `json:"catalog,omitempty"`
	// Agent is the agent's version and features as it last reported them
	// (fsm.ClusterAgent); nil while no agent that reports them has been
	// recorded: an older agent, or a hub whose replicas do not all record
	// them yet.
	Agent *AgentInfo `json:"agent,omitempty"`
}

// Copy returns a deep copy of c.
func (c *Cluster) Copy() *Cluster {
	if c == nil {
		return nil
	}
	n := *c
	n.Labels = maps.Clone(c.Labels)
	n.Capacity = maps.Clone(c.Capacity)
	n.Catalog = c.Catalog.Copy()
	n.Agent = c.Agent.Copy()
	return &n
}

// Validate checks the fields a writer must supply.
func (c *Cluster) Validate() error {
	if err := validName("cluster", c.Name); err != nil {
		return err
	}
	if c.Status != "" && !c.Status.Valid() {
		return invalidf("cluster %q: status %q", c.Name, c.Status)
	}
	if c.AgentKey != (APIKeyHash{}) {
		if err := c.AgentKey.validate("cluster " + c.Name + " agent"); err != nil {
			return err
		}
	}
	if c.BootstrapToken != (APIKeyHash{}) {
		if err := c.BootstrapToken.validate("cluster " + c.Name + " bootstrap token"); err != nil {
			return err
		}
	}
	if err := c.Catalog.Validate(); err != nil {
		return err
	}
	if err := c.Agent.Validate(); err != nil {
		return err
	}
	return validCapacity(c.Name, c.Capacity)
}

func validCapacity(cluster string, cp map[string]Capacity) error {
	for mt, v := range cp {
		if v.Free < 0 || v.Total < 0 || v.Free > v.Total || v.Grow < 0 {
			return invalidf("cluster %q: capacity of %q: free %d, total %d", cluster, mt, v.Free, v.Total)
		}
	}
	return nil
}
