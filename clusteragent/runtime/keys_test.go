package runtime

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestNewKeyPair(t *testing.T) {
	kp, err := NewKeyPair(fixedRandom(), "flotilla-j1")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(kp.Private)
	if err != nil {
		t.Fatalf("private key does not parse: %v\n%s", err, kp.Private)
	}
	pub, comment, _, rest, err := ssh.ParseAuthorizedKey(kp.AuthorizedKeys)
	if err != nil || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("authorized_keys: %v, rest %q", err, rest)
	}
	if comment != "flotilla-j1" {
		t.Errorf("comment %q", comment)
	}
	if !bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
		t.Error("authorized key is not the private key's public half")
	}
	if pub.Type() != ssh.KeyAlgoED25519 || !strings.HasPrefix(string(kp.Public), "ssh-ed25519 ") {
		t.Errorf("public key %q", kp.Public)
	}
	// The raw key parses too, and signs what the public key verifies.
	raw, err := ssh.ParseRawPrivateKey(kp.Private)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := raw.(*ed25519.PrivateKey); !ok {
		t.Errorf("raw key is %T", raw)
	}
	sig, err := signer.Sign(nil, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Verify([]byte("hello"), sig); err != nil {
		t.Errorf("verify: %v", err)
	}
	again, err := NewKeyPair(fixedRandom(), "flotilla-j1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Private, kp.Private) || !bytes.Equal(again.Public, kp.Public) {
		t.Error("the same random stream gave a different key")
	}
	other, err := NewKeyPair(bytes.NewReader(bytes.Repeat([]byte{7}, 64)), "")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other.Public, kp.Public) {
		t.Error("different randomness gave the same key")
	}
}
