package source

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/client"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Spec configures a source (the hub's configured list, the CLI's SOURCE
// argument): Source is a directory (DIR or dir:DIR), images:REF[,REF...]
// or hub:URL; a hub source reads its API key from KeyFile (never from
// the configuration itself).
type Spec struct {
	Source     string             `json:"source"`
	KeyFile    string             `json:"key_file,omitempty"`
	Visibility structs.Visibility `json:"visibility,omitempty"` // of bare AppDefs (default public)
	ID         string             `json:"id,omitempty"`         // names an images: list
	Insecure   bool               `json:"insecure,omitempty"`   // plain HTTP to registries beyond loopback
	// CA is the upstream hub's CA file (PEM), for a hub with a private CA.
	CA string `json:"ca_file,omitempty"`
}

// Open makes the Source a Spec describes.
func (s Spec) Open() (Source, error) {
	kind, rest, _ := strings.Cut(s.Source, ":")
	switch kind {
	case "images", "image":
		if rest == "" {
			return nil, fmt.Errorf("%s: no image references", s.Source)
		}
		return &Images{ID: s.ID, Refs: strings.Split(rest, ","), Visibility: s.Visibility, Insecure: s.Insecure}, nil
	case "hub":
		if s.KeyFile == "" {
			return nil, fmt.Errorf("hub source %s: a key file is required", rest)
		}
		key, err := os.ReadFile(s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("hub source %s: %w", rest, err)
		}
		var opts []client.Option
		if s.CA != "" {
			pem, err := os.ReadFile(s.CA)
			if err != nil {
				return nil, fmt.Errorf("hub source %s: %w", rest, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("hub source %s: %s holds no PEM certificate", rest, s.CA)
			}
			opts = append(opts, client.WithTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
		}
		up, err := client.New([]string{rest}, strings.TrimSpace(string(key)), opts...)
		if err != nil {
			return nil, fmt.Errorf("hub source %s: %w", rest, err)
		}
		return &Hub{URL: rest, Client: up}, nil
	}
	dir := s.Source
	if kind == "dir" {
		dir = rest
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, errors.Join(fmt.Errorf("%s: not a directory, images:REF or hub:URL", s.Source), err)
	}
	return &Dir{Path: dir, Visibility: s.Visibility}, nil
}
