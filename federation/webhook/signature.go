package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far a call's timestamp may be from the
// receiver's clock.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("webhook: missing or malformed signature header")
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: timestamp outside the tolerance (replayed or delayed call)")
)

// Sign returns the signature header value of body sent at t: one v1
// signature per secret, in order (during a signing key rotation's grace
// period the callbacks carry the new key's and the old key's, and a
// receiver checking either accepts the call, see Verify).
func Sign(secret []byte, t time.Time, body []byte, more ...[]byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	out := "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
	for _, s := range more {
		out += ",v1=" + hex.EncodeToString(mac(s, ts, body))
	}
	return out
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a call: header is the X-Flotilla-Signature value, body the
// raw request body, now the receiver's clock, tolerance the largest
// accepted distance between now and the call's timestamp (0:
// DefaultTolerance). Any v1 entry matching is enough (several appear while
// a secret rotates). A receiver that must never act twice on one call also
// remembers the signatures it accepted for the tolerance window.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			ok = true
		}
	}
	if !ok {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}

// OwnerSecret is the secret that signs the callback calls of owner's jobs:
// HMAC-SHA256(signing key, "callback:" + owner), hex. Owners read theirs
// with GET /v1/webhooks/secret.
func OwnerSecret(signingKey, owner string) string {
	m := hmac.New(sha256.New, []byte(signingKey))
	m.Write([]byte("callback:" + owner))
	return hex.EncodeToString(m.Sum(nil))
}

// Backoff is the wait before attempt n+1 after n failed attempts (n >= 1):
// base doubled per attempt, at most limit.
func Backoff(n int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}
