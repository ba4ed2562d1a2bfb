package runtime

import (
	"strings"

	"github.com/flotilla-hpc/flotilla/clusteragent/podgroup"
)

// Keys of the machinefile ConfigMap, also the file names under /etc/flotilla
// and /etc/JARVICE.
const (
	NodesKey = "nodes"
	CoresKey = "cores"
)

// Hostnames returns the DNS names of a job's pods, head first:
// "<pod>.<subdomain>". The headless Service named after the subdomain makes
// them resolvable (through the namespace's search domain) as soon as the pods
// exist, before they are ready, so the machinefile is known at render time.
func Hostnames(number uint64, nodes int) []string {
	hosts := make([]string, nodes)
	for rank := range nodes {
		hosts[rank] = podgroup.PodName(number, rank) + "." + podgroup.JobName(number)
	}
	return hosts
}

// NodesFile is the machinefile's "nodes": one host per line, head first.
func NodesFile(hosts []string) string {
	var b strings.Builder
	for _, h := range hosts {
		b.WriteString(h)
		b.WriteByte('\n')
	}
	return b.String()
}

// CoresFile is the machinefile's "cores": each host once per core, head first.
func CoresFile(hosts []string, cores int) string {
	var b strings.Builder
	for _, h := range hosts {
		for range cores {
			b.WriteString(h)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
