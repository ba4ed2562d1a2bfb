package runtime

import (
	"fmt"
	"maps"
	"path"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/flotilla-hpc/flotilla/clusteragent/runtime/initproc"
	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Paths inside the app container.
const (
	FlotillaDir = "/etc/flotilla" // nodes, cores, ssh/, token
	JarviceDir  = "/etc/JARVICE"  // nodes, cores, for JARVICE-style apps
	KeysDir     = FlotillaDir + "/ssh"
	TokenPath   = FlotillaDir + "/" + TokenKey
	InitDir     = "/opt/flotilla" // emptyDir shared with the init container
	InitBinDir  = InitDir + "/bin"
	InitRunDir  = InitDir + "/run"
	DataDir     = "/data" // the vault
)

// Volume names in the pods.
const (
	volInit        = "flotilla-init"
	volSSH         = "flotilla-ssh"
	volToken       = "flotilla-token"
	volMachinefile = "flotilla-machinefile"
	volData        = "data"
	volGuardToken  = "flotilla-guard-token"
	volGuardShares = "flotilla-guard-shares"
)

// Paths in an interactive job's guard container.
const (
	GuardTokenDir  = "/var/run/flotilla-guard/token"
	GuardSharesDir = "/var/run/flotilla-guard/shares"
)

// decoratePod turns a pod from podgroup.Build into one that runs the job:
// the init container, flotilla-init as the app's command, identity,
// environment, ports and volumes.
func (r *renderer) decoratePod(p *corev1.Pod, rank int, argv []string, web []corev1.ServicePort) {
	p.TypeMeta.APIVersion, p.TypeMeta.Kind = "v1", "Pod"
	addMissing(p.Labels, r.in.Labels)
	extra := maps.Clone(r.in.PodAnnotations)
	if rank == 0 {
		if extra == nil {
			extra = map[string]string{}
		}
		maps.Copy(extra, r.in.HeadAnnotations)
	}
	addMissing(p.Annotations, extra)
	if r.in.PullSecret != "" {
		p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: PullSecretName(r.job.Number)}}
	}
	uid, gid := r.in.identity()
	p.Spec.SecurityContext = &corev1.PodSecurityContext{
		RunAsUser:      new(uid),
		RunAsGroup:     new(gid),
		FSGroup:        new(gid),
		RunAsNonRoot:   new(true),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	p.Spec.Volumes = r.volumes(len(web) > 0, rank == 0)
	initMount := corev1.VolumeMount{Name: volInit, MountPath: InitDir}
	small := corev1.ResourceList{ // requests == limits keeps the pod's QoS class
		corev1.ResourceCPU:    resource.MustParse("100m"),
		corev1.ResourceMemory: resource.MustParse("64Mi"),
	}
	p.Spec.InitContainers = []corev1.Container{{
		Name:            "flotilla-init",
		Image:           r.opts.InitImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{r.opts.InitBinary, "copy", "--to", InitBinDir},
		Resources:       corev1.ResourceRequirements{Requests: small, Limits: small.DeepCopy()},
		VolumeMounts:    []corev1.VolumeMount{initMount},
		SecurityContext: ContainerSecurity(),
	}}
	if rank == 0 && len(web) > 0 {
		p.Spec.InitContainers = append(p.Spec.InitContainers, r.guardContainer(web[0], small))
	}

	head := rank == 0
	role := initproc.RoleWorker
	if head {
		role = initproc.RoleHead
	}
	args := []string{"run",
		"--role", string(role),
		"--nodes", FlotillaDir + "/" + NodesKey,
		"--keys", KeysDir,
		"--run-dir", InitRunDir,
		"--ssh-port", strconv.Itoa(int(r.opts.SSHPort)),
		"--control-port", strconv.Itoa(int(r.opts.ControlPort)),
		"--peer-timeout", r.opts.PeerTimeout.String(),
	}
	args = append(args, r.workdirArgs()...)
	args = append(args, "--signals-file", SignalsPath)
	if r.signalAt() {
		args = append(args, "--walltime", r.job.Walltime.Std().String(), "--job-start-file", JobStartPath)
	}
	if a := r.job.Array; a != nil {
		args = append(args, r.arrayArgs(a)...)
		if head {
			args = append(args, "--array-cancel-file", ArrayCancelPath, "--array-output-file", ArrayOutputPath)
		}
		args = append(append(args, "--"), argv...) // every pod runs tasks
	} else if head {
		args = append(append(args, "--"), argv...)
	}
	c := &p.Spec.Containers[0]
	c.Command = []string{InitBinDir + "/" + initproc.BinaryName}
	c.Args = args
	c.Env = r.env(rank, len(web) > 0)
	c.Ports = []corev1.ContainerPort{{Name: "ssh", ContainerPort: r.opts.SSHPort, Protocol: corev1.ProtocolTCP}}
	if head {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: "control", ContainerPort: r.opts.ControlPort, Protocol: corev1.ProtocolTCP})
		for _, w := range web {
			c.Ports = append(c.Ports, corev1.ContainerPort{Name: w.Name, ContainerPort: w.Port, Protocol: corev1.ProtocolTCP})
		}
	}
	c.VolumeMounts = r.mounts(initMount, len(web) > 0)
	if head && r.job.Array != nil {
		c.VolumeMounts = append(c.VolumeMounts, arrayControlMount())
	}
	c.VolumeMounts = append(c.VolumeMounts, signalsMount())
	c.SecurityContext = ContainerSecurity()
}

