package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/flotilla-hpc/flotilla/federation/authz"
	"github.com/flotilla-hpc/flotilla/federation/state"
	"github.com/flotilla-hpc/flotilla/federation/structs"
	"golang.org/x/crypto/bcrypt"
)

// DefaultSystemTenant is the tenant whose administrators administer
// everything, unless Config.SystemTenant names another.
const DefaultSystemTenant = "system"

// Config configures an Authenticator.
type Config struct {
	// SystemTenant is the tenant whose administrators are global
	// administrators; "" means DefaultSystemTenant.
	SystemTenant string
	// Bootstrap, if set, is an administrator of the system tenant that
	// exists before anything is stored: its API key is checked against the
	// configuration, and BootstrapRecords gives the tenant and user to store.
	Bootstrap *BootstrapAdmin
	// BcryptCost is the cost of new password hashes; 0 means bcrypt's default.
	BcryptCost int
}

// BootstrapAdmin is the first administrator, from configuration.
type BootstrapAdmin struct {
	Username string
	// Password, if set, lets the administrator log in with a password once
	// the user record is stored.
	Password string
	// APIKey, if set, authenticates the administrator directly (at least 16
	// bytes, any shape).
	APIKey string
}

// Authenticator turns credentials into Identities, reading users, teams,
// tenants and clusters from a store. It is safe for concurrent use.
type Authenticator struct {
	store      *state.Store
	system     string
	cost       int
	bootUser   string
	bootKey    [sha256.Size]byte
	hasBootKey bool
	bootPass   string
	dummyHash  []byte
	keys       keyCache
}

// New returns an Authenticator reading store.
func New(store *state.Store, cfg Config) (*Authenticator, error) {
	a := &Authenticator{store: store, system: cfg.SystemTenant, cost: cfg.BcryptCost}
	if a.system == "" {
		a.system = DefaultSystemTenant
	}
	if a.cost == 0 {
		a.cost = bcrypt.DefaultCost
	}
	if b := cfg.Bootstrap; b != nil {
		if b.Username == "" {
			return nil, errors.New("auth: bootstrap admin needs a username")
		}
		a.bootUser, a.bootPass = b.Username, b.Password
		if b.APIKey != "" {
			if len(b.APIKey) < 16 {
				return nil, errors.New("auth: bootstrap admin api key: want at least 16 bytes")
			}
			a.bootKey, a.hasBootKey = sha256.Sum256([]byte(b.APIKey)), true
		}
	}
	// Compared against when a user is unknown, so that a failed password
	// login takes as long as a wrong password.
	h, err := bcrypt.GenerateFromPassword([]byte("flotilla-no-such-user"), a.cost)
	if err != nil {
		return nil, err
	}
	a.dummyHash = h
	return a, nil
}

// SystemTenant is the tenant whose administrators are global.
func (a *Authenticator) SystemTenant() string { return a.system }

// BcryptCost is the cost used for new password hashes.
func (a *Authenticator) BcryptCost() int { return a.cost }

// BootstrapRecords returns the system tenant and the bootstrap
// administrator's user record to store, or nils when no bootstrap
// administrator is configured.
func (a *Authenticator) BootstrapRecords() (*structs.Tenant, *structs.User, error) {
	if a.bootUser == "" {
		return nil, nil, nil
	}
	u := &structs.User{Username: a.bootUser, Tenant: a.system, Role: structs.RoleAdmin}
	if a.bootPass != "" {
		h, err := HashPassword(a.bootPass, a.cost)
		if err != nil {
			return nil, nil, err
		}
		u.PasswordHash = h
	}
	return &structs.Tenant{Name: a.system, Description: "system administrators"}, u, nil
}

func unauthorized(msg string) error { return structs.Errorf(structs.ErrUnauthorized, "%s", msg) }

// ErrUnknownKey (of kind ErrUnauthorized) means a well-formed key's id is
// not in the store. On a replica that lags, the key may have just been
// created: a caller may make its view current and try once more.
var ErrUnknownKey error = &structs.Error{Kind: structs.ErrUnauthorized, Msg: "invalid api key"}

// Request authenticates an HTTP request by its Authorization header:
// "Bearer <api key or agent key>" or Basic username and password.
func (a *Authenticator) Request(r *http.Request) (*authz.Identity, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, unauthorized("missing credentials")
	}
	if scheme, key, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return a.Key(strings.TrimSpace(key))
	}
	if user, pass, ok := r.BasicAuth(); ok {
		return a.Password(user, pass)
	}
	return nil, unauthorized("unsupported authorization scheme")
}

