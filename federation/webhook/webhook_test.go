package webhook

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range f[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	allow, err := ParseAllowList([]string{"hooks.example.com", "*.svc.example.org", "10.1.0.0/16", "127.0.0.1/32", "169.254.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	dns := fakeResolver{
		"hooks.example.com":       {"203.0.113.7"},
		"a.svc.example.org":       {"198.51.100.2"},
		"rebind.example.com":      {"127.0.0.1"},
		"internal.example.net":    {"10.1.2.3"},
		"mixed.example.net":       {"10.1.2.3", "10.2.0.1"},
		"meta.svc.example.org":    {"169.254.169.254"},
		"private.svc.example.org": {"192.168.1.1"},
	}
	tests := map[string]bool{ // url → allowed
		"https://hooks.example.com/x":      true,
		"https://a.svc.example.org:8443/x": true,
		"http://10.1.9.9/x":                true,
		"http://internal.example.net/x":    true,  // every address in a listed CIDR
		"http://127.0.0.1:9000/x":          true,  // loopback named by a CIDR
		"http://mixed.example.net/x":       false, // one address outside
		"http://rebind.example.com/x":      true,  // every address in a listed CIDR (loopback listed explicitly)
		"http://169.254.169.254/latest":    false, // metadata though a CIDR names it
		"http://meta.svc.example.org/":     false, // a listed name resolving to metadata
		"http://private.svc.example.org/":  false, // a listed name resolving to a private address not listed
		"http://[fe80::1]/":                false,
		"http://[::1]/":                    false,
		"http://127.0.0.2/":                false,
		"http://0.0.0.0/":                  false,
		"http://nowhere.example.com/":      false,
		"ftp://hooks.example.com/":         false,
		"https://u:p@hooks.example.com/":   false,
		"hooks.example.com/x":              false,
	}
	for u, want := range tests {
		err := allow.CheckURL(context.Background(), dns, u)
		if (err == nil) != want {
			t.Errorf("%s: %v, want allowed=%v", u, err, want)
		}
		if err != nil && !errors.Is(err, structs.ErrInvalid) {
			t.Errorf("%s: %v is not ErrInvalid", u, err)
		}
	}
	if _, err := ParseAllowList([]string{"http://x/"}); err == nil {
		t.Error("a URL as an allow-list entry was accepted")
	}
}

func TestControlAtDial(t *testing.T) {
	allow, _ := ParseAllowList([]string{"hooks.example.com", "127.0.0.1/32"})
	for addr, want := range map[string]bool{
		"203.0.113.7:443": true, "127.0.0.1:80": true, "127.0.0.2:80": false, "[::1]:80": false,
		"169.254.169.254:80": false, "[fe80::1]:80": false, "10.0.0.1:80": false, "[::ffff:169.254.169.254]:80": false,
	} {
		if err := allow.Control("tcp", addr, nil); (err == nil) != want {
			t.Errorf("dial %s: %v, want allowed=%v", addr, err, want)
		}
	}
}

func TestSignVerify(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"event":{}}`)
	now := time.Unix(1_800_000_000, 0)
	sig := Sign(secret, now, body)
	if err := Verify(secret, sig, body, now.Add(time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	if err := Verify(secret, sig+",v1=00", body, now, 0); err != nil {
		t.Errorf("an extra v1 entry: %v", err)
	}
	for name, tc := range map[string]struct {
		sig  string
		body []byte
		at   time.Time
		want error
	}{
		"tampered":  {sig, []byte(`{"event":{"x":1}}`), now, ErrBadSignature},
		"stale":     {sig, body, now.Add(6 * time.Minute), ErrStale},
		"future":    {sig, body, now.Add(-6 * time.Minute), ErrStale},
		"garbage":   {"hello", body, now, ErrNoSignature},
		"other key": {Sign([]byte("other"), now, body), body, now, ErrBadSignature},
	} {
		if err := Verify(secret, tc.sig, tc.body, tc.at, 0); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if OwnerSecret("k", "alice") == OwnerSecret("k", "bob") || OwnerSecret("k", "alice") != OwnerSecret("k", "alice") {
		t.Error("owner secrets are not per owner")
	}
}

func TestBackoff(t *testing.T) {
	got := []time.Duration{}
	for n := 1; n <= 6; n++ {
		got = append(got, Backoff(n, time.Second, 10*time.Second))
	}
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoff %v, want %v (seconds)", got, want)
		}
	}
}

// TestSignDuringRotation: in a signing key rotation's grace period a call
// carries one v1 signature per secret under one timestamp, and a receiver
// holding either secret accepts it; one holding neither refuses it.
func TestSignDuringRotation(t *testing.T) {
	newSecret, oldSecret, body := []byte("new-secret"), []byte("old-secret"), []byte(`{"event":{}}`)
	now := time.Unix(1_800_000_000, 0)
	sig := Sign(newSecret, now, body, oldSecret)
	if n := strings.Count(sig, ",v1="); n != 2 || !strings.HasPrefix(sig, "t=1800000000,v1=") {
		t.Fatalf("header %q: want one timestamp and two v1 signatures", sig)
	}
	if !strings.HasPrefix(sig, Sign(newSecret, now, body)+",v1=") {
		t.Errorf("header %q: the new key's signature comes first", sig)
	}
	for name, secret := range map[string][]byte{"new": newSecret, "old": oldSecret} {
		if err := Verify(secret, sig, body, now, 0); err != nil {
			t.Errorf("receiver with the %s secret: %v", name, err)
		}
	}
	if err := Verify([]byte("other"), sig, body, now, 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("receiver with another secret: %v", err)
	}
}
