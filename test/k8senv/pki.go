package k8senv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki holds the file paths of the certificates and keys one control plane uses.
type pki struct {
	CACert, CAKey        string
	ServingCert, ServKey string
	AdminCert, AdminKey  string
	SAKey, SAPub         string
	caPEM, adminCertPEM  []byte
	adminKeyPEM          []byte
	caCertObj            *x509.Certificate
	caKeyObj             *ecdsa.PrivateKey
	notBefore, notAfter  time.Time
	serialCounter        int64
	dir                  string
}

// newPKI writes a CA, an API server serving certificate, an admin client
// certificate (group system:masters) and a service-account key pair into dir.
// ECDSA P-256 keeps generation in milliseconds.
func newPKI(dir string) (*pki, error) {
	p := &pki{dir: dir, notBefore: time.Now().Add(-time.Hour), notAfter: time.Now().Add(24 * time.Hour)}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "flotilla-test-ca"},
		NotBefore:             p.notBefore,
		NotAfter:              p.notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	p.caCertObj, err = x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p.caKeyObj = caKey
	p.serialCounter = 1
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if p.CACert, err = p.write("ca.crt", p.caPEM); err != nil {
		return nil, err
	}
	if p.CAKey, err = p.writeKey("ca.key", caKey); err != nil {
		return nil, err
	}

	servCert, servKey, err := p.issue(pkix.Name{CommonName: "kube-apiserver"}, x509.ExtKeyUsageServerAuth,
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")})
	if err != nil {
		return nil, err
	}
	if p.ServingCert, err = p.write("apiserver.crt", servCert); err != nil {
		return nil, err
	}
	if p.ServKey, err = p.write("apiserver.key", servKey); err != nil {
		return nil, err
	}

	p.adminCertPEM, p.adminKeyPEM, err = p.issue(pkix.Name{CommonName: "flotilla-admin", Organization: []string{"system:masters"}},
		x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		return nil, err
	}
	if p.AdminCert, err = p.write("admin.crt", p.adminCertPEM); err != nil {
		return nil, err
	}
	if p.AdminKey, err = p.write("admin.key", p.adminKeyPEM); err != nil {
		return nil, err
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if p.SAKey, err = p.writeKey("sa.key", saKey); err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	if p.SAPub, err = p.write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})); err != nil {
		return nil, err
	}
	return p, nil
}

// issue signs a leaf certificate with the CA and returns PEM cert and key.
func (p *pki) issue(subject pkix.Name, usage x509.ExtKeyUsage, dns []string, ips []net.IP) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	p.serialCounter++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serialCounter),
		Subject:      subject,
		NotBefore:    p.notBefore,
		NotAfter:     p.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCertObj, &key.PublicKey, p.caKeyObj)
	if err != nil {
		return nil, nil, fmt.Errorf("sign %s: %w", subject.CommonName, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

func (p *pki) writeKey(name string, key *ecdsa.PrivateKey) (string, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", err
	}
	return p.write(name, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}

func (p *pki) write(name string, data []byte) (string, error) {
	path := filepath.Join(p.dir, name)
	return path, os.WriteFile(path, data, 0o600)
}
