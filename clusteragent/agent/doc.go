// Package agent wires the cluster agent together: the level-2 scheduling
// loop over the cache, scheduler and binder, and the job reconciler that turns
// the hub's assignments into pod groups and reports their state.
package agent
