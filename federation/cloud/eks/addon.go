package eks

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
)

// PodIdentityAddon is the EKS add-on that hands pods the credentials of
// their Pod Identity association: without it the agent's association
// gives the agent nothing.
const PodIdentityAddon = "eks-pod-identity-agent"

// createAddon makes the add-on (or takes the one there, from an
// interrupted run or installed before) and waits until it is ACTIVE; it
// returns the add-on's name. An add-on that fails (CREATE_FAILED or
// DEGRADED) is returned with the error, so that down removes it.
func (p *Provider) createAddon(ctx context.Context, spec *cloud.Spec, name string, status func(string)) (string, error) {
	op := "installing EKS add-on " + name
	in := &awseks.DescribeAddonInput{ClusterName: aws.String(spec.Name), AddonName: aws.String(name)}
	_, err := p.eks.DescribeAddon(ctx, in)
	if isNotFound(err) {
		_, err = p.eks.CreateAddon(ctx, &awseks.CreateAddonInput{ClusterName: aws.String(spec.Name), AddonName: aws.String(name),
			Tags: map[string]string{cloud.LabelCloud: spec.Name}})
		if err != nil && !isCode(err, "ResourceInUseException") {
			return "", cloudError(op, err)
		}
	} else if err != nil {
		return "", cloudError(op, err)
	}
	err = p.poll(ctx, func() (bool, error) {
		out, err := p.eks.DescribeAddon(ctx, in)
		if err != nil {
			return false, cloudError("waiting for EKS add-on "+name, err)
		}
		status(string(out.Addon.Status))
		switch out.Addon.Status {
		case ekstypes.AddonStatusActive:
			return true, nil
		case ekstypes.AddonStatusCreateFailed, ekstypes.AddonStatusDegraded:
			code, msg := string(out.Addon.Status), "the add-on is "+string(out.Addon.Status)
			if h := out.Addon.Health; h != nil && len(h.Issues) > 0 {
				code, msg = string(h.Issues[0].Code), aws.ToString(h.Issues[0].Message)
			}
			return false, &cloud.Error{Op: op, Code: code, Message: msg}
		}
		return false, nil
	})
	return name, err
}

// deleteAddon removes the add-on and waits until it is gone; one already
// gone is not an error.
func (p *Provider) deleteAddon(ctx context.Context, cluster, name string, status func(string)) error {
	op := "deleting EKS add-on " + name
	if _, err := p.eks.DeleteAddon(ctx, &awseks.DeleteAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(name)}); err != nil {
		if isNotFound(err) {
			return nil
		}
		return cloudError(op, err)
	}
	in := &awseks.DescribeAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(name)}
	return p.poll(ctx, func() (bool, error) {
		out, err := p.eks.DescribeAddon(ctx, in)
		if isNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, cloudError(op, err)
		}
		status(string(out.Addon.Status))
		if out.Addon.Status == ekstypes.AddonStatusDeleteFailed {
			code, msg := "DELETE_FAILED", "the add-on failed to delete"
			if h := out.Addon.Health; h != nil && len(h.Issues) > 0 {
				code, msg = string(h.Issues[0].Code), aws.ToString(h.Issues[0].Message)
			}
			return false, &cloud.Error{Op: op, Code: code, Message: msg}
		}
		return false, nil
	})
}
