package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// decodeStrict reads exactly one JSON value from r into v, refusing
// unknown fields and trailing data. Oversize bodies (http.MaxBytesReader)
// give structs.ErrTooLarge; everything else wrong is ErrInvalid.
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
		if e := decodeError(err); errors.Is(e, structs.ErrTooLarge) {
			return e
		}
		return invalid("request body: want a single JSON value")
	}
}

func decodeError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return structs.Errorf(structs.ErrTooLarge, "request body over the limit of %d bytes", mbe.Limit)
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

// storedObject is an object the API stores whole: its raft index is the
// store's to set, and it validates itself.
type storedObject[T any] interface {
	*T
	GetRaftIndex() *structs.RaftIndex
	Validate() error
}

// pathKey is a key field of an object (its name, its tenant) that the
// path gives: the body may repeat it, not change it (see pathName).
type pathKey struct {
	what  string
	field *string
	path  string
}

// decodeObject decodes a stored object strictly, takes its keys from the
// path, clears its raft index and validates it.
func decodeObject[T any, P storedObject[T]](r io.Reader, keys func(P) []pathKey) (P, error) {
	o := P(new(T))
	if err := decodeStrict(r, o); err != nil {
		return nil, err
	}
	for _, k := range keys(o) {
		v, err := pathName(k.what, *k.field, k.path)
		if err != nil {
			return nil, err
		}
		*k.field = v
	}
	*o.GetRaftIndex() = structs.RaftIndex{}
	return o, o.Validate()
}

// decodeValue decodes a request value strictly and runs check (nil:
// none) on it.
func decodeValue[T any](r io.Reader, check func(*T) error) (*T, error) {
	v := new(T)
	if err := decodeStrict(r, v); err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func decodeTenant(r io.Reader, name string) (*structs.Tenant, error) {
	return decodeObject(r, func(t *structs.Tenant) []pathKey { return []pathKey{{"tenant", &t.Name, name}} })
}

func decodeTeam(r io.Reader, tenant, name string) (*structs.Team, error) {
	return decodeObject(r, func(t *structs.Team) []pathKey {
		return []pathKey{{"tenant", &t.Tenant, tenant}, {"team", &t.Name, name}}
	})
}

func decodeUserSpec(r io.Reader) (*structs.UserSpec, error) {
	return decodeValue(r, func(u *structs.UserSpec) error {
		if !u.Role.Valid() {
			return invalid("user: role %q", u.Role)
		}
		return nil
	})
}

func decodeMachineType(r io.Reader, name string) (*structs.MachineType, error) {
	return decodeObject(r, func(m *structs.MachineType) []pathKey { return []pathKey{{"machine type", &m.Name, name}} })
}

func decodeClusterSpec(r io.Reader) (*structs.ClusterSpec, error) {
	return decodeValue[structs.ClusterSpec](r, nil)
}

func decodeVault(r io.Reader, tenant, name string) (*structs.Vault, error) {
	return decodeObject(r, func(v *structs.Vault) []pathKey {
		return []pathKey{{"tenant", &v.Tenant, tenant}, {"vault", &v.Name, name}}
	})
}

func decodeApp(r io.Reader, name string) (*structs.App, error) {
	return decodeObject(r, func(a *structs.App) []pathKey { return []pathKey{{"app", &a.Name, name}} })
}

func decodeLimit(r io.Reader, name string) (*structs.Limit, error) {
	return decodeObject(r, func(l *structs.Limit) []pathKey { return []pathKey{{"limit", &l.Name, name}} })
}

func decodeBurstRule(r io.Reader, name string) (*structs.BurstRule, error) {
	return decodeObject(r, func(b *structs.BurstRule) []pathKey { return []pathKey{{"burst rule", &b.Name, name}} })
}

func decodeJarviceSubmit(r io.Reader) (*structs.JarviceSubmit, error) {
	return decodeValue(r, func(j *structs.JarviceSubmit) error {
		_, err := jarviceJobRequest(j)
		return err
	})
}

// maxJobReports bounds the job reports of one status push.
const maxJobReports = 10_000

func decodeClusterStatus(r io.Reader) (*structs.ClusterStatusReport, error) {
	return decodeValue(r, checkClusterStatus)
}

func checkClusterStatus(rep *structs.ClusterStatusReport) error {
	if rep.Status != "" && !rep.Status.Valid() {
		return invalid("status: %q", rep.Status)
	}
	for mt, v := range rep.Capacity {
		if v.Free < 0 || v.Total < 0 || v.Free > v.Total || v.Grow < 0 {
			return invalid("capacity of %q: free %d, total %d, grow %d", mt, v.Free, v.Total, v.Grow)
		}
	}
	if err := rep.Catalog.Validate(); err != nil {
		return err
	}
	rep.Agent.Normalize()
	if err := rep.Agent.Validate(); err != nil {
		return err
	}
	if len(rep.Jobs) > maxJobReports {
		return invalid("%d job reports: at most %d in one push", len(rep.Jobs), maxJobReports)
	}
	// ASSIGNED is allowed: it refreshes the reason of a job still waiting
	// for its nodes; the state machine refuses it as a change of state.
	for _, j := range rep.Jobs {
		if j.ID == "" || !j.State.Valid() {
			return invalid("job report %q: state %q", j.ID, j.State)
		}
		if j.Number == 0 {
			return invalid("job report %q: no job number", j.ID)
		}
	}
	return nil
}

func decodeAPIKeyRequest(r io.Reader) (*structs.APIKeyRequest, error) {
	return decodeValue(r, func(k *structs.APIKeyRequest) error {
		if len(k.Name) > 253 {
			return invalid("api key name: longer than 253 bytes")
		}
		return nil
	})
}

// body returns the request body under the size limit, for the decoders.
func (c *call) body() io.Reader { return http.MaxBytesReader(c.w, c.r.Body, c.s.maxBody) }
