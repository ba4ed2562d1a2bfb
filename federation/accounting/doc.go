// Package accounting turns the hub's accounting records into reports, as
// sacct and sreport do for Slurm: the records of a time window as rows,
// or sums (jobs, node-, core-, GPU-hours, cost) grouped by tenant, team,
// user, project, machine type, cluster and period, in CSV or JSON. It is
// pure: records in, report out; the times it parses are Slurm's formats.
package accounting