// signalAt reports whether the job asked for a signal before its
// walltime ends (flotilla-init reads which from the job variable).
func (r *renderer) signalAt() bool {
	_, ok := r.job.SignalAt()
	return ok && r.job.Walltime > 0
}

// arrayArgs are flotilla-init's flags of an array job: each pod runs as
// many tasks at once as its machine type has slots (cores when unset).
func (r *renderer) arrayArgs(a *structs.ArrayJob) []string {
	slots := r.mt.Slots
	if slots < 1 {
		slots = r.mt.Cores
	}
	args := []string{
		"--array", a.Spec.String(),
		"--array-slots", strconv.Itoa(max(slots, 1)),
		"--task-retries", strconv.Itoa(a.TaskRetries),
		"--array-job-id", strconv.FormatUint(r.job.Number, 10),
	}
	if a.TaskWalltime > 0 {
		args = append(args, "--task-walltime", a.TaskWalltime.Std().String())
	}
	return args
}

// ContainerSecurity is the security context of every container of a job:
// no privilege escalation (setuid and setgid bits are ignored) and no
// capabilities at all. The job user is never root (RunAsNonRoot) and
// listens only above 1023, and its SSH server needs none: an unprivileged
// sshd, or flotilla-init's built-in one, logs in only the user it runs
// as, so neither SETUID, SETGID nor SYS_CHROOT is of use to it (checked
// with OpenSSH: an sshd with an empty bounding set and no_new_privs
// accepts the job key, without PAM).
func ContainerSecurity() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: new(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// guardContainer is the head's token guard: a sidecar (an init container
// that keeps running beside the app and stops after it) running
// flotilla-init guard from the init image. It serves the guard port, the
// only port of the job the ingress controller reaches, and forwards what
// carries the job's token to the app's web port inside the pod.
func (r *renderer) guardContainer(web corev1.ServicePort, res corev1.ResourceList) corev1.Container {
	return corev1.Container{
		Name:            "flotilla-guard",
		Image:           r.opts.InitImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		RestartPolicy:   new(corev1.ContainerRestartPolicyAlways),
		Command: []string{r.opts.InitBinary, "guard",
			"--listen", ":" + strconv.Itoa(int(r.opts.GuardPort)),
			"--backend", "127.0.0.1:" + strconv.Itoa(int(web.Port)),
			"--token-file", GuardTokenDir + "/" + TokenKey,
			"--shares-dir", GuardSharesDir,
		},
		Ports:     []corev1.ContainerPort{{Name: "guard", ContainerPort: r.opts.GuardPort, Protocol: corev1.ProtocolTCP}},
		Resources: corev1.ResourceRequirements{Requests: res, Limits: res.DeepCopy()},
		VolumeMounts: []corev1.VolumeMount{
			{Name: volGuardToken, MountPath: GuardTokenDir, ReadOnly: true},
			{Name: volGuardShares, MountPath: GuardSharesDir, ReadOnly: true},
		},
		SecurityContext: ContainerSecurity(),
	}
}

// addMissing copies the entries of from whose keys dst lacks.
func addMissing(dst, from map[string]string) {
	for k, v := range from {
		if _, ok := dst[k]; !ok {
			dst[k] = v
		}
	}
}

// env is the app container's environment.
func (r *renderer) env(rank int, interactive bool) []corev1.EnvVar {
	job, mt := r.job, r.mt
	role := "worker"
	if rank == 0 {
		role = "head"
	}
	env := []corev1.EnvVar{
		{Name: "FLOTILLA_JOB_NAME", Value: job.Name},
		{Name: "FLOTILLA_JOB_NUMBER", Value: strconv.FormatUint(job.Number, 10)},
		{Name: "FLOTILLA_JOB_ID", Value: job.ID},
		{Name: "FLOTILLA_JOB_LABEL", Value: job.Label},
		{Name: "FLOTILLA_NODES", Value: strconv.Itoa(job.Nodes)},
		{Name: "FLOTILLA_CORES", Value: strconv.Itoa(mt.Cores)},
		{Name: "FLOTILLA_TCORES", Value: strconv.Itoa(mt.Cores * job.Nodes)},
		{Name: "FLOTILLA_GPUS", Value: strconv.Itoa(mt.GPUs)},
		{Name: "FLOTILLA_MACHINETYPE", Value: mt.Name},
		{Name: "FLOTILLA_RANK", Value: strconv.Itoa(rank)},
		{Name: "FLOTILLA_ROLE", Value: role},
		{Name: "FLOTILLA_HEAD", Value: r.hosts[0]},
		{Name: "FLOTILLA_MACHINEFILE", Value: FlotillaDir + "/" + NodesKey},
		{Name: "FLOTILLA_CORESFILE", Value: FlotillaDir + "/" + CoresKey},
		{Name: "FLOTILLA_SSH_PORT", Value: strconv.Itoa(int(r.opts.SSHPort))},
		{Name: "FLOTILLA_POD_IP", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
	}
	if interactive {
		env = append(env,
			corev1.EnvVar{Name: "FLOTILLA_PUBLIC_ADDR", Value: r.publicAddr()},
			corev1.EnvVar{Name: "FLOTILLA_TOKEN", ValueFrom: r.secretRef(TokenKey)},
			corev1.EnvVar{Name: "FLOTILLA_URL", ValueFrom: r.secretRef(URLKey)},
		)
	}
	env = append(env, r.jobEnv()...)
	env = append(env, r.appEnv()...)
	return append(env, r.devs.env...)
}

func (r *renderer) secretRef(key string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: r.name}, Key: key}}
}

