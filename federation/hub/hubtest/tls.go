package hubtest

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/raftnode"
	"github.com/flotilla-hpc/flotilla/internal/hubtls"
)

// scheme is the replicas' URL scheme.
func (c *Cluster) scheme() string {
	if c.opts.TLS {
		return "https"
	}
	return "http"
}

// issue makes the cluster's CA on first use (under dir/pki) and a
// certificate for replica id on the loopback address, signed by it, and
// loads it as flotilla-hub loads -tls-cert, -tls-key and -client-ca.
func (c *Cluster) issue(id raftnode.ServerID) (*hubtls.Replica, error) {
	pki := filepath.Join(c.dir, "pki")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.CAFile == "" {
		if err := os.MkdirAll(c.dir, 0o700); err != nil {
			return nil, err
		}
		if _, err := hubtls.InitCA(pki, time.Now()); err != nil {
			return nil, fmt.Errorf("hub test cluster CA: %w", err)
		}
		c.CAFile = filepath.Join(pki, hubtls.CACertFile)
	}
	cert, key, err := hubtls.IssueInDir(pki, string(id), []string{"127.0.0.1", "localhost"}, time.Now())
	if err != nil {
		return nil, fmt.Errorf("certificate of %s: %w", id, err)
	}
	return hubtls.LoadReplica(hubtls.Files{CertFile: cert, KeyFile: key, ClientCAFile: c.CAFile})
}

// ClientTLS is a client configuration trusting the cluster's CA (nil
// without Options.TLS).
func (c *Cluster) ClientTLS() (*tls.Config, error) {
	if c.CAFile == "" {
		return nil, nil
	}
	return hubtls.ClientFromCAFile(c.CAFile)
}
