package initproc

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGuardShares: a share link's token opens the job like the owner's
// until its file is removed; then it is refused, also as a cookie.
func TestGuardShares(t *testing.T) {
	dir := t.TempDir()
	owner, share := strings.Repeat("a", 64), strings.Repeat("b", 64)
	tokenFile := filepath.Join(dir, "token")
	shares := filepath.Join(dir, "shares")
	if err := os.WriteFile(tokenFile, []byte(owner+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(shares, "..data"), 0o700); err != nil {
		t.Fatal(err)
	}
	// The Secret volume's bookkeeping is never a token.
	if err := os.WriteFile(filepath.Join(shares, "..data", "x"), []byte(strings.Repeat("c", 64)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shares, "colleague"), []byte(share), 0o600); err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") }))
	defer app.Close()
	g, err := NewGuard(GuardConfig{Backend: strings.TrimPrefix(app.URL, "http://"), TokenFile: tokenFile, SharesDir: shares})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	status := func(cookie string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
		req.AddCookie(&http.Cookie{Name: GuardCookie, Value: cookie})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cases := []struct {
		name, token string
		want        int
	}{
		{"owner", owner, http.StatusOK},
		{"share", share, http.StatusOK},
		{"bookkeeping file", strings.Repeat("c", 64), http.StatusForbidden},
		{"short prefix of the owner's token", owner[:10], http.StatusForbidden},
	}
	for _, c := range cases {
		if got := status(c.token); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if err := os.Remove(filepath.Join(shares, "colleague")); err != nil {
		t.Fatal(err)
	}
	if got := status(share); got != http.StatusForbidden {
		t.Errorf("revoked share: %d, want 403", got)
	}
	if got := status(owner); got != http.StatusOK {
		t.Errorf("owner after the revocation: %d, want 200", got)
	}
}

// TestGuardHashedShares: share links made through the hub reach the guard
// as token hashes, some with an expiry: a token whose hash is there opens
// the job until its link expires; the hash itself, an expired link's
// token and a malformed file open nothing.
func TestGuardHashedShares(t *testing.T) {
	dir := t.TempDir()
	owner := strings.Repeat("a", 64)
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(owner), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	hash := func(tok string) string {
		sum := sha256.Sum256([]byte(tok))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	files := map[string]string{
		"plain":   hash("fjs_plain"),
		"later":   hash("fjs_later") + " expires=" + now.Add(time.Hour).Format(time.RFC3339),
		"ended":   hash("fjs_ended") + " expires=" + now.Add(-time.Second).Format(time.RFC3339),
		"garbled": hash("fjs_garbled") + " whenever",
	}
	shares := filepath.Join(dir, "shares")
	if err := os.MkdirAll(shares, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(shares, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	g, err := NewGuard(GuardConfig{Backend: "127.0.0.1:1", TokenFile: tokenFile, SharesDir: shares, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]bool{
		"fjs_plain": true, "fjs_later": true, "fjs_ended": false, "fjs_garbled": false,
		hash("fjs_plain"): false, "fjs_other": false, owner: true,
	} {
		if got := g.valid(tok); got != want {
			t.Errorf("token %q opens the job: %v, want %v", tok, got, want)
		}
	}
	g.cfg.Now = nil // no clock: a link with an expiry opens nothing
	if g.valid("fjs_later") || !g.valid("fjs_plain") {
		t.Errorf("without a clock: later %v (want false), plain %v (want true)", g.valid("fjs_later"), g.valid("fjs_plain"))
	}
}
