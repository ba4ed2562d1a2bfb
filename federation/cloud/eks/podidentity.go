package eks

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
)

// createAgentIdentity associates the agent's ServiceAccount with its IAM
// role (EKS Pod Identity), so the agent's default credentials may resize
// the elastic node groups; it returns the association's ID. An
// association left by an interrupted run is taken.
func (p *Provider) createAgentIdentity(ctx context.Context, spec *cloud.Spec) (string, error) {
	op := "associating the agent's ServiceAccount with IAM role " + roleName(spec.Name, "agent")
	arn, err := p.roleARN(ctx, roleName(spec.Name, "agent"))
	if err != nil {
		return "", err
	}
	out, err := p.eks.CreatePodIdentityAssociation(ctx, &awseks.CreatePodIdentityAssociationInput{ClusterName: aws.String(spec.Name),
		Namespace: aws.String(cloud.AgentNamespace), ServiceAccount: aws.String(cloud.AgentName), RoleArn: aws.String(arn),
		Tags: map[string]string{cloud.LabelCloud: spec.Name}})
	if err == nil {
		return aws.ToString(out.Association.AssociationId), nil
	}
	if !isCode(err, "ResourceInUseException") {
		return "", cloudError(op, err)
	}
	list, lerr := p.eks.ListPodIdentityAssociations(ctx, &awseks.ListPodIdentityAssociationsInput{ClusterName: aws.String(spec.Name),
		Namespace: aws.String(cloud.AgentNamespace), ServiceAccount: aws.String(cloud.AgentName)})
	if lerr != nil || len(list.Associations) == 0 {
		return "", cloudError(op, err)
	}
	return aws.ToString(list.Associations[0].AssociationId), nil
}

// deleteAgentIdentity removes the association; one already gone is not
// an error.
func (p *Provider) deleteAgentIdentity(ctx context.Context, cluster, id string) error {
	_, err := p.eks.DeletePodIdentityAssociation(ctx, &awseks.DeletePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		AssociationId: aws.String(id)})
	if err != nil && !isNotFound(err) {
		return cloudError("deleting the agent's pod identity association "+id, err)
	}
	return nil
}
