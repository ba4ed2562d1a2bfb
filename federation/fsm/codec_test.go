package fsm

import (
	"errors"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

func TestEncodeDecode(t *testing.T) {
	tests := map[string]Command{
		"submit":    &JobSubmit{Job: testJob("j")},
		"update":    &JobStateUpdate{ID: "j", State: structs.JobRunning, Time: t0},
		"purge":     &JobPurge{IDs: []string{"a"}},
		"heartbeat": &ClusterHeartbeat{Cluster: "c", Capacity: map[string]structs.Capacity{"n3": {Free: 1, Total: 2}}, Time: t0},
	}
	for name, cmd := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(cmd)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != Version || CommandType(b[1]) != TypeOf(cmd) {
				t.Fatalf("header % x", b[:2])
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(cmd, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := map[string][]byte{
		"nil":          nil,
		"one byte":     {Version},
		"version 0":    {0, byte(TypeOf(&JobSubmit{})), '{', '}'},
		"version 2":    {2, byte(TypeOf(&JobSubmit{})), '{', '}'},
		"type 0":       {Version, 0, '{', '}'},
		"type 255":     {Version, 255, '{', '}'},
		"no body":      {Version, byte(TypeOf(&JobSubmit{}))},
		"bad json":     append([]byte{Version, byte(TypeOf(&JobSubmit{}))}, `{"job":`...),
		"wrong shape":  append([]byte{Version, byte(TypeOf(&JobSubmit{}))}, `{"job":[1,2]}`...),
		"bad duration": append([]byte{Version, byte(TypeOf(&JobSubmit{}))}, `{"job":{"walltime":"soon"}}`...),
		"bad time":     append([]byte{Version, byte(TypeOf(&JobCancel{}))}, `{"id":"x","time":"yesterday"}`...),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(b); !errors.Is(err, structs.ErrInvalid) {
				t.Errorf("Decode = %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := Encode(nil); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("Encode(nil) = %v", err)
	}
}

func TestCommandTypeString(t *testing.T) {
	if got := TypeOf(&JobSubmit{}).String(); got != "JobSubmit" {
		t.Errorf("String = %q", got)
	}
	if got := CommandType(200).String(); got != "CommandType(200)" {
		t.Errorf("String = %q", got)
	}
}

// TestCASEncoding: a precondition round-trips, and an upsert without one
// encodes exactly as before the fields existed, so old log entries decode
// to unconditional writes.
func TestCASEncoding(t *testing.T) {
	cas := &UserUpsert{User: structs.User{Username: "bob"}, CAS: structs.CAS{ExpectModifyIndex: 7}}
	got, err := Decode(MustEncode(cas))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Command(cas), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	plain := MustEncode(&TenantUpsert{Tenant: structs.Tenant{Name: "acme"}})
	if want := `{"tenant":{"name":"acme"}}`; string(plain[2:]) != want {
		t.Errorf("unconditional upsert encodes as %s, want %s", plain[2:], want)
	}
	old := append([]byte{Version, byte(TypeOf(&ClusterUpsert{}))}, `{"cluster":{"name":"east"}}`...)
	c, err := Decode(old)
	if err != nil {
		t.Fatal(err)
	}
	if cu := c.(*ClusterUpsert); cu.CAS != (structs.CAS{}) {
		t.Errorf("old entry decodes with precondition %+v", cu.CAS)
	}
}
