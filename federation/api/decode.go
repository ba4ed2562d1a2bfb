package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// decodeStrict reads exactly one JSON value from r into v, refusing
// unknown fields and trailing data. Oversize bodies (http.MaxBytesReader)
// give errTooLarge; everything else wrong is ErrInvalid.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return invalid("request body: want a single JSON value")
	default:
		if e := decodeError(err); errors.Is(e, errTooLarge) {
			return e
		}
		return invalid("request body: want a single JSON value")
	}
}

func decodeError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return fmt.Errorf("%w: limit %d bytes", errTooLarge, mbe.Limit)
	case errors.Is(err, io.EOF):
		return errEmptyBody
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("request body: truncated JSON")
	case structs.KindOf(err) != nil:
		return err // e.g. a Duration's own ErrInvalid
	}
	return invalid("request body: %v", err)
}

// decode reads the request body strictly into v under the size limit.
func (c *call) decode(v any) error {
	return decodeStrict(http.MaxBytesReader(c.w, c.r.Body, c.s.maxBody), v)
}

// errEmptyBody is the (ErrInvalid) error for a missing body.
var errEmptyBody = &structs.Error{Kind: structs.ErrInvalid, Msg: "request body: empty"}

// decodeOptional is decode for bodies that may be empty.
func (c *call) decodeOptional(v any) error {
	if err := c.decode(v); err != nil && !errors.Is(err, errEmptyBody) {
		return err
	}
	return nil
}

// pathName checks that a name given in the body, if any, matches the path.
func pathName(what, inBody, inPath string) (string, error) {
	if inBody != "" && inBody != inPath {
		return "", invalid("%s %q in body differs from %q in path", what, inBody, inPath)
	}
	return inPath, nil
}

// The decoders below turn a request body into a validated object; the
// handlers and the fuzz tests use them.

func decodeTenant(r io.Reader, name string) (*structs.Tenant, error) {
	var t structs.Tenant
	if err := decodeStrict(r, &t); err != nil {
		return nil, err
	}
	var err error
	if t.Name, err = pathName("tenant", t.Name, name); err != nil {
		return nil, err
	}
	t.RaftIndex = structs.RaftIndex{}
	return &t, t.Validate()
}

func decodeTeam(r io.Reader, tenant, name string) (*structs.Team, error) {
	var t structs.Team
	if err := decodeStrict(r, &t); err != nil {
		return nil, err
	}
	var err error
	if t.Tenant, err = pathName("tenant", t.Tenant, tenant); err != nil {
		return nil, err
	}
	if t.Name, err = pathName("team", t.Name, name); err != nil {
		return nil, err
	}
	t.RaftIndex = structs.RaftIndex{}
	return &t, t.Validate()
}

func decodeUserSpec(r io.Reader) (*structs.UserSpec, error) {
	var u structs.UserSpec
	if err := decodeStrict(r, &u); err != nil {
		return nil, err
	}
	if !u.Role.Valid() {
		return nil, invalid("user: role %q", u.Role)
	}
	return &u, nil
}

func decodeMachineType(r io.Reader, name string) (*structs.MachineType, error) {
	var m structs.MachineType
	if err := decodeStrict(r, &m); err != nil {
		return nil, err
	}
	var err error
	if m.Name, err = pathName("machine type", m.Name, name); err != nil {
		return nil, err
	}
	m.RaftIndex = structs.RaftIndex{}
	return &m, m.Validate()
}

