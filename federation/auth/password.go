package auth

import (
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"golang.org/x/crypto/bcrypt"
)

// Password length bounds; bcrypt reads at most 72 bytes.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 72
)

// HashPassword returns the bcrypt hash of password at cost (0 means
// bcrypt.DefaultCost). Passwords outside the length bounds are ErrInvalid.
func HashPassword(password string, cost int) (string, error) {
	if len(password) < MinPasswordLen || len(password) > MaxPasswordLen {
		return "", structs.Errorf(structs.ErrInvalid, "password: want %d to %d bytes", MinPasswordLen, MaxPasswordLen)
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", structs.Errorf(structs.ErrInvalid, "password: %v", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches a bcrypt hash.
func CheckPassword(hash, password string) bool {
	return hash != "" && bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
