package raftnode

import (
	"encoding/binary"
	"fmt"
)

// envelopeV1 is the first byte of a version-1 batch envelope:
//
//	0x01 | uvarint(count) | count × (uvarint(len) | len bytes)
const envelopeV1 byte = 0x01

// encodeEnvelope packs cmds into one log entry payload.
func encodeEnvelope(cmds [][]byte) []byte {
	size := 1 + binary.MaxVarintLen64
	for _, c := range cmds {
		size += binary.MaxVarintLen64 + len(c)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, envelopeV1)
	buf = binary.AppendUvarint(buf, uint64(len(cmds)))
	for _, c := range cmds {
		buf = binary.AppendUvarint(buf, uint64(len(c)))
		buf = append(buf, c...)
	}
	return buf
}

// decodeEnvelope unpacks a payload made by encodeEnvelope. The returned
// commands alias data (no copies).
func decodeEnvelope(data []byte) ([][]byte, error) {
	if len(data) == 0 || data[0] != envelopeV1 {
		return nil, fmt.Errorf("%w: unknown version", ErrBadEnvelope)
	}
	rest := data[1:]
	count, n := binary.Uvarint(rest)
	if n <= 0 {
		return nil, fmt.Errorf("%w: bad count", ErrBadEnvelope)
	}
	rest = rest[n:]
	// Every command takes at least one byte (its length), which bounds count
	// before allocating.
	if count > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: count %d exceeds payload", ErrBadEnvelope, count)
	}
	cmds := make([][]byte, 0, count)
	for i := uint64(0); i < count; i++ {
		l, n := binary.Uvarint(rest)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad length of command %d", ErrBadEnvelope, i)
		}
		rest = rest[n:]
		if l > uint64(len(rest)) {
			return nil, fmt.Errorf("%w: command %d overruns payload", ErrBadEnvelope, i)
		}
		cmds = append(cmds, rest[:l:l])
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadEnvelope, len(rest))
	}
	return cmds, nil
}
