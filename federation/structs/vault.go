package structs

import "strings"

// VaultKind is the kind of storage a vault provides, as AppDef vault-types name it.
type VaultKind string

// Vault kinds.
const (
	VaultFile       VaultKind = "FILE"
	VaultBlock      VaultKind = "BLOCK"
	VaultBlockArray VaultKind = "BLOCK_ARRAY"
	VaultObject     VaultKind = "OBJECT"
	VaultNone       VaultKind = "NONE"
)

// Valid reports whether k is a known kind.
func (k VaultKind) Valid() bool {
	switch k {
	case VaultFile, VaultBlock, VaultBlockArray, VaultObject, VaultNone:
		return true
	}
	return false
}

// AccessMode is a vault volume's Kubernetes access mode.
type AccessMode string

// Access modes. RWO vaults are served to multi-node jobs by a per-user NFS server.
const (
	AccessRWO AccessMode = "RWO"
	AccessRWX AccessMode = "RWX"
)

// Vault is a tenant's persistent data store, mounted at /data in jobs.
type Vault struct {
	RaftIndex
	Tenant     string     `json:"tenant"`
	Name       string     `json:"name"`
	Kind       VaultKind  `json:"kind"`
	ClaimName  string     `json:"claim_name,omitempty"` // PersistentVolumeClaim
	AccessMode AccessMode `json:"access_mode"`
	Zone       string     `json:"zone,omitempty"` // jobs using it run in this zone
}

// Copy returns a deep copy of v.
func (v *Vault) Copy() *Vault {
	if v == nil {
		return nil
	}
	c := *v
	return &c
}

// Validate checks the fields a writer must supply.
func (v *Vault) Validate() error {
	if err := validName("vault tenant", v.Tenant); err != nil {
		return err
	}
	if err := validName("vault", v.Name); err != nil {
		return err
	}
	if !v.Kind.Valid() {
		return invalidf("vault %q: kind %q", v.Name, v.Kind)
	}
	if v.AccessMode != AccessRWO && v.AccessMode != AccessRWX {
		return invalidf("vault %q: access mode %q", v.Name, v.AccessMode)
	}
	if v.ClaimName != "" && !IsDNSSubdomain(v.ClaimName) {
		return invalidf("vault %q: claim name %q: want the name of a PersistentVolumeClaim in the tenant's own namespace "+
			"(a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', at most 253 characters)", v.Name, v.ClaimName)
	}
	return nil
}

// IsDNSSubdomain reports whether s is a DNS-1123 subdomain, the form of a
// Kubernetes object name: dot-separated labels of lower-case letters,
// digits and '-', each starting and ending with a letter or digit, at most
// 253 characters in all.
func IsDNSSubdomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// IsDNSLabel reports whether s is a DNS-1123 label (a namespace's name):
// a DNS-1123 subdomain without dots, at most 63 characters.
func IsDNSLabel(s string) bool {
	return len(s) <= 63 && !strings.Contains(s, ".") && IsDNSSubdomain(s)
}
