// Package podgroup is level 1 of the agent's two-level scheduler: it turns an
// assigned job (machine type × nodes) into the pod group that level 2 binds as
// a gang, and holds the one mapping from a machine type to what its pods
// request: Build makes the pods, SchedulerPod converts a pod into what level
// 2 schedules, and Capacity reports per machine type the largest job level 2
// binds, computed by the scheduler itself. It is pure: job and machine type
// in, pod objects out.
package podgroup

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Labels and annotations on every object of a job. Object names derive from
// the job number, so re-creating a job's objects never makes a second copy.
const (
	LabelManaged   = "flotilla.io/managed"   // "true"
	LabelJob       = "flotilla.io/job"       // job number
	LabelTenant    = "flotilla.io/tenant"    // tenant (sanitised to a label value)
	LabelRank      = "flotilla.io/rank"      // 0 is the head
	LabelRole      = "flotilla.io/role"      // head | worker
	AnnotJobID     = "flotilla.io/job-id"    // the hub's job id, verbatim
	AnnotTenant    = "flotilla.io/tenant"    // tenant, verbatim
	AnnotGangSize  = "flotilla.io/gang-size" // pods in the gang
	AnnotPriority  = "flotilla.io/priority"  // integer, higher first
	AnnotSubmitted = "flotilla.io/submitted" // RFC 3339 submit time (queue age)
	AnnotMachine   = "flotilla.io/machine-type"

	// AnnotStarted, on the job Secret, records that the job's head (rank
	// 0) may have been bound: the binder writes it, with the head pod's
	// UID, and has the API server confirm it before it binds the head. A
	// job so marked never has its pods created again.
	AnnotStarted = "flotilla.io/started"
	// AnnotFinal, on the job Secret, records the job's final state (JSON,
	// runtime.Final), written before the state is reported to the hub.
	AnnotFinal = "flotilla.io/final"
)

// SchedulerName is the schedulerName on Flotilla's pods.
const SchedulerName = "flotilla"

// GPUResource is the extended resource of NVIDIA GPUs.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// Options are the cluster-side settings of level 1.
type Options struct {
	Namespace     string
	SchedulerName string // default SchedulerName
	Image         string // the app image
	// Tolerations added to every pod (e.g. for dedicated HPC nodes).
	Tolerations []corev1.Toleration
}

// JobName is the base name of a job's objects: "j<number>".
func JobName(number uint64) string { return "j" + strconv.FormatUint(number, 10) }

// PodName is the name of the pod of a job's rank.
func PodName(number uint64, rank int) string {
	return JobName(number) + "-" + strconv.Itoa(rank)
}

// PriorityValue maps a priority class to the integer level 2 orders by.
func PriorityValue(p structs.PriorityClass) int {
	switch p {
	case structs.PriorityHighest:
		return 2
	case structs.PriorityHigh:
		return 1
	}
	return 0
}

// Requests returns a machine type's per-pod requests and limits: cores as the
// CPU request, slots (or cores) as the limit, RAM in GiB, GPUs, scratch as
// ephemeral storage. cores == slots gives Guaranteed QoS.
func Requests(mt *structs.MachineType) (req, lim corev1.ResourceList) {
	req = corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(mt.Cores), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(int64(mt.RAM)<<30, resource.BinarySI),
	}
	slots := mt.Slots
	if slots < mt.Cores {
		slots = mt.Cores
	}
	lim = corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(slots), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(int64(mt.RAM)<<30, resource.BinarySI),
	}
	if mt.GPUs > 0 {
		g := *resource.NewQuantity(int64(mt.GPUs), resource.DecimalSI)
		req[GPUResource], lim[GPUResource] = g, g
	}
	if mt.Scratch > 0 {
		s := *resource.NewQuantity(int64(mt.Scratch)<<30, resource.BinarySI)
		req[corev1.ResourceEphemeralStorage], lim[corev1.ResourceEphemeralStorage] = s, s
	}
	return req, lim
}

