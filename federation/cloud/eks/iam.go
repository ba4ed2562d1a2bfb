package eks

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
)

// Trust policies and managed policies of the two roles.
var (
	trust = map[string]string{
		"cluster": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`,
		"node":    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`,
		// The agent's role, taken by its pod through EKS Pod Identity.
		"agent": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`,
	}
	managedPolicies = map[string][]string{
		"cluster": {"arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"},
		"node": {"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
			"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"},
	}
)

// createRole makes the cluster's or the nodes' role (or takes the one
// there from an interrupted run) and attaches its managed policies; it
// returns the role's name.
func (p *Provider) createRole(ctx context.Context, spec *cloud.Spec, role string) (string, error) {
	name := roleName(spec.Name, role)
	op := "creating IAM role " + name
	_, err := p.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust[role]),
		Description: aws.String("Flotilla " + role + " role of EKS cluster " + spec.Name),
		Tags:        []iamtypes.Tag{{Key: aws.String(cloud.LabelCloud), Value: aws.String(spec.Name)}}})
	if err != nil && !isCode(err, "EntityAlreadyExists") {
		return "", cloudError(op, err)
	}
	if role == "agent" {
		if _, err := p.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(agentPolicyName),
			PolicyDocument: aws.String(agentPolicy(spec.Name))}); err != nil {
			return "", cloudError("granting IAM role "+name+" the resize of node groups", err)
		}
	}
	for _, arn := range managedPolicies[role] {
		if _, err := p.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(arn)}); err != nil {
			return "", cloudError("attaching "+arn+" to IAM role "+name, err)
		}
	}
	return name, nil
}

// roleARN returns the ARN of a role.
func (p *Provider) roleARN(ctx context.Context, name string) (string, error) {
	out, err := p.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return "", cloudError("reading IAM role "+name, err)
	}
	return aws.ToString(out.Role.Arn), nil
}

// deleteRole detaches the role's policies and deletes it.
func (p *Provider) deleteRole(ctx context.Context, name string) error {
	op := "deleting IAM role " + name
	att, err := p.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return cloudError(op, err)
	}
	inline, err := p.iam.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(name)})
	if err != nil && !isNotFound(err) {
		return cloudError(op, err)
	}
	if inline != nil {
		for _, pn := range inline.PolicyNames {
			if _, err := p.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(pn)}); err != nil && !isNotFound(err) {
				return cloudError(op, err)
			}
		}
	}
	for _, pol := range att.AttachedPolicies {
		if _, err := p.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(name), PolicyArn: pol.PolicyArn}); err != nil && !isNotFound(err) {
			return cloudError(op, err)
		}
	}
	if _, err := p.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)}); err != nil && !isNotFound(err) {
		return cloudError(op, err)
	}
	return nil
}

// agentPolicyName is the agent role's inline policy.
const agentPolicyName = "flotilla-elastic-node-groups"

// agentPolicy lets the agent read and resize the cluster's node groups,
// nothing else.
func agentPolicy(cluster string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["eks:DescribeNodegroup","eks:UpdateNodegroupConfig"],` +
		`"Resource":"arn:aws:eks:*:*:nodegroup/` + cluster + `/*/*"}]}`
}