func decodeClusterSpec(r io.Reader) (*structs.ClusterSpec, error) {
	var c structs.ClusterSpec
	if err := decodeStrict(r, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

func decodeVault(r io.Reader, tenant, name string) (*structs.Vault, error) {
	var v structs.Vault
	if err := decodeStrict(r, &v); err != nil {
		return nil, err
	}
	var err error
	if v.Tenant, err = pathName("tenant", v.Tenant, tenant); err != nil {
		return nil, err
	}
	if v.Name, err = pathName("vault", v.Name, name); err != nil {
		return nil, err
	}
	v.RaftIndex = structs.RaftIndex{}
	return &v, v.Validate()
}

func decodeApp(r io.Reader, name string) (*structs.App, error) {
	var a structs.App
	if err := decodeStrict(r, &a); err != nil {
		return nil, err
	}
	var err error
	if a.Name, err = pathName("app", a.Name, name); err != nil {
		return nil, err
	}
	a.RaftIndex = structs.RaftIndex{}
	return &a, a.Validate()
}

func decodeLimit(r io.Reader, name string) (*structs.Limit, error) {
	var l structs.Limit
	if err := decodeStrict(r, &l); err != nil {
		return nil, err
	}
	var err error
	if l.Name, err = pathName("limit", l.Name, name); err != nil {
		return nil, err
	}
	l.RaftIndex = structs.RaftIndex{}
	return &l, l.Validate()
}

func decodeBurstRule(r io.Reader, name string) (*structs.BurstRule, error) {
	var b structs.BurstRule
	if err := decodeStrict(r, &b); err != nil {
		return nil, err
	}
	var err error
	if b.Name, err = pathName("burst rule", b.Name, name); err != nil {
		return nil, err
	}
	b.RaftIndex = structs.RaftIndex{}
	return &b, b.Validate()
}

func decodeJobSubmit(r io.Reader) (*structs.JobSubmitRequest, error) {
	var j structs.JobSubmitRequest
	if err := decodeStrict(r, &j); err != nil {
		return nil, err
	}
	switch {
	case j.App == "":
		return nil, invalid("job: app is required")
	case j.MachineType == "":
		return nil, invalid("job: machine_type is required")
	case j.Nodes < 1 || j.Nodes > structs.MaxJobNodes:
		return nil, invalid("job: nodes %d out of 1..%d", j.Nodes, structs.MaxJobNodes)
	case j.Walltime < 0:
		return nil, invalid("job: negative walltime")
	case j.Priority != "" && !j.Priority.Valid():
		return nil, invalid("job: priority %q", j.Priority)
	}
	return &j, nil
}

func decodeJarviceSubmit(r io.Reader) (*structs.JarviceSubmit, error) {
	var j structs.JarviceSubmit
	if err := decodeStrict(r, &j); err != nil {
		return nil, err
	}
	if _, err := jarviceJobRequest(&j); err != nil {
		return nil, err
	}
	return &j, nil
}

// maxJobReports bounds the job reports of one status push.
const maxJobReports = 10_000

func decodeClusterStatus(r io.Reader) (*structs.ClusterStatusReport, error) {
	var rep structs.ClusterStatusReport
	if err := decodeStrict(r, &rep); err != nil {
		return nil, err
	}
	if rep.Status != "" && !rep.Status.Valid() {
		return nil, invalid("status: %q", rep.Status)
	}
	for mt, v := range rep.Capacity {
		if v.Free < 0 || v.Total < 0 || v.Free > v.Total {
			return nil, invalid("capacity of %q: free %d, total %d", mt, v.Free, v.Total)
		}
	}
	if len(rep.Jobs) > maxJobReports {
		return nil, invalid("%d job reports: at most %d in one push", len(rep.Jobs), maxJobReports)
	}
	// ASSIGNED is allowed: it refreshes the reason of a job still waiting
	// for its nodes; the state machine refuses it as a change of state.
	for _, j := range rep.Jobs {
		if j.ID == "" || !j.State.Valid() {
			return nil, invalid("job report %q: state %q", j.ID, j.State)
		}
		if j.Number == 0 {
			return nil, invalid("job report %q: no job number", j.ID)
		}
	}
	return &rep, nil
}

func decodeAPIKeyRequest(r io.Reader) (*structs.APIKeyRequest, error) {
	var k structs.APIKeyRequest
	if err := decodeStrict(r, &k); err != nil {
		return nil, err
	}
	if len(k.Name) > 253 {
		return nil, invalid("api key name: longer than 253 bytes")
	}
	return &k, nil
}

// body returns the request body under the size limit, for the decoders.
func (c *call) body() io.Reader { return http.MaxBytesReader(c.w, c.r.Body, c.s.maxBody) }
