package structs

import "time"

// Usage is what a finished job consumed and cost.
type Usage struct {
	Elapsed   time.Duration `json:"-"`
	NodeHours float64       `json:"node_hours"`
	CoreHours float64       `json:"core_hours"`
	GPUHours  float64       `json:"gpu_hours"`
	Cost      float64       `json:"cost"`
}

// UsageOf computes a job's usage: nodes, cores and GPUs (totals over the
// nodes) held from start to end, at price per node-hour. A job that never
// started (zero start) or ends before it starts used nothing. Only
// products, no sums: replicas on different CPUs compute the same bits
// (no fused multiply-add can change the last one).
func UsageOf(nodes, cores, gpus int, start, end time.Time, price float64) Usage {
	if start.IsZero() || !end.After(start) {
		return Usage{}
	}
	d := end.Sub(start)
	h := d.Hours()
	return Usage{Elapsed: d, NodeHours: float64(nodes) * h, CoreHours: float64(cores) * h,
		GPUHours: float64(gpus) * h, Cost: price * float64(nodes) * h}
}

// Usage returns the record's usage: the stored hours and cost, derived
// from its size, times and price where a record (written by an older
// hub) lacks them. The stored cost always wins, so a report shows the
// price that held when the job ended.
func (r *AccountingRecord) Usage() Usage {
	u := UsageOf(r.Nodes, r.Cores, r.GPUs, r.Start, r.End, r.Price)
	if r.NodeHours != 0 || r.CoreHours != 0 || r.GPUHours != 0 {
		u.NodeHours, u.CoreHours, u.GPUHours = r.NodeHours, r.CoreHours, r.GPUHours
	}
	u.Cost = r.Cost
	return u
}

// AccountingSummary is one group of an accounting report: the group's
// key values (by the report's group names) and the sums over its jobs.
type AccountingSummary struct {
	Key       map[string]string `json:"key"`
	Jobs      int               `json:"jobs"`
	NodeHours float64           `json:"node_hours"`
	CoreHours float64           `json:"core_hours"`
	GPUHours  float64           `json:"gpu_hours"`
	Cost      float64           `json:"cost"`
	// Tasks and TaskNodeHours sum the array jobs' tasks (see
	// AccountingRecord.Tasks).
	Tasks         int     `json:"tasks,omitempty"`
	TaskNodeHours float64 `json:"task_node_hours,omitempty"`
}

// AccountingReport answers GET /v1/accounting: the records in the window
// (without grouping) or the summaries by Group.
type AccountingReport struct {
	Start     time.Time            `json:"start,omitzero"`
	End       time.Time            `json:"end,omitzero"`
	Group     []string             `json:"group,omitempty"`
	Records   []*AccountingRecord  `json:"records,omitempty"`
	Summaries []*AccountingSummary `json:"summaries,omitempty"`
}
