package cli

import (
	"context"
	"time"
)

// runWebhookRotateKey is `flotilla admin webhooks rotate-key [--grace D]`:
// the hub's webhook signing key is replaced (system administrators); for
// the grace period owners' callbacks carry both signatures.
func runWebhookRotateKey(ctx context.Context, s *session, path, args []string) error {
	var grace string
	fs := s.flagSet("rotate-key")
	fs.StringVar(&grace, "grace", "", "how long callbacks also carry the old key's signature (default 24h; 0s: none)")
	_, cl, err := s.leafClient(fs, path, "", 0, 0, args)
	if err != nil {
		return err
	}
	if grace != "" {
		if _, err := time.ParseDuration(grace); err != nil {
			return usagef("rotate-key: --grace %q: want a duration such as 24h", grace)
		}
	}
	out, err := cl.RotateWebhookKey(ctx, grace)
	if err != nil {
		return err
	}
	return s.show(out, func() error {
		if out.PreviousUntil == nil {
			return s.line("Webhook signing key rotated: callbacks are signed with the new key only. Owners read their new secret with `flotilla admin webhooks secret`.")
		}
		return s.line("Webhook signing key rotated: callbacks carry the old and the new signature until %s. Owners read their new secret with `flotilla admin webhooks secret`.",
			out.PreviousUntil.UTC().Format(time.RFC3339))
	})
}