// volumes are the pod's volumes.
func (r *renderer) volumes(interactive, head bool) []corev1.Volume {
	keyItems := []corev1.KeyToPath{
		{Key: initproc.PrivateKeyFile, Path: initproc.PrivateKeyFile},
		{Key: initproc.PublicKeyFile, Path: initproc.PublicKeyFile},
		{Key: initproc.AuthorizedKeysFile, Path: initproc.AuthorizedKeysFile},
	}
	vols := []corev1.Volume{
		{Name: volInit, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			SizeLimit: new(resource.MustParse("128Mi"))}}},
		// 0440 with fsGroup: the job user reads the key through its group;
		// flotilla-init copies it to ~/.ssh with mode 600.
		{Name: volSSH, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: r.name, Items: keyItems, DefaultMode: new(int32(0o440))}}},
		{Name: volMachinefile, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: r.name}}}},
	}
	vols = append(vols, r.appFilesVolume())
	if interactive {
		vols = append(vols, corev1.Volume{Name: volToken, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: r.name, Items: []corev1.KeyToPath{{Key: TokenKey, Path: TokenKey}}, DefaultMode: new(int32(0o440))}}})
	}
	if interactive && head {
		vols = append(vols,
			corev1.Volume{Name: volGuardToken, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: r.name, Items: []corev1.KeyToPath{{Key: TokenKey, Path: TokenKey}}, DefaultMode: new(int32(0o440))}}},
			// Mounted whole (no items, no subPath) so that added and
			// removed share links reach the running guard.
			corev1.Volume{Name: volGuardShares, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: ShareSecretName(r.job.Number), Optional: new(true), DefaultMode: new(int32(0o440))}}},
		)
	}
	if head && r.job.Array != nil {
		vols = append(vols, arrayControlVolume())
	}
	vols = append(vols, signalsVolume(r.signalAt()))
	if v := r.in.VaultNFS; v != nil {
		vols = append(vols, corev1.Volume{Name: volData, VolumeSource: corev1.VolumeSource{NFS: v.DeepCopy()}})
	} else if v := r.in.Vault; v != nil && v.ClaimName != "" {
		vols = append(vols, corev1.Volume{Name: volData, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.ClaimName}}})
	}
	for _, m := range r.opts.Mounts {
		src := corev1.VolumeSource{}
		if m.NFS != nil {
			src.NFS = m.NFS.DeepCopy()
		} else {
			src.HostPath = &corev1.HostPathVolumeSource{Path: m.HostPath}
		}
		vols = append(vols, corev1.Volume{Name: "mount-" + m.Name, VolumeSource: src})
	}
	for i, b := range r.devs.binds {
		src := corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: b.host}}
		if b.nfsServer != "" {
			src = corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: b.nfsServer, Path: b.host, ReadOnly: b.readOnly}}
		}
		vols = append(vols, corev1.Volume{Name: "hostbind-" + strconv.Itoa(i), VolumeSource: src})
	}
	return vols
}