// Key authenticates a user API key, an agent key or the bootstrap key.
func (a *Authenticator) Key(key string) (*authz.Identity, error) {
	prefix, id, ok := ParseKey(key)
	var at tableChanges
	if ok && prefix == UserKeyPrefix {
		at = identityChanges(a.store) // before the view: see keyCache
		if ident, hit := a.keys.get(id, key, at); hit {
			return ident, nil
		}
	}
	txn := a.store.Read()
	if a.isBootKey(key) {
		// Once the bootstrap administrator is stored, the record decides:
		// disabling that user (or their tenant) revokes the configured key
		// too, and a changed role applies to it.
		if u, err := txn.User(a.bootUser); err == nil {
			return identityOf(txn, u, a.system)
		}
		return a.bootIdentity(), nil
	}
	if !ok {
		return nil, unauthorized("invalid api key")
	}
	switch prefix {
	case UserKeyPrefix:
		u, err := txn.UserByAPIKeyID(id)
		if errors.Is(err, structs.ErrNotFound) {
			return nil, ErrUnknownKey
		} else if err != nil {
			return nil, err
		}
		for _, k := range u.APIKeys {
			if k.ID == id && !k.Session && k.Matches(key) {
				ident, err := identityOf(txn, u, a.system)
				if err != nil {
					return nil, err
				}
				ident.KeyID = id
				a.keys.put(id, key, at, ident)
				return ident, nil
			}
		}
	case ServiceKeyPrefix:
		sa, err := txn.ServiceAccountByAPIKeyID(id)
		if errors.Is(err, structs.ErrNotFound) {
			return nil, ErrUnknownKey
		} else if err != nil {
			return nil, err
		}
		for _, k := range sa.APIKeys {
			if k.ID == id && k.Matches(key) {
				return serviceIdentity(txn, sa)
			}
		}
	case AgentKeyPrefix:
		c, err := txn.ClusterByAgentKeyID(id)
		if errors.Is(err, structs.ErrNotFound) {
			return nil, ErrUnknownKey
		}
		if err == nil && c.AgentKey.ID == id && c.AgentKey.Matches(key) {
			return &authz.Identity{Cluster: c.Name}, nil
		}
	}
	return nil, unauthorized("invalid api key")
}

// UserKey authenticates a JARVICE-style username and API key pair.
func (a *Authenticator) UserKey(username, key string) (*authz.Identity, error) {
	if username == "" || key == "" {
		return nil, unauthorized("missing username or apikey")
	}
	id, err := a.Key(key)
	if err != nil {
		return nil, err
	}
	if !id.IsUser() || id.Username != username {
		return nil, unauthorized("invalid api key")
	}
	return id, nil
}

// Password authenticates a username and password (a bcrypt comparison:
// use API keys for frequent requests).
func (a *Authenticator) Password(username, password string) (*authz.Identity, error) {
	txn := a.store.Read()
	u, err := txn.User(username)
	if err != nil || u.PasswordHash == "" {
		_ = bcrypt.CompareHashAndPassword(a.dummyHash, []byte(password))
		return nil, unauthorized("invalid username or password")
	}
	if !CheckPassword(u.PasswordHash, password) {
		return nil, unauthorized("invalid username or password")
	}
	return identityOf(txn, u, a.system)
}

func (a *Authenticator) isBootKey(key string) bool {
	if !a.hasBootKey {
		return false
	}
	sum := sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(sum[:], a.bootKey[:]) == 1
}

func (a *Authenticator) bootIdentity() *authz.Identity {
	return &authz.Identity{Username: a.bootUser, Tenant: a.system, Role: structs.RoleAdmin, Global: true}
}

// identityOf builds the identity of a stored user.
func identityOf(txn *state.ReadTxn, u *structs.User, system string) (*authz.Identity, error) {
	if u.Disabled {
		return nil, unauthorized("account disabled")
	}
	t, err := txn.Tenant(u.Tenant)
	if err != nil || t.Disabled {
		return nil, unauthorized("tenant disabled or unknown")
	}
	id := &authz.Identity{
		Username: u.Username, Tenant: u.Tenant, Role: u.Role, Teams: u.Teams, Groups: u.Groups,
		Global: u.Role == structs.RoleAdmin && u.Tenant == system,
	}
	if u.Role == structs.RoleTeamAdmin {
		teams, err := txn.TeamsByTenant(u.Tenant)
		if err != nil {
			return nil, err
		}
		for _, tm := range teams {
			for _, adm := range tm.Admins {
				if adm == u.Username {
					id.AdminTeams = append(id.AdminTeams, tm.Name)
					break
				}
			}
		}
	}
	return id, nil
}

// UserIdentity is the identity of a stored, enabled user, for callers that
// authenticated the user by other means (a job-scoped key).
func (a *Authenticator) UserIdentity(username string) (*authz.Identity, error) {
	txn := a.store.Read()
	u, err := txn.User(username)
	if err != nil {
		return nil, unauthorized("invalid api key")
	}
	return identityOf(txn, u, a.system)
}

// serviceIdentity builds the identity of a stored service account.
func serviceIdentity(txn *state.ReadTxn, sa *structs.ServiceAccount) (*authz.Identity, error) {
	if sa.Disabled {
		return nil, unauthorized("service account disabled")
	}
	t, err := txn.Tenant(sa.Tenant)
	if err != nil || t.Disabled {
		return nil, unauthorized("tenant disabled or unknown")
	}
	id := &authz.Identity{Username: sa.Subject(), Tenant: sa.Tenant, Role: structs.RoleUser, Service: sa}
	if sa.Team != "" {
		id.Teams = []string{sa.Team}
	}
	return id, nil
}
