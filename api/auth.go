package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// Role is what an API key may do.
type Role string

// The roles of API.md.
const (
	// RoleUser acts for one account: its jobs, its balance, its journal.
	RoleUser Role = "user"
	// RoleFinance works the overage holds of every account.
	RoleFinance Role = "finance"
	// RoleAdmin creates accounts and keys, changes balances, and may do what
	// finance does.
	RoleAdmin Role = "admin"
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r == RoleUser || r == RoleFinance || r == RoleAdmin }

// KeyPrefix starts every key the API generates.
const KeyPrefix = "cr_live_"

// keyAlphabet is base62: a key is KeyPrefix and 32 of these.
const keyAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewKey returns a fresh random API key, cr_live_ and 32 base62 characters
// (about 190 bits).
func NewKey() string {
	b := make([]byte, 32)
	// rand.Read never fails (Go 1.24+): it crashes the program instead.
	_, _ = rand.Read(b)
	out := make([]byte, 0, len(KeyPrefix)+len(b))
	out = append(out, KeyPrefix...)
	for _, c := range b {
		// 248 = 4*62: rejecting above it keeps the choice uniform.
		for c >= 248 {
			var one [1]byte
			_, _ = rand.Read(one[:])
			c = one[0]
		}
		out = append(out, keyAlphabet[c%62])
	}
	return string(out)
}

// hashKey is how a key is stored: its SHA-256, in hex. Keys are random and
// long, so a fast hash is enough; the key itself is never stored.
func hashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// principal is who calls: a key's role and, for a user key, its account.
type principal struct {
	Role    Role
	Account string
	// KeyHash identifies the key (rate limits, idempotency of admin keys).
	KeyHash string
}

// ErrInvalidKey is returned by RegisterKey for a key that is too short or
// holds whitespace or control characters, and for a bad role or account.
var ErrInvalidKey = errors.New("invalid api key")

// MinKeyLen is the shortest key RegisterKey accepts.
const MinKeyLen = 16

// CreateKey makes a new key of role (for a user key, of account), registers
// it and returns it. The caller shows it once; only its hash is kept. Returns
// an error wrapping ErrInvalidKey for a bad role or account, and the Redis
// error when the key cannot be stored.
func (s *Server) CreateKey(ctx context.Context, role Role, account string) (string, error) {
	key := NewKey()
	if err := s.RegisterKey(ctx, key, role, account); err != nil {
		return "", err
	}
	return key, nil
}

// RegisterKey stores a key the caller chose, such as CREDITRUN_ADMIN_KEY at
// start-up. Registering a key again replaces its role and account. Returns an
// error wrapping ErrInvalidKey for a key shorter than MinKeyLen or with
// whitespace or control characters, for an unknown role, and for an account
// given with a finance or admin role or missing with a user role.
func (s *Server) RegisterKey(ctx context.Context, key string, role Role, account string) error {
	if len(key) < MinKeyLen || len(key) > 512 || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("register key: must be %d to 512 printable characters without spaces: %w", MinKeyLen, ErrInvalidKey)
	}
	switch {
	case !role.Valid():
		return fmt.Errorf("register key: role %q: %w", role, ErrInvalidKey)
	case role == RoleUser && credit.CheckID("account", account) != nil:
		return fmt.Errorf("register key: a user key needs an account, got %q: %w", account, ErrInvalidKey)
	case role != RoleUser && account != "":
		return fmt.Errorf("register key: a %s key has no account: %w", role, ErrInvalidKey)
	}
	hash := hashKey(key)
	err := s.client.HSet(ctx, s.keys.apiKey(hash), "role", string(role), "account", account).Err()
	if err != nil {
		return fmt.Errorf("register %s key: %w", role, err)
	}
	if s.keyCache != nil {
		s.keyCache.Remove(hash)
	}
	return nil
}

// authenticate finds the principal of a request's bearer key. Returns
// errUnauthorized for no key or an unknown one, and the Redis error when the
// lookup fails.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (principal, error) {
	key, ok := bearer(r)
	if !ok {
		return principal{}, errUnauthorized
	}
	hash := hashKey(key)
	if s.keyCache != nil {
		if p, ok := s.keyCache.Get(hash); ok {
			return p, nil
		}
	}
	m, err := s.client.HGetAll(ctx, s.keys.apiKey(hash)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return principal{}, fmt.Errorf("look up api key: %w", err)
	}
	role := Role(m["role"])
	if !role.Valid() {
		return principal{}, errUnauthorized
	}
	p := principal{Role: role, Account: m["account"], KeyHash: hash}
	if s.keyCache != nil {
		s.keyCache.Add(hash, p)
	}
	return p, nil
}

// bearer returns the key of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	return key, key != "" && len(key) <= 512
}
