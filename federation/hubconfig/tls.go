package hubconfig

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// TLS settings (see Settings): without them the replica serves plain HTTP
// and plain raft, which -insecure-http allows on loopback addresses only.

// tlsOn reports whether TLS files are configured.
func (s *Settings) tlsOn() bool { return s.TLSCert != "" || s.TLSKey != "" || s.ClientCA != "" }

// checkTLS checks the TLS settings and makes every API address use the
// scheme they imply: https with TLS (an http:// address is read as
// https://), http without.
func (s *Settings) checkTLS() error {
	switch {
	case s.tlsOn() && s.InsecureHTTP:
		return errors.New("-insecure-http and -tls-cert/-tls-key/-client-ca exclude each other")
	case s.tlsOn() && (s.TLSCert == "" || s.TLSKey == "" || s.ClientCA == ""):
		return errors.New("TLS needs all of -tls-cert, -tls-key and -client-ca (make them with `flotilla-hub certs`)")
	case (s.PeerCert == "") != (s.PeerKey == ""):
		return errors.New("-peer-cert and -peer-key go together")
	case s.PeerCert != "" && !s.tlsOn():
		return errors.New("-peer-cert needs -tls-cert, -tls-key and -client-ca")
	case !s.tlsOn() && !s.InsecureHTTP:
		return errors.New("TLS is required: give -tls-cert, -tls-key and -client-ca (make them with " +
			"`flotilla-hub certs`), or -insecure-http for development on loopback addresses only")
	}
	if s.InsecureHTTP {
		for what, addr := range map[string]string{"http addr": s.HTTPAddr, "raft bind": s.RaftBind,
			"raft advertise": s.RaftAdvertise, "api advertise": hostPortOf(s.APIAdvertise)} {
			if !isLoopback(addr) {
				return fmt.Errorf("-insecure-http serves plaintext on loopback addresses only; %s %q is not one", what, addr)
			}
		}
	}
	scheme := "http://"
	if s.tlsOn() {
		scheme = "https://"
	}
	fix := func(u string) (string, error) {
		if u == "" {
			return u, nil
		}
		rest, ok := strings.CutPrefix(u, "http://")
		if !ok {
			rest, ok = strings.CutPrefix(u, "https://")
		}
		if !ok {
			return "", fmt.Errorf("%q: want http(s)://host:port", u)
		}
		if !s.tlsOn() && strings.HasPrefix(u, "https://") {
			return "", fmt.Errorf("%q: https needs -tls-cert, -tls-key and -client-ca", u)
		}
		return scheme + rest, nil
	}
	var err error
	if s.APIAdvertise, err = fix(s.APIAdvertise); err != nil {
		return err
	}
	if s.Join, err = fix(s.Join); err != nil {
		return err
	}
	for i := range s.Bootstrap.Peers {
		if s.Bootstrap.Peers[i].API, err = fix(s.Bootstrap.Peers[i].API); err != nil {
			return err
		}
	}
	return nil
}

// loadTLS reads the TLS material the settings name (nil without TLS).
func (s *Settings) loadTLS() (*hubtls.Replica, error) {
	if !s.tlsOn() {
		return nil, nil
	}
	return hubtls.LoadReplica(hubtls.Files{CertFile: s.TLSCert, KeyFile: s.TLSKey, ClientCAFile: s.ClientCA,
		PeerCertFile: s.PeerCert, PeerKeyFile: s.PeerKey})
}

func hostPortOf(u string) string {
	if _, rest, ok := strings.Cut(u, "://"); ok {
		return strings.TrimRight(rest, "/")
	}
	return u
}

// isLoopback reports whether host:port names a loopback address.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
