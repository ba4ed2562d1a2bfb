package eks

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"
	"k8s.io/client-go/rest"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
)

// isCode reports whether err is an AWS API error with the code.
func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

func (p *Provider) createCluster(ctx context.Context, spec *cloud.Spec, status func(string)) (string, error) {
	op := "creating EKS cluster " + spec.Name
	if len(p.opts.Subnets) == 0 {
		return "", fmt.Errorf("%s: no subnets (give --subnets)", op)
	}
	arn, err := p.roleARN(ctx, roleName(spec.Name, "cluster"))
	if err != nil {
		return "", err
	}
	in := &awseks.CreateClusterInput{Name: aws.String(spec.Name), RoleArn: aws.String(arn),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: p.opts.Subnets},
		AccessConfig:       &ekstypes.CreateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApiAndConfigMap, BootstrapClusterCreatorAdminPermissions: aws.Bool(true)},
		Tags:               map[string]string{cloud.LabelCloud: spec.Name}}
	if spec.KubernetesVersion != "" {
		in.Version = aws.String(spec.KubernetesVersion)
	}
	if _, err := p.eks.CreateCluster(ctx, in); err != nil && !isCode(err, "ResourceInUseException") {
		return "", cloudError(op, err)
	} else if err != nil {
		// Made by an interrupted run, or by someone else: only ours is ours.
		out, derr := p.eks.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(spec.Name)})
		if derr != nil {
			return "", cloudError(op, derr)
		}
		if out.Cluster.Tags[cloud.LabelCloud] != spec.Name {
			return "", cloudError(op, err)
		}
	}
	var arnOut string
	err = p.poll(ctx, func() (bool, error) {
		out, err := p.eks.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(spec.Name)})
		if err != nil {
			return false, cloudError("waiting for EKS cluster "+spec.Name, err)
		}
		status(string(out.Cluster.Status))
		switch out.Cluster.Status {
		case ekstypes.ClusterStatusActive:
			arnOut = aws.ToString(out.Cluster.Arn)
			return true, nil
		case ekstypes.ClusterStatusFailed:
			return false, &cloud.Error{Op: op, Code: "FAILED", Message: "the cluster failed to create"}
		}
		return false, nil
	})
	if err != nil {
		return spec.Name, err // it exists: down removes it
	}
	return arnOut, nil
}

func (p *Provider) deleteCluster(ctx context.Context, name string, status func(string)) error {
	op := "deleting EKS cluster " + name
	if _, err := p.eks.DeleteCluster(ctx, &awseks.DeleteClusterInput{Name: aws.String(name)}); err != nil && !isNotFound(err) {
		return cloudError(op, err)
	}
	return p.poll(ctx, func() (bool, error) {
		out, err := p.eks.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(name)})
		if isNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, cloudError(op, err)
		}
		status(string(out.Cluster.Status))
		return false, nil
	})
}

func (p *Provider) createNodeGroup(ctx context.Context, spec *cloud.Spec, g *cloud.NodeGroup, status func(string)) (string, error) {
	op := fmt.Sprintf("creating node group %s (%s)", g.Name, g.InstanceType)
	nodeRole, err := p.roleARN(ctx, roleName(spec.Name, "node"))
	if err != nil {
		return "", err
	}
	ami := ekstypes.AMITypesAl2023X8664Standard
	if g.GPUs > 0 {
		ami = ekstypes.AMITypesAl2023X8664Nvidia
	}
	var taints []ekstypes.Taint
	for _, t := range g.Taints {
		taints = append(taints, ekstypes.Taint{Key: aws.String(t.Key), Value: aws.String(t.Value), Effect: ekstypes.TaintEffectNoSchedule})
	}
	in := &awseks.CreateNodegroupInput{ClusterName: aws.String(spec.Name), NodegroupName: aws.String(g.Name), NodeRole: aws.String(nodeRole),
		Subnets: p.opts.Subnets, InstanceTypes: []string{g.InstanceType}, AmiType: ami, Labels: g.Labels, Taints: taints,
		ScalingConfig: &ekstypes.NodegroupScalingConfig{MinSize: aws.Int32(int32(g.MinNodes)), MaxSize: aws.Int32(int32(g.MaxNodes)),
			DesiredSize: aws.Int32(int32(g.Nodes))},
		Tags: map[string]string{cloud.LabelCloud: spec.Name, cloud.LabelMachineType: g.MachineType}}
	if g.DiskGB > 0 {
		in.DiskSize = aws.Int32(int32(g.DiskGB))
	}
	if _, err := p.eks.CreateNodegroup(ctx, in); err != nil && !isCode(err, "ResourceInUseException") {
		return "", cloudError(op, err)
	}
	err = p.poll(ctx, func() (bool, error) {
		out, err := p.eks.DescribeNodegroup(ctx, &awseks.DescribeNodegroupInput{ClusterName: aws.String(spec.Name), NodegroupName: aws.String(g.Name)})
		if err != nil {
			return false, cloudError("waiting for node group "+g.Name, err)
		}
		status(string(out.Nodegroup.Status))
		switch out.Nodegroup.Status {
		case ekstypes.NodegroupStatusActive:
			return true, nil
		case ekstypes.NodegroupStatusCreateFailed:
			code, msg := "CREATE_FAILED", "the node group failed to create"
			if h := out.Nodegroup.Health; h != nil && len(h.Issues) > 0 {
				code, msg = string(h.Issues[0].Code), aws.ToString(h.Issues[0].Message)
			}
			return false, &cloud.Error{Op: op, Code: code, Message: msg}
		}
		return false, nil
	})
	return g.Name, err
}

func (p *Provider) deleteNodeGroup(ctx context.Context, cluster, name string, status func(string)) error {
	op := "deleting node group " + name
	in := &awseks.DescribeNodegroupInput{ClusterName: aws.String(cluster), NodegroupName: aws.String(name)}
	if _, err := p.eks.DeleteNodegroup(ctx, &awseks.DeleteNodegroupInput{ClusterName: in.ClusterName, NodegroupName: in.NodegroupName}); err != nil && !isNotFound(err) {
		return cloudError(op, err)
	}
	return p.poll(ctx, func() (bool, error) {
		out, err := p.eks.DescribeNodegroup(ctx, in)
		if isNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, cloudError(op, err)
		}
		status(string(out.Nodegroup.Status))
		return false, nil
	})
}

// Access returns the cluster's endpoint and CA with a token from a
// presigned STS GetCallerIdentity request.
func (p *Provider) Access(ctx context.Context, spec *cloud.Spec) (*rest.Config, error) {
	out, err := p.eks.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(spec.Name)})
	if err != nil {
		return nil, cloudError("reading EKS cluster "+spec.Name, err)
	}
	c := out.Cluster
	if c.Endpoint == nil || c.CertificateAuthority == nil || c.CertificateAuthority.Data == nil {
		return nil, fmt.Errorf("EKS cluster %s has no endpoint yet (status %s)", spec.Name, c.Status)
	}
	ca, err := base64.StdEncoding.DecodeString(aws.ToString(c.CertificateAuthority.Data))
	if err != nil {
		return nil, fmt.Errorf("EKS cluster %s: certificate authority: %w", spec.Name, err)
	}
	tok, err := p.Token(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	return &rest.Config{Host: aws.ToString(c.Endpoint), BearerToken: tok, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}, nil
}
