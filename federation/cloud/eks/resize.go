package eks

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/flotilla-hpc/flotilla/federation/cloud"
)

var _ cloud.Resizer = (*Provider)(nil)

// GroupSize reads a node group's scaling configuration.
func (p *Provider) GroupSize(ctx context.Context, spec *cloud.Spec, group string) (cloud.GroupSize, error) {
	out, err := p.eks.DescribeNodegroup(ctx, &awseks.DescribeNodegroupInput{ClusterName: aws.String(spec.Name), NodegroupName: aws.String(group)})
	if err != nil {
		return cloud.GroupSize{}, cloudError("reading node group "+group, err)
	}
	sc := out.Nodegroup.ScalingConfig
	if sc == nil {
		return cloud.GroupSize{Size: -1}, nil
	}
	return cloud.GroupSize{Size: int(aws.ToInt32(sc.DesiredSize)), Min: int(aws.ToInt32(sc.MinSize)), Max: int(aws.ToInt32(sc.MaxSize))}, nil
}

// Resize sets the node group's desired size (UpdateNodegroupConfig,
// keeping its minimum and maximum) and waits until it is ACTIVE again.
func (p *Provider) Resize(ctx context.Context, spec *cloud.Spec, group string, size int, status func(string)) error {
	op := fmt.Sprintf("resizing node group %s to %d", group, size)
	cur, err := p.GroupSize(ctx, spec, group)
	if err != nil {
		return err
	}
	sc := &ekstypes.NodegroupScalingConfig{DesiredSize: aws.Int32(int32(size))}
	if cur.Max > 0 {
		// EKS wants min ≤ desired ≤ max in one update.
		sc.MinSize, sc.MaxSize = aws.Int32(int32(min(cur.Min, size))), aws.Int32(int32(max(cur.Max, size)))
	}
	if _, err := p.eks.UpdateNodegroupConfig(ctx, &awseks.UpdateNodegroupConfigInput{ClusterName: aws.String(spec.Name),
		NodegroupName: aws.String(group), ScalingConfig: sc}); err != nil {
		return cloudError(op, err)
	}
	return p.poll(ctx, func() (bool, error) {
		out, err := p.eks.DescribeNodegroup(ctx, &awseks.DescribeNodegroupInput{ClusterName: aws.String(spec.Name), NodegroupName: aws.String(group)})
		if err != nil {
			return false, cloudError(op, err)
		}
		status(string(out.Nodegroup.Status))
		switch out.Nodegroup.Status {
		case ekstypes.NodegroupStatusActive:
			return true, nil
		case ekstypes.NodegroupStatusDegraded:
			code, msg := "DEGRADED", "the node group is degraded"
			if h := out.Nodegroup.Health; h != nil && len(h.Issues) > 0 {
				code, msg = string(h.Issues[0].Code), aws.ToString(h.Issues[0].Message)
			}
			return false, &cloud.Error{Op: op, Code: code, Message: msg}
		}
		return false, nil
	})
}
