package hubtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// pinSep separates a bootstrap token from the pin of the hub's CA in the
// string an administrator hands to a new agent: "TOKEN@sha256:HEX".
const pinSep = "@"

// JoinToken appends a CA pin to a bootstrap token ("" pin: the token alone).
func JoinToken(token, pin string) string {
	if pin == "" {
		return token
	}
	return token + pinSep + pin
}

// SplitToken splits what JoinToken made into the token and the pin ("" when
// the string carries none).
func SplitToken(s string) (token, pin string, err error) {
	token, pin, found := strings.Cut(strings.TrimSpace(s), pinSep)
	if !found {
		return token, "", nil
	}
	if !strings.HasPrefix(pin, "sha256:") || len(pin) != len("sha256:")+64 {
		return "", "", fmt.Errorf("hubtls: CA pin %q: want sha256: and 64 hex digits", pin)
	}
	return token, pin, nil
}

// ErrPinMismatch means the server's chain holds no CA with the expected pin.
var ErrPinMismatch = errors.New("hubtls: the hub's certificate is not signed by the pinned CA")

// PinnedClient is the configuration of an agent's first contact with a
// hub whose CA it knows only by its pin (from the bootstrap token): the
// chain the server presents must hold a CA certificate with that pin that
// signed the server's certificate, valid for the host dialled. seen gets
// that CA certificate, to be kept and trusted from then on.
func PinnedClient(pin string, seen func(*x509.Certificate)) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain is verified below against the pinned CA instead of the
		// system roots, which do not hold it.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			fail := func(err error) error {
				return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
			}
			if len(cs.PeerCertificates) == 0 {
				return fail(ErrPinMismatch)
			}
			for _, c := range cs.PeerCertificates[1:] {
				if !c.IsCA || Pin(c) != pin {
					continue
				}
				roots := x509.NewCertPool()
				roots.AddCert(c)
				if _, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: cs.ServerName}); err != nil {
					return fail(fmt.Errorf("%w: %v", ErrPinMismatch, err))
				}
				if seen != nil {
					seen(c)
				}
				return nil
			}
			return fail(ErrPinMismatch)
		},
	}
}
