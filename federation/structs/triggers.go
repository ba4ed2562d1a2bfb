package structs

import "maps"

// Trigger is a named job template a service account fires with a small
// JSON payload: parameter values may hold ${payload.<key>}, replaced by the
// payload's value (a string, number or boolean) at fire time.
type Trigger struct {
	RaftIndex
	Name           string            `json:"name"`
	Tenant         string            `json:"tenant"`
	ServiceAccount string            `json:"service_account"`
	App            string            `json:"app"`
	Command        string            `json:"command,omitempty"`
	MachineType    string            `json:"machine_type"`
	Nodes          int               `json:"nodes"`
	Vault          string            `json:"vault,omitempty"`
	Parameters     map[string]string `json:"parameters,omitempty"`
	CallbackURL    string            `json:"callback_url,omitempty"`
	// Debounce: at most one job of the trigger in flight; a fire while one
	// is gets ErrConflict naming it.
	Debounce bool `json:"debounce,omitempty"`
}

// Copy returns a deep copy of t.
func (t *Trigger) Copy() *Trigger {
	c := *t
	c.Parameters = maps.Clone(t.Parameters)
	return &c
}

// Validate checks the trigger's own fields.
func (t *Trigger) Validate() error {
	for _, f := range [...]struct{ what, v string }{{"trigger", t.Name}, {"trigger tenant", t.Tenant},
		{"trigger service account", t.ServiceAccount}, {"trigger app", t.App}, {"trigger machine type", t.MachineType}} {
		if err := validName(f.what, f.v); err != nil {
			return err
		}
	}
	if t.Nodes < 1 || t.Nodes > MaxJobNodes {
		return invalidf("trigger %q: nodes %d", t.Name, t.Nodes)
	}
	return nil
}

// TriggerFired is the reply of POST /v1/triggers/{name}/fire.
type TriggerFired struct {
	Trigger string `json:"trigger"`
	Job     *Job   `json:"job"`
}

// VaultExport makes a vault mountable from a namespace outside Flotilla:
// the agent of each cluster holding the vault's claim makes, in
// Namespace, a PersistentVolume and PersistentVolumeClaim bound to the
// vault's storage, read-only unless ReadWrite.
type VaultExport struct {
	RaftIndex
	Tenant    string `json:"tenant"`
	Vault     string `json:"vault"`
	Namespace string `json:"namespace"`
	Cluster   string `json:"cluster,omitempty"` // "": every cluster with the vault's claim
	ReadWrite bool   `json:"read_write,omitempty"`
}

// Copy returns a copy of e.
func (e *VaultExport) Copy() *VaultExport {
	c := *e
	return &c
}

// Validate checks the export's fields.
func (e *VaultExport) Validate() error {
	if err := validName("export tenant", e.Tenant); err != nil {
		return err
	}
	if err := validName("export vault", e.Vault); err != nil {
		return err
	}
	if !IsDNSLabel(e.Namespace) {
		return invalidf("export of vault %q: namespace %q: want a DNS-1123 label", e.Vault, e.Namespace)
	}
	return nil
}

// VaultExportAssignment is an export as an agent carries it out: the
// export and its vault.
type VaultExportAssignment struct {
	Export VaultExport `json:"export"`
	Vault  Vault       `json:"vault"`
}
