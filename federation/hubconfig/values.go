package hubconfig

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Secret is a string that never shows in logs, %v, %#v or JSON.
type Secret string

const redacted = "[redacted]"

// String implements fmt.Stringer.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return redacted }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// Duration is a time.Duration read from JSON as a string such as "15s".
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s: want a string such as \"15s\"", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("duration %q: want a non-negative duration such as \"15s\"", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) String() string { return time.Duration(*d).String() }

// Set implements flag.Value.
func (d *Duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("want a non-negative duration such as 15s")
	}
	*d = Duration(v)
	return nil
}

// optionalDuration is the flag of a *Duration setting: unset stays nil.
type optionalDuration struct{ d **Duration }

func (o optionalDuration) String() string {
	if o.d == nil || *o.d == nil {
		return ""
	}
	return (*o.d).String()
}

// Set implements flag.Value.
func (o optionalDuration) Set(s string) error {
	var d Duration
	if err := d.Set(s); err != nil {
		return err
	}
	*o.d = &d
	return nil
}

// optionalBool is a flag.Value that sets a *bool: nil while unset, so
// that a flag overrides the config file only when given.
type optionalBool struct{ b **bool }

func (o optionalBool) String() string {
	if o.b == nil || *o.b == nil {
		return ""
	}
	return strconv.FormatBool(**o.b)
}

// Set implements flag.Value.
func (o optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*o.b = &v
	return nil
}

// IsBoolFlag lets the flag be given without a value (-http-lean).
func (o optionalBool) IsBoolFlag() bool { return true }
