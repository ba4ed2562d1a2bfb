package hub

import (
	"context"
	"errors"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/flotilla-hpc/flotilla/policy/access"
)

// PolicyAdmission is the hub's default Admission: access rules are
// enforced at submit (a denied job gets a 403 naming the rule and is never
// stored); an admitted job starts QUEUED. Limits do not reject: the
// dispatcher holds a job over a limit (HELD, with the limit's name) and
// releases it when usage falls.
type PolicyAdmission struct{}

// Admit implements Admission.
func (PolicyAdmission) Admit(_ context.Context, view *state.ReadTxn, job *structs.Job) (Decision, error) {
	rules, err := view.AccessRules()
	if err != nil {
		return Decision{}, err
	}
	if len(rules) == 0 {
		return Decision{State: structs.JobQueued}, nil
	}
	user, err := view.User(job.Owner)
	if err != nil {
		return Decision{}, err
	}
	app, err := view.App(job.App)
	if err != nil {
		return Decision{}, err
	}
	mt, err := view.MachineType(job.MachineType)
	if err != nil {
		return Decision{}, err
	}
	var vault *structs.Vault
	if job.Vault != "" {
		if vault, err = view.Vault(job.Tenant, job.Vault); err != nil {
			return Decision{}, err
		}
	}
	if err := access.New(rules).CheckSubmit(user, job, app, mt, vault); err != nil {
		// App visibility and machine-type privileges ("builtin:" rules) are
		// the API's RBAC decision, already taken for this caller; only the
		// administrators' named rules are enforced here.
		var denied *access.DeniedError
		if errors.As(err, &denied) && strings.HasPrefix(denied.Rule, "builtin:") {
			return Decision{State: structs.JobQueued}, nil
		}
		return Decision{}, err
	}
	return Decision{State: structs.JobQueued}, nil
}