// mounts are the app container's volume mounts. The machinefile is mounted
// file by file so /etc/flotilla and /etc/JARVICE stay ordinary directories.
func (r *renderer) mounts(initMount corev1.VolumeMount, interactive bool) []corev1.VolumeMount {
	ms := []corev1.VolumeMount{
		initMount,
		{Name: volSSH, MountPath: KeysDir, ReadOnly: true},
	}
	for _, dir := range []string{FlotillaDir, JarviceDir} {
		for _, key := range []string{NodesKey, CoresKey} {
			ms = append(ms, corev1.VolumeMount{Name: volMachinefile, MountPath: dir + "/" + key, SubPath: key, ReadOnly: true})
		}
	}
	ms = append(ms, r.appFilesMounts()...)
	if interactive {
		ms = append(ms, corev1.VolumeMount{Name: volToken, MountPath: TokenPath, SubPath: TokenKey, ReadOnly: true})
	}
	if r.in.VaultNFS != nil || (r.in.Vault != nil && r.in.Vault.ClaimName != "") {
		ms = append(ms, corev1.VolumeMount{Name: volData, MountPath: DataDir})
	}
	for _, m := range r.opts.Mounts {
		ms = append(ms, corev1.VolumeMount{Name: "mount-" + m.Name, MountPath: m.Path, ReadOnly: m.ReadOnly})
	}
	for i, b := range r.devs.binds {
		ms = append(ms, corev1.VolumeMount{Name: "hostbind-" + strconv.Itoa(i), MountPath: b.ctr, ReadOnly: b.readOnly})
	}
	return ms
}

// devices are the parts of a machine type's device list the runtime
// applies: "$KEY=VAL" environment, "/host=/ctr[:ro|:rw]" host binds and
// "nfs:server:/export=/ctr[:ro|:rw]" NFS shares.
// GPUs, RDMA, hugepages and raw resources are requests, level 1's business.
type devices struct {
	env   []corev1.EnvVar
	binds []hostBind
}

type hostBind struct {
	host, ctr string
	readOnly  bool
	nfsServer string // set for an NFS share; host is then the export path
}

func parseDevices(list []string) (devices, error) {
	var d devices
	for _, s := range list {
		switch {
		case strings.HasPrefix(s, "$"):
			k, v, ok := strings.Cut(s[1:], "=")
			if !ok || k == "" {
				return d, fmt.Errorf("device %q: want $KEY=VALUE", s)
			}
			d.env = append(d.env, corev1.EnvVar{Name: k, Value: v})
		case strings.HasPrefix(s, "/"), strings.HasPrefix(s, "nfs:"):
			host, ctr, ok := strings.Cut(s, "=")
			b := hostBind{host: host, ctr: ctr}
			if rest, isNFS := strings.CutPrefix(host, "nfs:"); isNFS {
				server, export, found := strings.Cut(rest, ":")
				if !found || server == "" || !path.IsAbs(export) {
					return d, fmt.Errorf("device %q: want nfs:server:/export=/container[:ro|:rw]", s)
				}
				b.nfsServer, b.host = server, export
			}
			if i := strings.LastIndexByte(ctr, ':'); i >= 0 {
				switch ctr[i+1:] {
				case "ro":
					b.readOnly = true
				case "rw":
				default:
					return d, fmt.Errorf("device %q: mode %q (want ro or rw)", s, ctr[i+1:])
				}
				b.ctr = ctr[:i]
			}
			if !ok || !path.IsAbs(b.ctr) {
				return d, fmt.Errorf("device %q: want /host=/container[:ro|:rw]", s)
			}
			d.binds = append(d.binds, b)
		}
	}
	return d, nil
}
