// Package connect builds a cloud.Provider from its cloud's default
// credentials — the AWS SDK's chain (environment, shared files, SSO, EKS
// Pod Identity or IRSA, IMDS) or Google's application default credentials
// (a key file, GKE Workload Identity, the metadata server) — for the
// `flotilla cloud` commands and for the agent's elastic node groups. It
// also adapts a provider's resize calls to what the agent's elastic loop
// asks of its node groups (NodeGroups).
package connect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"github.com/aws/aws-sdk-go-v2/config"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
	"github.com/flotilla-hpc/flotilla/federation/cloud/eks"
	"github.com/flotilla-hpc/flotilla/federation/cloud/gke"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Options say which cloud and where.
type Options struct {
	Provider structs.CloudProvider
	Region   string
	// Subnets of an EKS cluster (only `up` needs them).
	Subnets []string
	// Endpoint is the cloud API's base URL instead of the public one (a
	// private endpoint; http:// only on loopback).
	Endpoint string
	// IAMEndpoint and ResourceManagerEndpoint are the base URLs of
	// Google's IAM and Resource Manager REST APIs instead of the public
	// ones (GKE; `up` and `down` call them for the agent's access).
	IAMEndpoint, ResourceManagerEndpoint string
	// PollInterval of the waits (0: the provider's default).
	PollInterval time.Duration
}

// ErrPlaintext is returned for an http:// endpoint that is not on loopback.
var ErrPlaintext = errors.New("plaintext endpoint only on loopback")

// Provider returns the provider with the default credentials of its cloud
// and a function that releases its connections.
func Provider(ctx context.Context, o Options) (cloud.Provider, func(), error) {
	switch o.Provider {
	case structs.CloudEKS:
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(o.Region))
		if err != nil {
			return nil, nil, fmt.Errorf("AWS credentials: %w", err)
		}
		return eks.New(cfg, eks.Options{Subnets: o.Subnets, Endpoint: o.Endpoint, PollInterval: o.PollInterval}), func() {}, nil
	case structs.CloudGKE:
		for _, u := range []string{o.IAMEndpoint, o.ResourceManagerEndpoint} {
			if host, plain := strings.CutPrefix(u, "http://"); plain && !loopback(strings.TrimSuffix(host, "/")) {
				return nil, nil, fmt.Errorf("endpoint %s: %w", u, ErrPlaintext)
			}
		}
		creds, err := google.FindDefaultCredentials(ctx, "https://www.googleapis.com/auth/cloud-platform")
		if err != nil {
			return nil, nil, fmt.Errorf("Google application default credentials: %w", err)
		}
		opts := []option.ClientOption{option.WithTokenSource(creds.TokenSource)}
		if o.Endpoint != "" {
			host, plain := strings.CutPrefix(o.Endpoint, "http://")
			host = strings.TrimPrefix(host, "https://")
			opts = []option.ClientOption{option.WithEndpoint(host), option.WithTokenSource(creds.TokenSource)}
			if plain {
				if !loopback(host) {
					return nil, nil, fmt.Errorf("endpoint %s: %w", o.Endpoint, ErrPlaintext)
				}
				opts = []option.ClientOption{option.WithEndpoint(host), option.WithoutAuthentication(),
					option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))}
			}
		}
		cm, err := container.NewClusterManagerClient(ctx, opts...)
		if err != nil {
			return nil, nil, err
		}
		return gke.New(cm, creds.TokenSource, gke.Options{PollInterval: o.PollInterval, IAMURL: o.IAMEndpoint,
			ResourceManagerURL: o.ResourceManagerEndpoint}), func() { _ = cm.Close() }, nil
	}
	return nil, nil, fmt.Errorf("provider %q: want eks or gke", o.Provider)
}

func loopback(host string) bool {
	h := host
	if i := strings.LastIndex(host, ":"); i >= 0 {
		h = host[:i]
	}
	return h == "127.0.0.1" || h == "localhost" || h == "[::1]"
}
