// Package hubtls holds the TLS material of a hub: a small certificate
// authority for the replicas (and the API of a small install), the
// certificates it issues, the TLS configurations of the API server, of
// raft's mutual-TLS transport and of the replicas' calls to each other,
// and the CA pin an agent checks on first contact (as kubeadm's discovery
// hash does). A real install may bring its own PKI instead: everything
// here reads PEM files.
package hubtls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Validity of what NewCA and Issue make unless told otherwise.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultCertValidity = 2 * 365 * 24 * time.Hour
)

// CA is a certificate authority: its certificate and signing key.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA makes a self-signed ECDSA P-256 CA valid from now for validity.
func NewCA(commonName string, now time.Time, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"Flotilla"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issued is a certificate and its key in PEM, with the issuing CA's
// certificate appended to the chain (so a TLS server sends it and an
// agent can pin it on first contact).
type Issued struct {
	CertPEM, KeyPEM []byte
}

// Issue makes a certificate for name, valid for TLS server and client
// authentication, with hosts (IP addresses and DNS names) as subject
// alternative names.
func (ca *CA) Issue(name string, hosts []string, now time.Time, validity time.Duration) (*Issued, error) {
	if name == "" {
		return nil, errors.New("hubtls: a certificate needs a name")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"Flotilla"}},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		switch ip := net.ParseIP(h); {
		case h == "":
		case ip != nil:
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		default:
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if ca.Cert.NotAfter.Before(tmpl.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca.CertPEM()...)
	return &Issued{CertPEM: chain, KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})}, nil
}

// CertPEM is the CA certificate in PEM.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// KeyPEM is the CA key in PEM (PKCS #8).
func (ca *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Names of the CA's files in a certificate directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// WriteCA writes the CA's certificate and key into dir; it refuses to
// overwrite an existing CA.
func (ca *CA) WriteCA(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, CAKeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return writeNew(filepath.Join(dir, CACertFile), ca.CertPEM(), 0o644)
}

// LoadCA reads the CA written by WriteCA from dir.
func LoadCA(dir string) (*CA, error) {
	certs, err := ReadCerts(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("hubtls: %s: no PEM block", CAKeyFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("hubtls: %s: %w", CAKeyFile, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("hubtls: %s: not a signing key", CAKeyFile)
	}
	return &CA{Cert: certs[0], Key: signer}, nil
}

// Write writes name.crt and name.key into dir.
func (is *Issued) Write(dir, name string) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(keyFile, is.KeyPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(certFile, is.CertPEM, 0o644); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// ReadCerts reads every certificate of a PEM file.
func ReadCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := ParseCerts(b)
	if err != nil {
		return nil, fmt.Errorf("hubtls: %s: %w", path, err)
	}
	return certs, nil
}

// ParseCerts parses every certificate of PEM data.
func ParseCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate")
	}
	return out, nil
}

// Pin is the pin of a CA certificate: "sha256:" and the hex SHA-256 of its
// subject public key info, the form kubeadm's discovery hash uses.
func Pin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("hubtls: %s exists; not overwriting a CA", path)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// InitCA makes a new CA in dir (ca.crt, ca.key), for `flotilla-hub certs ca`.
func InitCA(dir string, now time.Time) (*CA, error) {
	ca, err := NewCA("Flotilla hub CA", now, DefaultCAValidity)
	if err != nil {
		return nil, err
	}
	return ca, ca.WriteCA(dir)
}

// IssueInDir issues name.crt and name.key in dir from the CA in dir, for
// `flotilla-hub certs issue`.
func IssueInDir(dir, name string, hosts []string, now time.Time) (certFile, keyFile string, err error) {
	ca, err := LoadCA(dir)
	if err != nil {
		return "", "", err
	}
	is, err := ca.Issue(name, hosts, now, DefaultCertValidity)
	if err != nil {
		return "", "", err
	}
	return is.Write(dir, name)
}
