package source

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Option adjusts how an image is read from its registry.
type Option struct {
	insecure bool
	keychain authn.Keychain
}

// Insecure allows plain HTTP to a registry other than loopback.
func Insecure() Option { return Option{insecure: true} }

// WithKeychain reads with the credentials kc gives (e.g.
// authn.DefaultKeychain: the Docker config of the environment). Without
// a keychain or docker config the registry is read anonymously. Several
// credential options are tried in the order given.
func WithKeychain(kc authn.Keychain) Option { return Option{keychain: kc} }

// WithDockerConfig reads with the credentials of a docker config JSON
// (`{"auths": {"registry.example": {"auth": "base64(user:pass)"}}}`, the
// content of a kubernetes.io/dockerconfigjson Secret). A document that
// does not parse gives no credentials.
func WithDockerConfig(doc string) Option {
	return Option{keychain: dockerConfigKeychain(doc)}
}

// remoteRef parses ref and makes the remote options opts ask for.
func remoteRef(ctx context.Context, ref string, opts []Option) (name.Reference, []remote.Option, error) {
	var nopts []name.Option
	var kcs []authn.Keychain
	for _, o := range opts {
		if o.insecure {
			nopts = append(nopts, name.Insecure)
		}
		if o.keychain != nil {
			kcs = append(kcs, o.keychain)
		}
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, nil, fmt.Errorf("image %q: %w", ref, err)
	}
	return r, []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.NewMultiKeychain(kcs...))}, nil
}

// Platforms reads the platforms ("os/arch" or "os/arch/variant") an
// image runs on from its registry: the entries of its index (a
// multi-platform image; attestation entries, "unknown/unknown", are
// skipped), or its config's own. The list is sorted and without
// duplicates; an image naming no platform is an error. The hub's catalog
// and the agents' pre-pull (clusteragent/prepull) both read platforms
// with it.
func Platforms(ctx context.Context, ref string, opts ...Option) ([]string, error) {
	r, ropts, err := remoteRef(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", ref, err)
		}
		var out []string
		for _, d := range m.Manifests {
			if p := platformText(d.Platform); p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("index of %s names no platform", ref)
		}
		slices.Sort(out)
		return out, nil
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", ref, err)
	}
	p := platformText(&v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant})
	if p == "" {
		return nil, fmt.Errorf("config of %s names no platform", ref)
	}
	return []string{p}, nil
}

// platformText is "os/arch" or "os/arch/variant"; "" for none and for
// attestation manifests ("unknown/unknown").
func platformText(p *v1.Platform) string {
	if p == nil || p.Architecture == "" || p.Architecture == "unknown" {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// configKeychain answers with the entry of a docker config for the
// registry asked about.
type configKeychain map[string]authn.AuthConfig

func dockerConfigKeychain(doc string) configKeychain {
	var cfg struct {
		Auths map[string]authn.AuthConfig `json:"auths"`
	}
	if json.Unmarshal([]byte(doc), &cfg) != nil {
		return nil
	}
	out := configKeychain{}
	for host, a := range cfg.Auths {
		out[RegistryHost(host)] = a
	}
	return out
}

func (k configKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if a, ok := k[RegistryHost(r.RegistryStr())]; ok {
		return authn.FromConfig(a), nil
	}
	return authn.Anonymous, nil
}

// RegistryHost is the registry host a docker config key names:
// "https://index.docker.io/v1/" → "index.docker.io"; Docker Hub's
// other names give "index.docker.io" too.
func RegistryHost(key string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	if i := strings.IndexByte(h, '/'); i >= 0 {
		h = h[:i]
	}
	switch h = strings.ToLower(h); h {
	case "docker.io", "registry-1.docker.io":
		return name.DefaultRegistry
	}
	return h
}
