package state

import (
	"errors"
	"testing"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// TestNotFoundText: the one-string-key path of notFound says what the
// general one says, with the same kind.
func TestNotFoundText(t *testing.T) {
	for _, key := range []string{"j-1", `odd "quoted" \ key`, "ünïcode", "bad\xffutf8", ""} {
		got := notFound("job", key)
		want := structs.Errorf(structs.ErrNotFound, "%s %q", "job", joinKey([]any{key}))
		if got.Error() != want.Error() {
			t.Errorf("key %q: %q, want %q", key, got, want)
		}
		if !errors.Is(got, structs.ErrNotFound) || structs.KindOf(got) != structs.ErrNotFound {
			t.Errorf("key %q: kind of %v is not ErrNotFound", key, got)
		}
	}
	if got, want := notFound("user", "acme", "bob").Error(), `user "acme/bob": not found`; got != want {
		t.Errorf("two-part key: %q, want %q", got, want)
	}
}
