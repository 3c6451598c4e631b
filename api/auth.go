package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
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
	// KeyID is the key's id; empty for the bootstrap admin key, which has
	// no record.
	KeyID string
	// ExpiresAt is when the key stops working; zero for never.
	ExpiresAt time.Time
	// epoch is the revocation epoch read before the key's record, for the
	// key cache: an entry of another epoch is read again.
	epoch string
	// deferred says the key came from the key cache unchecked against the
	// revocation epoch: the caller checks it in its own write (deferredKey).
	deferred bool
}

// deferredKey is the condition under which a request whose key check was
// deferred may reserve: the key is still one of its account's (a revocation
// removes it from the account's keys first), checked in the reserve's
// atomic step.
func (s *Server) deferredKey(p principal) credit.Condition {
	return credit.Condition{Key: s.keys.accountKeys(p.Account), Field: p.KeyID, Value: p.KeyHash}
}

// ErrInvalidKey is returned by CheckKey and New for a key that is too short
// or holds whitespace or control characters.
var ErrInvalidKey = errors.New("invalid api key")

// MinKeyLen is the shortest key CheckKey accepts.
const MinKeyLen = 16

// CheckKey returns an error wrapping ErrInvalidKey unless key can be an API
// key: MinKeyLen to 512 printable characters without spaces. The bootstrap
// admin key (Config.AdminKey) must pass it.
func CheckKey(key string) error {
	if len(key) < MinKeyLen || len(key) > 512 || strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("must be %d to 512 printable characters without spaces: %w", MinKeyLen, ErrInvalidKey)
	}
	return nil
}

// lastUsedEvery is how often one process writes a key's last_used_at at
// most: once a minute, not once a request.
const lastUsedEvery = time.Minute

// authState is what authentication keeps in process besides the key cache.
type authState struct {
	// adminHash is the SHA-256 of Config.AdminKey, nil when there is none.
	adminHash []byte
	// touched is when this process last wrote each key's last_used_at.
	touched *expirable.LRU[string, time.Time]
	// indexed is set once the keys stored before key ids are indexed
	// (indexLegacyKeys).
	indexed atomic.Bool
}

func newAuthState(adminKey string) (*authState, error) {
	a := &authState{touched: expirable.NewLRU[string, time.Time](keyCacheSize, nil, 2*lastUsedEvery)}
	if adminKey != "" {
		if err := CheckKey(adminKey); err != nil {
			return nil, fmt.Errorf("api: AdminKey %w", err)
		}
		h := sha256.Sum256([]byte(adminKey))
		a.adminHash = h[:]
	}
	return a, nil
}

// authenticate finds the principal of a request's bearer key. The
// bootstrap admin key is compared with the setting; any other key is looked
// up by its hash. With deferCheck, a user key found in the key cache is
// taken without reading the revocation epoch, marked deferred: the caller
// checks it in its reserve (deferredKey). Returns errUnauthorized for no
// key, an unknown, revoked or expired one, and the Redis error when the
// lookup fails.
func (s *Server) authenticate(ctx context.Context, r *http.Request, deferCheck bool) (principal, error) {
	key, ok := bearer(r)
	if !ok {
		return principal{}, errUnauthorized
	}
	sum := sha256.Sum256([]byte(key))
	hash := hex.EncodeToString(sum[:])
	if s.auth.adminHash != nil && subtle.ConstantTimeCompare(sum[:], s.auth.adminHash) == 1 {
		return principal{Role: RoleAdmin, KeyHash: hash}, nil
	}
	p, err := s.lookupKey(ctx, hash, deferCheck)
	if err != nil {
		return principal{}, err
	}
	return s.admit(ctx, p)
}

// admit refuses an expired key and notes the key's use.
func (s *Server) admit(ctx context.Context, p principal) (principal, error) {
	now := s.cfg.NowFunc()
	if !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt) {
		return principal{}, errUnauthorized
	}
	s.touch(ctx, p, now)
	return p, nil
}

// lookupKey reads the record of a key by its hash. With the key cache, a
// cached entry is used while the revocation epoch is the one it was read
// in: one GET of a short string a request instead of the record, and a
// revocation, which bumps the epoch, is seen by every process at once. With
// deferCheck, a cached user key with an id is used without the GET, marked
// deferred.
func (s *Server) lookupKey(ctx context.Context, hash string, deferCheck bool) (principal, error) {
	epoch := ""
	if s.keyCache != nil && deferCheck {
		if p, ok := s.keyCache.Get(hash); ok && p.Role == RoleUser && p.KeyID != "" {
			p.deferred = true
			return p, nil
		}
	}
	if s.keyCache != nil {
		var err error
		epoch, err = s.client.Get(ctx, s.keys.keyEpoch()).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return principal{}, fmt.Errorf("read the key revocation epoch: %w", err)
		}
		if p, ok := s.keyCache.Get(hash); ok && p.epoch == epoch {
			return p, nil
		}
	}
	// The epoch is read before the record: a revocation between the two
	// leaves an entry of the old epoch, which the next request reads again.
	m, err := s.client.HGetAll(ctx, s.keys.apiKey(hash)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return principal{}, fmt.Errorf("look up api key: %w", err)
	}
	rec, ok := parseKeyRecord(hash, m)
	if !ok {
		return principal{}, errUnauthorized
	}
	if rec.legacy {
		s.indexLegacyKey(ctx, rec)
	}
	p := principal{Role: rec.Role, Account: rec.Account, KeyHash: hash, KeyID: rec.ID, ExpiresAt: rec.ExpiresAt, epoch: epoch}
	if s.keyCache != nil {
		s.keyCache.Add(hash, p)
	}
	return p, nil
}

// recheck authenticates again, by the epoch and the key's record, a
// principal whose deferred check failed: the key was revoked (refused), or
// is not in its account's keys for another reason (a key stored before key
// ids), which the record settles.
func (s *Server) recheck(ctx context.Context, p principal) (principal, error) {
	if s.keyCache != nil {
		s.keyCache.Remove(p.KeyHash)
	}
	fresh, err := s.lookupKey(ctx, p.KeyHash, false)
	if err != nil {
		return principal{}, err
	}
	return s.admit(ctx, fresh)
}

// touch writes the key's last_used_at when this process has not written it
// for lastUsedEvery. A failure is logged: the request goes on.
func (s *Server) touch(ctx context.Context, p principal, now time.Time) {
	if last, ok := s.auth.touched.Get(p.KeyHash); ok && now.Sub(last) < lastUsedEvery && !now.Before(last) {
		return
	}
	s.auth.touched.Add(p.KeyHash, now)
	err := touchScript.Run(ctx, s.client, []string{s.keys.apiKey(p.KeyHash)}, formatLastUsed(now)).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		s.log.Warn("api: write a key's last_used_at", "key_id", p.KeyID, "err", err)
	}
}

// touchScript sets last_used_at on a key's record that still exists (a
// revoked key's record is not made again) and only forward.
var touchScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'role') == 0 then return 0 end
local cur = redis.call('HGET', KEYS[1], 'last_used_at')
if cur and cur >= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'last_used_at', ARGV[1])
return 1
`)

// bearer returns the key of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	return key, key != "" && len(key) <= 512
}
