// Package agent wires one cluster agent: its configuration from the
// command line (Flags), the cluster half (Cluster: informer cache, the
// level-2 scheduling loop over the pure scheduler and the binder, the job
// runner of package runtime, the file servers of ReadWriteOnce vaults) and
// the hub sync that feeds the runner the hub's assignments and carries its
// reports back, and, on a cloud cluster, the elastic loop that resizes its
// node groups for waiting gangs (Elastic, over the pure clusteragent/elastic)
// and adds how far they can grow to the capacity report. cmd/flotilla-agent, the demo, the benchmarks and the
// end-to-end suites run agents through it.
package agent
