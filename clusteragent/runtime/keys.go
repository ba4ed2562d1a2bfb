package runtime

import (
	"crypto/ed25519"
	"encoding/pem"
	"fmt"
	"io"

	"golang.org/x/crypto/ssh"

	"github.com/flotilla-hpc/flotilla/federation/structs"
)

// KeyPair is a job's SSH identity as files: the OpenSSH private key (PEM),
// the public key and authorized_keys (both in authorized_keys format).
type KeyPair struct {
	Private        []byte
	Public         []byte
	AuthorizedKeys []byte
}

// NewKeyPair generates an ed25519 key pair from random (32 bytes for the
// seed, 4 for the OpenSSH check word), so the same reader gives the same
// key. comment ends the public key line.
func NewKeyPair(random io.Reader, comment string) (*KeyPair, error) {
	var buf [ed25519.SeedSize + 4]byte
	if _, err := io.ReadFull(random, buf[:]); err != nil {
		return nil, structs.Errorf(structs.ErrUnavailable, "generate ssh key: %v", err)
	}
	priv := ed25519.NewKeyFromSeed(buf[:ed25519.SeedSize])
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("generate ssh key: %w", err)
	}
	check := uint32(buf[32])<<24 | uint32(buf[33])<<16 | uint32(buf[34])<<8 | uint32(buf[35])
	line := ssh.MarshalAuthorizedKey(pub) // ends in "\n"
	if comment != "" {
		line = append(line[:len(line)-1], " "+comment+"\n"...)
	}
	return &KeyPair{
		Private:        marshalOpenSSHEd25519(priv, pub, comment, check),
		Public:         line,
		AuthorizedKeys: line,
	}, nil
}

// marshalOpenSSHEd25519 encodes an unencrypted "openssh-key-v1" private key.
// ssh.MarshalPrivateKey does the same but draws its check word from
// crypto/rand, which would make rendering nondeterministic.
func marshalOpenSSHEd25519(priv ed25519.PrivateKey, pub ssh.PublicKey, comment string, check uint32) []byte {
	inner := struct {
		Check1, Check2 uint32
		KeyType        string
		Pub            []byte
		Priv           []byte
		Comment        string
		Pad            []byte `ssh:"rest"`
	}{check, check, ssh.KeyAlgoED25519, priv.Public().(ed25519.PublicKey), priv, comment, nil}
	const block = 8 // the cipher "none" pads to 8 bytes
	if n := len(ssh.Marshal(inner)) % block; n != 0 {
		for i := 1; i <= block-n; i++ {
			inner.Pad = append(inner.Pad, byte(i))
		}
	}
	outer := struct {
		CipherName   string
		KdfName      string
		KdfOpts      string
		NumKeys      uint32
		PubKey       []byte
		PrivKeyBlock []byte
	}{"none", "none", "", 1, pub.Marshal(), ssh.Marshal(inner)}
	body := append([]byte("openssh-key-v1\x00"), ssh.Marshal(outer)...)
	return pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: body})
}
