package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// fuzzDecoder checks a request decoder on arbitrary bytes: it never
// panics; every refusal is ErrInvalid (a 400, never a 500); and whatever
// it accepts survives a round trip: encoded again it decodes to the same
// encoding. Seeds are in testdata/fuzz/<FuzzName>/.
func fuzzDecoder[T any](f *testing.F, decode func(io.Reader) (T, error)) {
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, structs.ErrInvalid) {
				t.Fatalf("refusal %v is not ErrInvalid", err)
			}
			return
		}
		b1, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("accepted value does not encode: %v", err)
		}
		v2, err := decode(bytes.NewReader(b1))
		if err != nil {
			t.Fatalf("re-encoded %s refused: %v", b1, err)
		}
		b2, err := json.Marshal(v2)
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("round trip changed %s to %s (%v)", b1, b2, err)
		}
	})
}

func FuzzDecodeJobSubmit(f *testing.F)     { fuzzDecoder(f, decodeJobSubmit) }
func FuzzDecodeJarviceSubmit(f *testing.F) { fuzzDecoder(f, decodeJarviceSubmit) }
func FuzzDecodeUserSpec(f *testing.F)      { fuzzDecoder(f, decodeUserSpec) }
func FuzzDecodeClusterSpec(f *testing.F)   { fuzzDecoder(f, decodeClusterSpec) }
func FuzzDecodeClusterStatus(f *testing.F) { fuzzDecoder(f, decodeClusterStatus) }
func FuzzDecodeAPIKeyRequest(f *testing.F) { fuzzDecoder(f, decodeAPIKeyRequest) }

func FuzzDecodeTenant(f *testing.F) {
	fuzzDecoder(f, func(r io.Reader) (*structs.Tenant, error) { return decodeTenant(r, "acme") })
}

func FuzzDecodeTeam(f *testing.F) {
	fuzzDecoder(f, func(r io.Reader) (*structs.Team, error) { return decodeTeam(r, "acme", "physics") })
}

func FuzzDecodeMachineType(f *testing.F) {
	fuzzDecoder(f, func(r io.Reader) (*structs.MachineType, error) { return decodeMachineType(r, "n3") })
}

func FuzzDecodeVault(f *testing.F) {
	fuzzDecoder(f, func(r io.Reader) (*structs.Vault, error) { return decodeVault(r, "acme", "data") })
}

func FuzzDecodeApp(f *testing.F) {
	fuzzDecoder(f, func(r io.Reader) (*structs.App, error) { return decodeApp(r, "solver") })
}

func FuzzDecodeLimit(f *testing.F) {
	fuzzDecoder(f, func(r io.Reader) (*structs.Limit, error) { return decodeLimit(r, "cores") })
}

func FuzzDecodeBurstRule(f *testing.F) {
	fuzzDecoder(f, func(r io.Reader) (*structs.BurstRule, error) { return decodeBurstRule(r, "spill") })
}

func FuzzDecodeReplicaJoin(f *testing.F) { fuzzDecoder(f, decodeReplicaJoin) }

func FuzzDecodeAccessRule(f *testing.F) {
	fuzzDecoder(f, func(r io.Reader) (*structs.AccessRule, error) { return decodeAccessRule(r, "us-only") })
}
