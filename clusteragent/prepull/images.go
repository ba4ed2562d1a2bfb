package prepull

import (
	"context"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/flotilla-hpc/flotilla/catalog-sync/source"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Platforms reads an image's platforms from its registry
// (source.Platforms): with pullSecret's credentials (a docker config
// JSON, the app's pull credential) when given, else with the Docker
// config of the agent's environment, if any; loopback registries may be
// plain HTTP.
func Platforms(ctx context.Context, ref, pullSecret string) ([]string, error) {
	opts := []source.Option{}
	if pullSecret != "" {
		opts = append(opts, source.WithDockerConfig(pullSecret))
	}
	return source.Platforms(ctx, ref, append(opts, source.WithKeychain(authn.DefaultKeychain))...)
}

// imageCredentials gives each image the pull credential it is read and
// pulled with: that of the first app (by name) with the image and a
// credential. Apps sharing an image share its pull.
func imageCredentials(apps []structs.AgentApp) map[string]string {
	out := map[string]string{}
	byName := slices.Clone(apps)
	slices.SortFunc(byName, func(a, b structs.AgentApp) int { return strings.Compare(a.Name, b.Name) })
	for _, a := range byName {
		if _, ok := out[a.Image]; !ok && a.PullSecret != "" {
			out[a.Image] = a.PullSecret
		}
	}
	return out
}
