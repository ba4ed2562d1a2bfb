// Package agent wires the cluster agent together: the level-2 scheduling
// loop over the cache, scheduler and binder, and the job reconciler that turns
// the hub's assignments into their runtime environments (runtime.Render's
// objects, file servers for ReadWriteOnce vaults) and reports their state.
package agent
