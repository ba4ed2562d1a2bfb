package runtime

import (
	"encoding/json"
	"time"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// Final is a job's end as the runner records it on the job Secret
// (podgroup.AnnotFinal) before reporting it, so that a restarted agent
// reports it again instead of running the job again.
type Final struct {
	State     structs.JobState `json:"state"`
	Substatus string           `json:"substatus,omitempty"`
	ExitCode  int              `json:"exit_code,omitempty"`
	LogTail   string           `json:"log_tail,omitempty"`
	Time      time.Time        `json:"time"`
	// Array is an array job's last progress.
	Array *structs.ArrayProgress `json:"array,omitempty"`
}

// encode renders f as the annotation value.
func (f Final) encode() string {
	b, _ := json.Marshal(f) // plain fields: cannot fail
	return string(b)
}

// decodeFinal reads a recorded final state. A record that cannot be read
// (or names no terminal state) still says the job ended: it is read as an
// error end saying so.
func decodeFinal(s string) *Final {
	var f Final
	if err := json.Unmarshal([]byte(s), &f); err != nil || !f.State.IsTerminal() {
		return &Final{State: structs.JobCompletedWithError, ExitCode: 1,
			Substatus: "the job ended; its recorded final state is unreadable"}
	}
	return &f
}
