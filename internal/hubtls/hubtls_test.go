package hubtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPinnedClient: an agent that knows the hub CA only by its pin
// accepts a hub whose chain carries that CA and refuses any other, and
// learns the CA for later.
func TestPinnedClient(t *testing.T) {
	ca, err := NewCA("hub", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	is, err := ca.Issue("hub0", []string{"127.0.0.1"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()

	get := func(cfg *tls.Config) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	var seen bool
	if err := get(PinnedClient(Pin(ca.Cert), func(c *x509.Certificate) { seen = c.Equal(ca.Cert) })); err != nil {
		t.Fatalf("right pin refused: %v", err)
	}
	if !seen {
		t.Errorf("the pinned CA was not handed over")
	}
	err = get(PinnedClient("sha256:"+strings.Repeat("ab", 32), nil))
	var cve *tls.CertificateVerificationError
	if !errors.As(err, &cve) || !errors.Is(err, ErrPinMismatch) {
		t.Errorf("wrong pin: %v; want a certificate verification error wrapping ErrPinMismatch", err)
	}
	other, _ := NewCA("other", time.Now(), time.Hour)
	if err := get(PinnedClient(Pin(other.Cert), nil)); !errors.Is(err, ErrPinMismatch) {
		t.Errorf("another CA's pin: %v", err)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	tc, err := ClientFromCAFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := get(tc); err != nil {
		t.Errorf("CA file: %v", err)
	}
}

// TestTokenPin: the pin travels with the bootstrap token and comes back
// out unchanged; malformed pins are refused.
func TestTokenPin(t *testing.T) {
	pin := "sha256:" + strings.Repeat("0f", 32)
	tok, got, err := SplitToken(JoinToken("flt-boot-abc", pin))
	if err != nil || tok != "flt-boot-abc" || got != pin {
		t.Fatalf("round trip: %q %q %v", tok, got, err)
	}
	if tok, got, err := SplitToken("flt-boot-abc"); err != nil || tok != "flt-boot-abc" || got != "" {
		t.Fatalf("no pin: %q %q %v", tok, got, err)
	}
	for _, bad := range []string{"t@md5:00", "t@sha256:zz", "t@sha256:" + strings.Repeat("0", 63)} {
		if _, _, err := SplitToken(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestLoadReplicaChecksPeerCA: a replica certificate another CA signed is
// refused at start, with a message naming the files.
func TestLoadReplicaChecksPeerCA(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"a", "b"} {
		if _, err := InitCA(filepath.Join(dir, sub), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	cert, key, err := IssueInDir(filepath.Join(dir, "b"), "hub0", []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadReplica(Files{CertFile: cert, KeyFile: key, ClientCAFile: filepath.Join(dir, "a", CACertFile)})
	if err == nil || !strings.Contains(err.Error(), "is not signed by the client CA") {
		t.Fatalf("err = %v", err)
	}
	r, err := LoadReplica(Files{CertFile: cert, KeyFile: key, ClientCAFile: filepath.Join(dir, "b", CACertFile)})
	if err != nil {
		t.Fatal(err)
	}
	if r.APIPin == "" {
		t.Errorf("no pin for a CA-signed API certificate")
	}
}
