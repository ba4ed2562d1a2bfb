package raftnode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogStoreChoice covers how a data directory's log store is chosen:
// the default for a new directory, keeping what a directory holds, and
// refusing a mismatch with a message that names the fix.
func TestLogStoreChoice(t *testing.T) {
	withWAL := func(t *testing.T) string {
		d := t.TempDir()
		if err := os.Mkdir(filepath.Join(d, walDirName), 0o750); err != nil {
			t.Fatal(err)
		}
		return d
	}
	withBolt := func(t *testing.T) string {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, boltFileName), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	empty := func(t *testing.T) string { return t.TempDir() }
	both := func(t *testing.T) string {
		d := withWAL(t)
		if err := os.WriteFile(filepath.Join(d, boltFileName), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	cases := []struct {
		name    string
		dir     func(*testing.T) string
		want    string
		noSync  bool
		got     string
		wantErr string
	}{
		{name: "new dir defaults to wal", dir: empty, got: LogStoreWAL},
		{name: "new dir, bolt asked", dir: empty, want: LogStoreBolt, got: LogStoreBolt},
		{name: "new dir, nosync takes bolt", dir: empty, noSync: true, got: LogStoreBolt},
		{name: "wal dir kept", dir: withWAL, got: LogStoreWAL},
		{name: "bolt dir kept", dir: withBolt, got: LogStoreBolt},
		{name: "bolt dir, wal asked", dir: withBolt, want: LogStoreWAL, wantErr: `holds a bolt log store but wal was asked for; set the log store to "bolt"`},
		{name: "wal dir, bolt asked", dir: withWAL, want: LogStoreBolt, wantErr: `holds a wal log store but bolt was asked for`},
		{name: "wal dir, nosync", dir: withWAL, noSync: true, wantErr: "holds a wal log store but bolt was asked for"},
		{name: "both", dir: both, wantErr: "holds both"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveLogStore(Config{DataDir: tc.dir(t), LogStore: tc.want, NoSync: tc.noSync})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.got {
				t.Fatalf("resolveLogStore = %q, %v; want %q", got, err, tc.got)
			}
		})
	}
	for _, bad := range []Config{
		{ID: "a", BindAddr: "127.0.0.1:0", DataDir: "/d", LogStore: "rocks"},
		{ID: "a", BindAddr: "127.0.0.1:0", DataDir: "/d", LogStore: LogStoreWAL, NoSync: true},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("withDefaults(%+v) accepted", bad)
		}
	}
}
