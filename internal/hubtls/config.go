package hubtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
)

// Files names the PEM files of one replica's TLS material.
type Files struct {
	// CertFile and KeyFile are the API's serving certificate (chain) and
	// key. They are also the replica's identity towards its peers unless
	// PeerCertFile is given.
	CertFile, KeyFile string
	// ClientCAFile is the CA whose certificates identify replicas: raft
	// peers and callers of the internal endpoints must present one it
	// signed, and replicas verify each other's raft certificates against it.
	ClientCAFile string
	// PeerCertFile and PeerKeyFile, when set, are the replica's identity
	// towards its peers (raft, internal calls), for installs whose API
	// certificate comes from another CA (a public one).
	PeerCertFile, PeerKeyFile string
}

// Replica is one replica's loaded TLS material.
type Replica struct {
	// API is the serving certificate of the API; Peer the identity
	// towards other replicas.
	API, Peer tls.Certificate
	// PeerCAs verify replica certificates.
	PeerCAs *x509.CertPool
	// APIPin pins the CA that signed the API certificate ("" when neither
	// the chain nor the client CA file holds it, e.g. a public CA): agents
	// check it on first contact (see Pin).
	APIPin string

	peerCACerts []*x509.Certificate // what PeerCAs holds (a pool does not list them)
}

// LoadReplica reads a replica's TLS files and checks that they fit
// together: the keys match, and the peer identity is signed by the client CA.
func LoadReplica(f Files) (*Replica, error) {
	if f.CertFile == "" || f.KeyFile == "" || f.ClientCAFile == "" {
		return nil, errors.New("hubtls: a certificate, its key and the client CA are required")
	}
	api, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("hubtls: API certificate: %w", err)
	}
	cas, err := ReadCerts(f.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("hubtls: client CA: %w", err)
	}
	r := &Replica{API: api, Peer: api, PeerCAs: x509.NewCertPool(), peerCACerts: cas}
	for _, c := range cas {
		r.PeerCAs.AddCert(c)
	}
	if f.PeerCertFile != "" || f.PeerKeyFile != "" {
		if r.Peer, err = tls.LoadX509KeyPair(f.PeerCertFile, f.PeerKeyFile); err != nil {
			return nil, fmt.Errorf("hubtls: peer certificate: %w", err)
		}
	}
	peerLeaf, err := x509.ParseCertificate(r.Peer.Certificate[0])
	if err != nil {
		return nil, err
	}
	if _, err := peerLeaf.Verify(x509.VerifyOptions{Roots: r.PeerCAs, Intermediates: intermediates(r.Peer),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("hubtls: the peer certificate %s is not signed by the client CA %s for server and client use: %w",
			orAPI(f.PeerCertFile, f.CertFile), f.ClientCAFile, err)
	}
	r.APIPin = apiPin(r.API, cas)
	return r, nil
}

func orAPI(peer, api string) string {
	if peer != "" {
		return peer
	}
	return api
}

// apiPin finds the CA that signed the API certificate, in its chain or
// among the client CAs, and pins it.
func apiPin(api tls.Certificate, cas []*x509.Certificate) string {
	leaf, err := x509.ParseCertificate(api.Certificate[0])
	if err != nil {
		return ""
	}
	var candidates []*x509.Certificate
	for _, der := range api.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil && c.IsCA {
			candidates = append(candidates, c)
		}
	}
	candidates = append(candidates, cas...)
	for _, c := range candidates {
		if leaf.CheckSignatureFrom(c) == nil {
			return Pin(c)
		}
	}
	return ""
}

func intermediates(c tls.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, der := range c.Certificate[1:] {
		if x, err := x509.ParseCertificate(der); err == nil {
			p.AddCert(x)
		}
	}
	return p
}

// APIServer is the API's server configuration: TLS 1.2 or later, HTTP/2,
// and client certificates verified when given (replicas calling the
// internal endpoints present theirs; people and agents use keys).
func (r *Replica) APIServer() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{r.API},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    r.PeerCAs,
		NextProtos:   []string{"h2", "http/1.1"},
	}
}

// PeerClient is the configuration of a replica's calls to another
// replica's API: it presents the replica's identity and trusts the client
// CA as well as the system's roots (another replica's API certificate may
// come from a public CA).
func (r *Replica) PeerClient() *tls.Config {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	roots = roots.Clone()
	for _, c := range r.peerCACerts {
		roots.AddCert(c)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{r.Peer},
		RootCAs:      roots,
	}
}

// RaftServer and RaftClient are the two sides of raft's mutual TLS: TLS
// 1.3 only, each side presents its replica certificate and verifies the
// other's against the client CA.
func (r *Replica) RaftServer() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{r.Peer},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    r.PeerCAs,
	}
}

// RaftClient: see RaftServer. The caller sets ServerName per peer.
func (r *Replica) RaftClient() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{r.Peer},
		RootCAs:      r.PeerCAs,
	}
}

// IsPeer reports whether a connection's client presented a certificate
// that verified against the client CA (the server's configuration verified
// it during the handshake).
func IsPeer(cs *tls.ConnectionState) bool {
	return cs != nil && len(cs.VerifiedChains) > 0
}

// ServerNameOf returns the host part of addr, the name a peer's
// certificate must carry.
func ServerNameOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// ClientFromCAFile is a client configuration that trusts the CAs in
// caFile (and nothing else).
func ClientFromCAFile(caFile string) (*tls.Config, error) {
	certs, err := ReadCerts(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	// No NextProtos: an http.Transport adds h2 itself when it can speak it
	// (ForceAttemptHTTP2); announcing it here would break one that cannot.
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}
