package localnode

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
)

// kubeletServer is the kubelet API of every node in the process (they share
// one port): the API server fetches logs from it for `kubectl logs`.
type kubeletServer struct {
	providers func() []*provider
	srv       *http.Server
	ln        net.Listener
}

// listenKubelet serves the kubelet API on addr over TLS with a certificate
// made at start. With clientCA set, clients must present a certificate it
// signed (the API server's --kubelet-client-certificate); without, the
// address must be a loopback one.
func listenKubelet(addr, clientCA string, now time.Time, providers func() []*provider) (*kubeletServer, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); clientCA == "" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("kubelet API on %s without a client CA: only a loopback address may go without client certificates", addr)
	}
	cert, err := selfSigned(host, now)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA %s holds no PEM certificate", clientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	ln, err := tls.Listen("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	k := &kubeletServer{providers: providers, ln: ln}
	k.srv = &http.Server{
		Handler: api.PodHandler(api.PodHandlerConfig{
			GetContainerLogs:      k.logs,
			GetPods:               k.pods,
			GetPodsFromKubernetes: k.pods,
			RunInContainer: func(context.Context, string, string, string, []string, api.AttachIO) error {
				return errdefs.InvalidInput("exec is not served by local nodes")
			},
		}, false),
		ReadHeaderTimeout: 30 * time.Second,
	}
	go k.srv.Serve(ln)
	return k, nil
}

// Port is the port the API listens on.
func (k *kubeletServer) Port() int { return k.ln.Addr().(*net.TCPAddr).Port }

func (k *kubeletServer) Close() error { return k.srv.Close() }

func (k *kubeletServer) logs(ctx context.Context, ns, pod, container string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	for _, p := range k.providers() {
		rc, err := p.GetContainerLogs(ctx, ns, pod, container, opts)
		if err == nil || !errdefs.IsNotFound(err) {
			return rc, err
		}
	}
	return nil, errdefs.NotFoundf("pod %s/%s is not on these nodes", ns, pod)
}

func (k *kubeletServer) pods(ctx context.Context) ([]*corev1.Pod, error) {
	var all []*corev1.Pod
	for _, p := range k.providers() {
		ps, err := p.GetPods(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, ps...)
	}
	return all, nil
}

// selfSigned makes a serving certificate for host, valid from now for a year.
func selfSigned(host string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "flotilla-localnode"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else if host != "" {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

var errNoNodes = errors.New("no nodes to run")