// Tolerations returns the tolerations of a machine type's pods: the agent's
// own plus, for GPU machine types, the customary nvidia.com/gpu taint.
func Tolerations(mt *structs.MachineType, opts Options) []corev1.Toleration {
	out := append([]corev1.Toleration(nil), opts.Tolerations...)
	if mt.GPUs > 0 {
		out = append(out, corev1.Toleration{Key: string(GPUResource), Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	return out
}

// Build returns the job's pods: one per node, rank 0 the head, each with the
// machine type's requests, node selector and the labels level 2 and the
// runtime read. Pods never restart (restartPolicy Never).
func Build(job *structs.Job, mt *structs.MachineType, opts Options) ([]*corev1.Pod, error) {
	if job.Number == 0 {
		return nil, fmt.Errorf("%w: job %q has no number", structs.ErrInvalid, job.ID)
	}
	if job.Nodes < 1 {
		return nil, fmt.Errorf("%w: job %q: nodes %d", structs.ErrInvalid, job.ID, job.Nodes)
	}
	if mt.Cores < 1 {
		return nil, fmt.Errorf("%w: machine type %q: no cores", structs.ErrInvalid, mt.Name)
	}
	sel, err := mt.NodeSelector()
	if err != nil {
		return nil, err
	}
	if mt.Arch != "" {
		if sel == nil {
			sel = map[string]string{}
		}
		sel["kubernetes.io/arch"] = mt.Arch
	}
	sched := opts.SchedulerName
	if sched == "" {
		sched = SchedulerName
	}
	req, lim := Requests(mt)
	tolerations := Tolerations(mt, opts)
	pods := make([]*corev1.Pod, job.Nodes)
	for rank := range job.Nodes {
		role := "worker"
		if rank == 0 {
			role = "head"
		}
		pods[rank] = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name:      PodName(job.Number, rank),
				Namespace: opts.Namespace,
				Labels: map[string]string{
					LabelManaged: "true",
					LabelJob:     strconv.FormatUint(job.Number, 10),
					LabelTenant:  LabelValue(job.Tenant),
					LabelRank:    strconv.Itoa(rank),
					LabelRole:    role,
				},
				Annotations: map[string]string{
					AnnotJobID:     job.ID,
					AnnotTenant:    job.Tenant,
					AnnotGangSize:  strconv.Itoa(job.Nodes),
					AnnotPriority:  strconv.Itoa(PriorityValue(job.Priority)),
					AnnotSubmitted: job.SubmitTime.UTC().Format(time.RFC3339Nano),
					AnnotMachine:   mt.Name,
				},
			},
			Spec: corev1.PodSpec{
				SchedulerName:                 sched,
				RestartPolicy:                 corev1.RestartPolicyNever,
				NodeSelector:                  sel,
				Tolerations:                   tolerations,
				Hostname:                      PodName(job.Number, rank),
				Subdomain:                     JobName(job.Number),
				AutomountServiceAccountToken:  new(false),
				EnableServiceLinks:            new(false),
				TerminationGracePeriodSeconds: new(int64(10)),
				Containers: []corev1.Container{{
					Name:  "app",
					Image: opts.Image,
					Resources: corev1.ResourceRequirements{
						Requests: req.DeepCopy(),
						Limits:   lim.DeepCopy(),
					},
				}},
			},
		}
		if job.Walltime > 0 {
			secs := int64(time.Duration(job.Walltime).Seconds())
			if secs < 1 {
				secs = 1
			}
			pods[rank].Spec.ActiveDeadlineSeconds = &secs
		}
	}
	return pods, nil
}

// LabelValue turns s into a valid label value (≤ 63 chars of [A-Za-z0-9-_.],
// starting and ending alphanumeric); the verbatim value is kept in an annotation.
func LabelValue(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < 63; i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	for len(b) > 0 && !alnum(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && !alnum(b[0]) {
		b = b[1:]
	}
	return string(b)
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
