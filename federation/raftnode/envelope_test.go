package raftnode

import (
	"bytes"
	"errors"
	"testing"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	cases := map[string][][]byte{
		"empty batch":   {},
		"one command":   {[]byte("a=1")},
		"empty command": {{}, []byte("x"), {}},
		"long command":  {bytes.Repeat([]byte("z"), 300), []byte("short")},
	}
	for name, cmds := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := decodeEnvelope(encodeEnvelope(cmds))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(cmds) {
				t.Fatalf("decoded %d commands, want %d", len(got), len(cmds))
			}
			for i := range cmds {
				if !bytes.Equal(got[i], cmds[i]) {
					t.Errorf("command %d = %q, want %q", i, got[i], cmds[i])
				}
			}
		})
	}
}

func TestEnvelopeRejectsMalformed(t *testing.T) {
	cases := map[string][]byte{
		"nil":              nil,
		"unknown version":  {0x02, 0x00},
		"missing count":    {envelopeV1},
		"count too large":  {envelopeV1, 0x05, 0x00},
		"length overruns":  {envelopeV1, 0x01, 0x09, 'a'},
		"trailing bytes":   {envelopeV1, 0x01, 0x01, 'a', 'b'},
		"truncated varint": {envelopeV1, 0x01, 0x80},
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeEnvelope(data); !errors.Is(err, ErrBadEnvelope) {
				t.Errorf("decodeEnvelope(%x) error = %v, want ErrBadEnvelope", data, err)
			}
		})
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(encodeEnvelope([][]byte{[]byte("a=1"), {}}))
	f.Add([]byte{envelopeV1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		cmds, err := decodeEnvelope(data)
		if err != nil {
			return
		}
		if again := encodeEnvelope(cmds); !bytes.Equal(again, data) {
			// Non-minimal uvarints decode but re-encode differently;
			// decoding the re-encoding must still give the same commands.
			back, err := decodeEnvelope(again)
			if err != nil || len(back) != len(cmds) {
				t.Fatalf("re-encoded envelope does not decode: %v", err)
			}
			for i := range cmds {
				if !bytes.Equal(back[i], cmds[i]) {
					t.Fatalf("command %d changed: %q vs %q", i, back[i], cmds[i])
				}
			}
		}
	})
}
