// Package runtime renders and runs a job's HPC runtime environment on
// Kubernetes: the job Secret with a fresh SSH key pair (and, for interactive
// commands, a token), the machinefile ConfigMap, the headless Service that
// gives every pod a stable DNS name before it is scheduled, the pods of the
// job decorated to run flotilla-init, the NetworkPolicy that fences the job
// off, and for interactive commands a Service and an Ingress.
//
// Render is pure: job, machine type, AppDef command, identity and cluster
// options in, objects out. Randomness comes from a caller-supplied reader, so
// the same inputs give byte-identical objects. The Secret is created first;
// every other object names it as owner, so deleting the Secret garbage-collects
// the whole job.
//
// Reconciler is the job runner of an agent: it turns the hub's assignments
// (Input, built by InputOf) into those objects, follows the job's pods and
// reports each state change.
package runtime
