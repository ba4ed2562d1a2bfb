package podgroup

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// LabelTenantNamespace is "true" on the namespaces an agent made for its
// tenants (besides LabelManaged and LabelTenant; AnnotTenant holds the
// tenant verbatim).
const LabelTenantNamespace = "flotilla.io/tenant-namespace"

// DefaultNamespacePrefix starts the name of every tenant namespace.
const DefaultNamespacePrefix = "flotilla"

// maxPrefix bounds a namespace prefix so that the tenant's readable part
// keeps some room within the 63 characters of a DNS label.
const maxPrefix = 30

// CheckNamespacePrefix says whether prefix can start tenant namespace
// names: a DNS label of at most 30 characters.
func CheckNamespacePrefix(prefix string) error {
	if len(prefix) > maxPrefix {
		return fmt.Errorf("namespace prefix %q: at most %d characters", prefix, maxPrefix)
	}
	if errs := validation.IsDNS1123Label(prefix); len(errs) > 0 {
		return fmt.Errorf("namespace prefix %q: %s", prefix, strings.Join(errs, "; "))
	}
	return nil
}

// TenantNamespace is the namespace a tenant's jobs run in on a cluster:
// "<prefix>-<tenant, readable>-<hash>". It is stable (a function of the
// two strings only), a valid DNS label, and collision-safe: the hash is of
// the tenant's exact name, so two tenants whose readable parts agree
// ("Acme" and "acme", or names shortened alike) still get different
// namespaces. prefix must pass CheckNamespacePrefix.
func TenantNamespace(prefix, tenant string) string {
	sum := sha256.Sum256([]byte(tenant))
	tail := "-" + hex.EncodeToString(sum[:5])
	room := 63 - len(prefix) - 1 - len(tail)
	slug := dnsSlug(tenant)
	if len(slug) > room {
		slug = strings.TrimRight(slug[:room], "-")
	}
	if slug == "" {
		return prefix + tail
	}
	return prefix + "-" + slug + tail
}

// IsTenantNamespace says whether ns is named like a tenant namespace of
// prefix (its labels, not its name, say whose it is).
func IsTenantNamespace(prefix, ns string) bool {
	return prefix != "" && strings.HasPrefix(ns, prefix+"-")
}

// dnsSlug lowercases s and keeps [a-z0-9], turning runs of anything else
// into one '-', trimmed at both ends.
func dnsSlug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}
