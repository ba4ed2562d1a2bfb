package fsm

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
	"github.com/google/go-cmp/cmp"
)

// wireNumbers are the type numbers of the log format. A command may be
// renamed (the Go name is not on the wire), never renumbered: this list
// changes only by growing.
var wireNumbers = map[CommandType]string{
	1: "TenantUpsert", 2: "TenantDelete", 3: "TeamUpsert", 4: "TeamDelete",
	5: "UserUpsert", 6: "UserDelete", 7: "MachineTypeUpsert", 8: "MachineTypeDelete",
	9: "ClusterUpsert", 10: "ClusterDelete", 11: "VaultUpsert", 12: "VaultDelete",
	13: "AppUpsert", 14: "AppDelete", 15: "LimitUpsert", 16: "LimitDelete",
	17: "BurstRuleUpsert", 18: "BurstRuleDelete", 19: "JobSubmit",
	20: "JobStateUpdate", // was JobUpdateState
	21: "JobAssignment",  // was JobAssign
	22: "JobCancel", 23: "JobPurge", 24: "ClusterHeartbeat", 25: "AccountingAppend",
	26: "AuditAppend", 27: "AccessRuleUpsert", 28: "AccessRuleDelete",
	29: "ReplicaUpsert", 30: "ReplicaDelete", 31: "AuditPurge",
	32: "ClaimRuleUpsert", 33: "ClaimRuleDelete",
	41: "CloudDeploymentUpsert", 42: "CloudDeploymentDelete",
	60: "ServiceAccountUpsert", 61: "ServiceAccountDelete", 62: "TriggerUpsert", 63: "TriggerDelete",
	64: "VaultExportUpsert", 65: "VaultExportDelete", 66: "WebhookSettingsUpsert", 67: "SubscriptionUpsert",
	68: "SubscriptionDelete", 69: "DeliveryOutcomes", 70: "DeliveryRetry", 71: "DeliveryDrop",
	95: "JobCancelTasks", 96: "JobOutputRequest", 100: "JobSubmitExt",
	101: "ClusterAgent", 102: "JobSubmitArrayList",
	103: "JobSignal",
	105: "JobStateUpdateBin",
	106: "JobShares",
	107: "WebhookKeyRotate",
	80:  "JobAudited",
}

// TestRegistry: the registry gives every command its wire number, a zero
// command of each type encodes and decodes to its own type, and the
// registry alone says which commands delete.
func TestRegistry(t *testing.T) {
	got := map[CommandType]string{}
	for _, ct := range Types() {
		got[ct] = ct.String()
		cmd := ct.New()
		if TypeOf(cmd) != ct {
			t.Errorf("%s: TypeOf(New()) = %d", ct, TypeOf(cmd))
		}
		b, err := Encode(cmd)
		if err != nil {
			t.Errorf("%s: %v", ct, err)
			continue
		}
		if b[1] != byte(ct) {
			t.Errorf("%s encodes as type %d", ct, b[1])
		}
		back, err := Decode(b)
		if err != nil || TypeOf(back) != ct {
			t.Errorf("%s decodes to %T, %v", ct, back, err)
		}
		wantDelete := len(ct.String()) > 6 && ct.String()[len(ct.String())-6:] == "Delete" || ct.String() == "DeliveryDrop"
		if ct.IsDelete() != wantDelete {
			t.Errorf("%s: IsDelete = %v", ct, ct.IsDelete())
		}
	}
	if diff := cmp.Diff(wireNumbers, got); diff != "" {
		t.Errorf("wire numbers changed (-want +got):\n%s", diff)
	}
	type unregistered struct{ TenantUpsert }
	if _, err := Encode(&unregistered{}); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("Encode of an unregistered type = %v", err)
	}
	if CommandType(0).New() != nil || CommandType(255).New() != nil {
		t.Error("New of an unregistered number returns a command")
	}
}

// TestDecodeResult: every command's result, as the leader sends it to a
// follower in JSON, decodes to the type Apply returns.
func TestDecodeResult(t *testing.T) {
	job := &structs.Job{ID: "j-1", Number: 3, State: structs.JobQueued}
	ri := structs.RaftIndex{CreateIndex: 4, ModifyIndex: 9}
	tests := map[string]struct {
		cmd  Command
		val  any
		want any
	}{
		"upsert":     {&TenantUpsert{}, ri, ri},
		"replica":    {&ReplicaUpsert{}, ri, ri},
		"delete":     {&AppDelete{}, nil, nil},
		"submit":     {&JobSubmit{}, job, job},
		"state":      {&JobStateUpdate{}, job, job},
		"assignment": {&JobAssignment{}, job, job},
		"cancel":     {&JobCancel{}, job, job},
		"purge":      {&JobPurge{}, 7, 7},
		"auditpurge": {&AuditPurge{}, 3, 3},
		"heartbeat":  {&ClusterHeartbeat{}, nil, nil},
		"accounting": {&AccountingAppend{}, &structs.AccountingRecord{ID: "a", Seq: 2}, &structs.AccountingRecord{ID: "a", Seq: 2}},
		"audit":      {&AuditAppend{}, &structs.AuditEvent{ID: "e", Seq: 5}, &structs.AuditEvent{ID: "e", Seq: 5}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var raw json.RawMessage
			if tc.val != nil {
				raw, _ = json.Marshal(tc.val)
			}
			got, err := DecodeResult(TypeOf(tc.cmd), raw)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := DecodeResult(TypeOf(&JobSubmit{}), nil); err == nil {
		t.Error("a missing job result decoded")
	}
	if _, err := DecodeResult(200, nil); !errors.Is(err, structs.ErrInvalid) {
		t.Errorf("result of an unknown command: %v", err)
	}
}
