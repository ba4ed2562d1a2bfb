package prepull

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Platforms reads an image's platforms from its registry: the entries of
// its index (multi-platform image), or its config's os/arch (single
// platform). Credentials come from the Docker config of the agent's
// environment, if any; loopback registries may be plain HTTP.
func Platforms(ctx context.Context, ref string) ([]string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return nil, err
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return nil, err
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
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
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
