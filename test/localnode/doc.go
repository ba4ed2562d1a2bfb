// Package localnode runs Kubernetes nodes whose pods are real processes on
// this machine, for tests and the demo. Each node registers with the API
// server through virtual-kubelet (node/nodeutil) and runs the pods bound to
// it with this package's provider:
//
//   - every pod gets a network namespace joined by a veth pair to a bridge
//     in a "switch" namespace of the node process; its address on that
//     bridge is the pod IP (reported in the pod's status), and its
//     /etc/hosts names the pods of its subdomain (<pod>.<subdomain>...),
//     as cluster DNS would;
//   - every container runs in its own mount, PID, UTS and IPC namespaces
//     (package container): the host's root filesystem is its image (nothing
//     is pulled; an image may add a directory layer on top), with a private
//     writable layer, the pod's Secret, ConfigMap, emptyDir, hostPath,
//     projected and downward-API volumes at their mount paths, its
//     environment (env, envFrom, fieldRef, secret and config map keys), its
//     command and args, as the pod's runAsUser/runAsGroup with fsGroup and
//     supplemental groups;
//   - init containers run in order, then the app containers; with
//     restartPolicy Never (the only policy served: nothing is restarted)
//     the pod ends Succeeded or Failed with each container's exit code;
//   - container output goes to a log file served by the kubelet API
//     (/containerLogs), so `kubectl logs` works through the API server;
//   - deleting a pod kills its processes and removes its namespace and
//     files.
//
// Everything a node process makes is recorded under its state directory
// (a tmpfs for pod files, so Secrets stay in memory as on a kubelet). A
// clean stop removes it all; a start after a SIGKILL removes what the dead
// process left: processes by PID, namespaces by name, mounts, files. Pods
// that were running when their node died are reported Failed, never run
// again. It needs root (network and mount namespaces, bridges, uid changes).
package localnode
