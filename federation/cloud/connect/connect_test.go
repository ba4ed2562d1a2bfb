package connect

import (
	"context"
	"errors"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestGooglePlaintextEndpoints: the IAM and Resource Manager endpoints of
// GKE carry access tokens, so http:// is refused unless on loopback.
func TestGooglePlaintextEndpoints(t *testing.T) {
	cases := map[string]Options{
		"iam":              {IAMEndpoint: "http://iam.example.com"},
		"resource manager": {ResourceManagerEndpoint: "http://10.0.0.1:8080/"},
	}
	for name, o := range cases {
		o.Provider, o.Region = structs.CloudGKE, "us-central1"
		if _, _, err := Provider(context.Background(), o); !errors.Is(err, ErrPlaintext) {
			t.Errorf("%s: %v, want ErrPlaintext", name, err)
		}
	}
}
