package localnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flotilla-hpc/flotilla/test/localnode/container"
)

// statusList picks the status list (init or app containers) a container is in.
type statusList func(s *corev1.PodStatus) []corev1.ContainerStatus

// runContainer runs one container to its end and records its states; it
// returns the exit code, or an error when it could not start.
func (r *podRun) runContainer(ctx context.Context, c *corev1.Container, paths volumePaths, list statusList) (int, error) {
	set := func(st corev1.ContainerState, ready bool) {
		r.update(func(s *corev1.PodStatus) {
			l := list(s)
			for i := range l {
				if l[i].Name == c.Name {
					l[i].State, l[i].Ready = st, ready
					if ready {
						l[i].Started = new(true)
					}
				}
			}
			r.setPhase(s)
		})
	}
	terminated := func(code int, reason, msg string, started metav1.Time) {
		set(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: int32(code), Reason: reason, Message: msg, StartedAt: started, FinishedAt: metav1.NewTime(r.sh.now()),
		}}, false)
	}
	spec, err := r.containerSpec(c, paths)
	if err != nil {
		terminated(container.ExitStartError, "CreateContainerConfigError", err.Error(), metav1.Time{})
		return container.ExitStartError, err
	}
	logFile, err := os.OpenFile(r.logPath(c.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		terminated(container.ExitStartError, "StartError", err.Error(), metav1.Time{})
		return container.ExitStartError, err
	}
	defer logFile.Close()

	r.mu.Lock()
	if r.stopped || r.net == nil {
		r.mu.Unlock()
		terminated(container.ExitStartError, "StartError", "pod deleted", metav1.Time{})
		return container.ExitStartError, errors.New("pod deleted")
	}
	s, err := spawn(r.sh.self, r.net.Path(), spec, logFile)
	if err == nil {
		r.running[c.Name] = s
	}
	r.mu.Unlock()
	if err != nil {
		r.sh.log.Warn("container did not start", "pod", r.key(), "container", c.Name, "err", err)
		terminated(container.ExitStartError, "StartError", err.Error(), metav1.Time{})
		return container.ExitStartError, err
	}
	if err := r.sh.state.RecordPID(r.dir, c.Name, s.pid); err != nil {
		r.sh.log.Error("record pid", "pod", r.key(), "err", err)
	}
	startedAt := metav1.NewTime(r.sh.now())
	set(corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: startedAt}}, true)
	r.sh.log.Info("container started", "pod", r.key(), "container", c.Name, "pid", s.pid)

	werr := s.cmd.Wait()
	code := exitCode(s.cmd, werr)
	r.mu.Lock()
	delete(r.running, c.Name)
	r.mu.Unlock()
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	terminated(code, reason, "", startedAt)
	r.sh.log.Info("container exited", "pod", r.key(), "container", c.Name, "code", code)
	return code, nil
}

// setPhase: Running once an app container runs; Pending before.
func (r *podRun) setPhase(s *corev1.PodStatus) {
	if s.Phase == corev1.PodSucceeded || s.Phase == corev1.PodFailed {
		return
	}
	allReady := len(s.ContainerStatuses) > 0
	for _, cs := range s.ContainerStatuses {
		if cs.State.Running != nil || cs.State.Terminated != nil {
			s.Phase = corev1.PodRunning
		}
		if !cs.Ready {
			allReady = false
		}
	}
	v := corev1.ConditionFalse
	if allReady {
		v = corev1.ConditionTrue
	}
	setCondition(s, corev1.PodReady, v, r.sh.now())
	setCondition(s, corev1.ContainersReady, v, r.sh.now())
	if s.Phase == corev1.PodRunning {
		setCondition(s, corev1.PodInitialized, corev1.ConditionTrue, r.sh.now())
	}
}

func (r *podRun) logPath(container string) string {
	return filepath.Join(r.dir, "logs", container+".log")
}

// containerSpec is what container-init needs for c.
func (r *podRun) containerSpec(c *corev1.Container, paths volumePaths) (*container.Spec, error) {
	argv := append(append([]string{}, c.Command...), c.Args...)
	if len(c.Command) == 0 {
		return nil, fmt.Errorf("%s has no command: local nodes run commands from the host's filesystem and know no image entrypoint", describe(c))
	}
	pod := r.snapshot()
	env, err := containerEnv(pod, c, r.objs)
	if err != nil {
		return nil, err
	}
	argv = expandAll(argv, env)
	uid, gid, groups := identity(pod, c)
	var mounts []container.Mount
	for _, vm := range c.VolumeMounts {
		src, ok := paths[vm.Name]
		if !ok {
			return nil, fmt.Errorf("%s mounts unknown volume %q", describe(c), vm.Name)
		}
		if vm.SubPath != "" {
			src = filepath.Join(src, filepath.Clean("/"+vm.SubPath))
		}
		mounts = append(mounts, container.Mount{Source: src, Target: vm.MountPath, ReadOnly: vm.ReadOnly || paths.readOnly(vm.Name)})
	}
	hostname := pod.Spec.Hostname
	if hostname == "" {
		hostname = pod.Name
	}
	dir := filepath.Join(r.dir, "containers", c.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var layers []string
	if l, ok := imageLayer(r.sh.images, c.Image); ok {
		layers = []string{l}
	}
	return &container.Spec{
		Dir: dir, ScratchBytes: r.sh.sizes.Scratch, Layers: layers,
		SkipMounts: []string{r.sh.state.Dir},
		Mounts:     mounts, Hostname: hostname, HostsFile: filepath.Join(r.dir, "hosts"), ShmBytes: r.sh.sizes.Shm,
		UID: uid, GID: gid, Groups: groups, UserName: "u" + strconv.FormatUint(uint64(uid), 10),
		Argv: argv, Env: env, WorkDir: c.WorkingDir,
	}, nil
}

// identity is the container's uid, gid and supplementary groups: the
// container's securityContext over the pod's; fsGroup and the pod's
// supplemental groups are supplementary groups. Without runAsUser the
// container runs as root, the host "image"'s default user.
func identity(pod *corev1.Pod, c *corev1.Container) (uid, gid uint32, groups []uint32) {
	psc := pod.Spec.SecurityContext
	if psc != nil {
		if psc.RunAsUser != nil {
			uid = uint32(*psc.RunAsUser)
		}
		if psc.RunAsGroup != nil {
			gid = uint32(*psc.RunAsGroup)
		}
		if psc.FSGroup != nil {
			groups = append(groups, uint32(*psc.FSGroup))
		}
		for _, g := range psc.SupplementalGroups {
			groups = append(groups, uint32(g))
		}
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = uint32(*sc.RunAsUser)
		}
		if sc.RunAsGroup != nil {
			gid = uint32(*sc.RunAsGroup)
		}
	}
	return uid, gid, groups
}

// exitCode is container-init's exit status: the command's, or 128+N when a
// signal N killed container-init itself.
func exitCode(cmd *exec.Cmd, err error) int {
	ps := cmd.ProcessState
	if ps == nil {
		return container.ExitStartError
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// imageLayer finds the directory images maps ref to: by the exact
// reference, else by its repository (a name without tag or digest in
// images stands for every tag of it: the agent names the init image by the
// version it was built with).
func imageLayer(images map[string]string, ref string) (string, bool) {
	if l, ok := images[ref]; ok {
		return l, true
	}
	repo := ref
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	l, ok := images[repo]
	return l, ok
}
