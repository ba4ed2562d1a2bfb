package structs

import (
	"errors"
	"strings"
	"testing"
)

func TestVaultClaimName(t *testing.T) {
	ok := []string{"", "data", "data-a", "a.b-c.d9", strings.Repeat("a", 63)}
	bad := []string{"Data", "../x", "ns/claim", "-x", "x-", "a..b", "x_y", " x", strings.Repeat("a", 64), strings.Repeat("a.", 127) + "ab"}
	for _, c := range ok {
		v := &Vault{Tenant: "acme", Name: "v", Kind: VaultFile, AccessMode: AccessRWX, ClaimName: c}
		if err := v.Validate(); err != nil {
			t.Errorf("claim %q refused: %v", c, err)
		}
	}
	for _, c := range bad {
		v := &Vault{Tenant: "acme", Name: "v", Kind: VaultFile, AccessMode: AccessRWX, ClaimName: c}
		if err := v.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("claim %q: %v, want ErrInvalid", c, err)
		}
	}
}
