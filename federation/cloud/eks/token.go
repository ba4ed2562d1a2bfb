package eks

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Token prefix and the header that binds a token to one cluster, as the
// EKS authenticator (aws-iam-authenticator) reads them.
const (
	TokenPrefix     = "k8s-aws-v1."
	ClusterIDHeader = "x-k8s-aws-id"
)

// Token returns a bearer token for the cluster: "k8s-aws-v1." and the
// base64url (unpadded) of a presigned STS GetCallerIdentity URL that signs
// the x-k8s-aws-id header naming the cluster. The API server's
// authenticator calls that URL to learn who the caller is.
func (p *Provider) Token(ctx context.Context, cluster string) (string, error) {
	ps := sts.NewPresignClient(p.sts)
	req, err := ps.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, func(so *sts.Options) {
			so.APIOptions = append(so.APIOptions, smithyhttp.AddHeaderValue(ClusterIDHeader, cluster))
		})
	})
	if err != nil {
		return "", fmt.Errorf("presigning the token of EKS cluster %s: %w", cluster, err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(req.URL)), nil
}
