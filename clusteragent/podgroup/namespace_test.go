package podgroup

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestTenantNamespace(t *testing.T) {
	long := strings.Repeat("Very Long Tenant Name ", 10)
	tenants := []string{"acme", "Acme", "ACME", "a.c.m.e", "acme ", "", "日本", long, long + "x", "-", "x--y"}
	seen := map[string]string{}
	for _, prefix := range []string{"flotilla", "f", strings.Repeat("p", 30)} {
		if err := CheckNamespacePrefix(prefix); err != nil {
			t.Fatal(err)
		}
		for _, tenant := range tenants {
			ns := TenantNamespace(prefix, tenant)
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				t.Errorf("TenantNamespace(%q, %q) = %q: not a DNS label: %v", prefix, tenant, ns, errs)
			}
			if ns != TenantNamespace(prefix, tenant) {
				t.Errorf("TenantNamespace(%q, %q) is not stable", prefix, tenant)
			}
			if !IsTenantNamespace(prefix, ns) {
				t.Errorf("IsTenantNamespace(%q, %q) = false", prefix, ns)
			}
			if other, dup := seen[ns]; dup {
				t.Errorf("tenants %q and %q share namespace %q", other, tenant, ns)
			}
			seen[ns] = tenant
		}
	}
	if got := TenantNamespace("flotilla", "acme"); !strings.HasPrefix(got, "flotilla-acme-") {
		t.Errorf("TenantNamespace(flotilla, acme) = %q; want it readable", got)
	}
	for _, bad := range []string{"", "Flotilla", "a_b", "-x", strings.Repeat("p", 31)} {
		if CheckNamespacePrefix(bad) == nil {
			t.Errorf("CheckNamespacePrefix(%q) accepted", bad)
		}
	}
}
