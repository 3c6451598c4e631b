package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// KeyInfo is an API key as it is listed: never its secret.
type KeyInfo struct {
	// ID is "key_" and a ULID in lower case; a key stored before key ids
	// has "key_" and the first 26 hex digits of its hash (legacyKeyID).
	ID string
	// Role is what the key may do.
	Role Role
	// Account is the account of a user key, "" for finance and admin keys.
	Account string
	// CreatedAt is when the key was made; zero for a key stored before
	// key ids, whose creation time was not kept.
	CreatedAt time.Time
	// ExpiresAt is when the key stops working; zero for never.
	ExpiresAt time.Time
	// LastUsedAt is when the key was last used, to about a minute; zero
	// for never (or not since key ids).
	LastUsedAt time.Time
}

// keyRecord is KeyInfo as read from its record, with the hash it is under.
type keyRecord struct {
	KeyInfo
	hash string
	// legacy is set for a record stored before key ids: it has no id
	// field, and its id is derived from its hash.
	legacy bool
}

// legacyKeyID is the id of a key stored before key ids: "key_" and the
// first 26 hex digits of its hash. It is derived, so that every process
// gives such a key the same id without coordinating.
func legacyKeyID(hash string) string { return "key_" + hash[:26] }

// newKeyID returns a fresh key id: "key_" and a ULID in lower case, like job
// ids.
func newKeyID() string { return "key_" + strings.ToLower(ulid.Make().String()) }

// validKeyID reports whether id can be a key id, so that a malformed one
// costs no Redis lookup.
func validKeyID(id string) bool {
	rest, ok := strings.CutPrefix(id, "key_")
	return ok && len(rest) > 0 && len(rest) <= 64 && !strings.ContainsFunc(rest, func(r rune) bool {
		return (r < '0' || r > '9') && (r < 'a' || r > 'z')
	})
}

// Time formats of a key's record. last_used_at has whole seconds, so that
// two values compare as strings (touchScript).
const (
	recordTime   = time.RFC3339Nano
	lastUsedTime = "2006-01-02T15:04:05Z"
)

func formatLastUsed(t time.Time) string { return t.UTC().Format(lastUsedTime) }

// parseKeyRecord reads a key's record; ok is false when there is none or
// it is not a key's (no valid role, or a time that does not parse: such a
// key is refused, not trusted).
func parseKeyRecord(hash string, m map[string]string) (keyRecord, bool) {
	r := keyRecord{hash: hash}
	r.Role, r.Account, r.ID = Role(m["role"]), m["account"], m["id"]
	if !r.Role.Valid() {
		return keyRecord{}, false
	}
	if r.ID == "" {
		r.ID, r.legacy = legacyKeyID(hash), true
	}
	for _, f := range []struct {
		field, layout string
		p             *time.Time
	}{{"created_at", recordTime, &r.CreatedAt}, {"expires_at", recordTime, &r.ExpiresAt}, {"last_used_at", lastUsedTime, &r.LastUsedAt}} {
		if v := m[f.field]; v != "" {
			t, err := time.Parse(f.layout, v)
			if err != nil {
				return keyRecord{}, false
			}
			*f.p = t
		}
	}
	return r, true
}

// CreateKey makes a new key of role (for a user key, of account) that never
// expires and returns its secret. The caller shows it once; only its hash is
// kept. It returns the errors of IssueKey.
func (s *Server) CreateKey(ctx context.Context, role Role, account string) (string, error) {
	_, secret, err := s.IssueKey(ctx, role, account, time.Time{})
	return secret, err
}

// IssueKey makes a new key of role (for a user key, of account) that works
// until expires (zero: never), and returns it with its secret. The caller
// shows the secret once; only its hash is kept. Returns an error wrapping
// ErrInvalidKey for an unknown role, an account given with a finance or
// admin role or missing with a user role, or an expiry that is not in the
// future; and the Redis error when the key cannot be stored.
func (s *Server) IssueKey(ctx context.Context, role Role, account string, expires time.Time) (KeyInfo, string, error) {
	now := s.cfg.NowFunc().UTC()
	switch {
	case !role.Valid():
		return KeyInfo{}, "", fmt.Errorf("issue key: role %q: %w", role, ErrInvalidKey)
	case role == RoleUser && credit.CheckID("account", account) != nil:
		return KeyInfo{}, "", fmt.Errorf("issue key: a user key needs an account, got %q: %w", account, ErrInvalidKey)
	case role != RoleUser && account != "":
		return KeyInfo{}, "", fmt.Errorf("issue key: a %s key has no account: %w", role, ErrInvalidKey)
	case !expires.IsZero() && !expires.After(now):
		return KeyInfo{}, "", fmt.Errorf("issue key: expiry %s is not in the future: %w", expires.Format(time.RFC3339), ErrInvalidKey)
	}
	secret := NewKey()
	hash := hashKey(secret)
	info := KeyInfo{ID: newKeyID(), Role: role, Account: account, CreatedAt: now}
	fields := []any{"role", string(role), "account", account, "id", info.ID, "created_at", now.Format(recordTime)}
	if !expires.IsZero() {
		info.ExpiresAt = expires.UTC()
		fields = append(fields, "expires_at", info.ExpiresAt.Format(recordTime))
	}
	// The indexes first, then the record: a key whose record could not be
	// written leaves an index entry to nothing, which listing skips; never
	// a working key that no one can list or revoke.
	if err := s.indexKey(ctx, info.ID, hash, account); err != nil {
		return KeyInfo{}, "", fmt.Errorf("issue %s key: %w", role, err)
	}
	if err := s.client.HSet(ctx, s.keys.apiKey(hash), fields...).Err(); err != nil {
		return KeyInfo{}, "", fmt.Errorf("issue %s key: %w", role, err)
	}
	return info, secret, nil
}

// indexKey adds a key to the index of every key and, for a user key, to its
// account's. They are in different slots: two commands.
func (s *Server) indexKey(ctx context.Context, id, hash, account string) error {
	if err := s.client.HSet(ctx, s.keys.keyIndex(), id, hash).Err(); err != nil {
		return fmt.Errorf("index key %s: %w", id, err)
	}
	if account != "" {
		if err := s.client.HSet(ctx, s.keys.accountKeys(account), id, hash).Err(); err != nil {
			return fmt.Errorf("index key %s of account %s: %w", id, account, err)
		}
	}
	return nil
}

// Keys lists the keys of an account, or every key for account "", oldest
// first (keys stored before key ids, whose creation time is unknown, come
// first). Revoked keys are not listed; expired ones are, until revoked.
func (s *Server) Keys(ctx context.Context, account string) ([]KeyInfo, error) {
	if err := s.indexLegacyKeys(ctx); err != nil {
		return nil, err
	}
	index := s.keys.keyIndex()
	if account != "" {
		index = s.keys.accountKeys(account)
	}
	ids, err := s.client.HGetAll(ctx, index).Result()
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	cmds := make(map[string]*redis.MapStringStringCmd, len(ids))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for id, hash := range ids {
			cmds[id] = p.HGetAll(ctx, s.keys.apiKey(hash))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]KeyInfo, 0, len(ids))
	for id, cmd := range cmds {
		rec, ok := parseKeyRecord(ids[id], cmd.Val())
		// An index entry whose record is gone (a revocation or a creation
		// cut short) or holds another id is not a key.
		if !ok || rec.ID != id || (account != "" && rec.Account != account) {
			continue
		}
		out = append(out, rec.KeyInfo)
	}
	slices.SortFunc(out, func(a, b KeyInfo) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// RevokeKey deletes the key with id and returns it as it was. Every API
// process refuses it from the moment RevokeKey returns: the revocation
// epoch is bumped after the record is deleted, and no process trusts its
// key cache past a change of epoch. Returns an error wrapping
// jobs.ErrNotFound for an unknown id, and the Redis error otherwise; a
// failed revocation can be run again.
func (s *Server) RevokeKey(ctx context.Context, id string) (KeyInfo, error) {
	if !validKeyID(id) {
		return KeyInfo{}, fmt.Errorf("revoke key %q: %w", id, jobs.ErrNotFound)
	}
	if err := s.indexLegacyKeys(ctx); err != nil {
		return KeyInfo{}, err
	}
	hash, err := s.client.HGet(ctx, s.keys.keyIndex(), id).Result()
	if errors.Is(err, redis.Nil) {
		return KeyInfo{}, fmt.Errorf("revoke key %s: %w", id, jobs.ErrNotFound)
	}
	if err != nil {
		return KeyInfo{}, fmt.Errorf("revoke key %s: %w", id, err)
	}
	m, err := s.client.HGetAll(ctx, s.keys.apiKey(hash)).Result()
	if err != nil {
		return KeyInfo{}, fmt.Errorf("revoke key %s: %w", id, err)
	}
	rec, ok := parseKeyRecord(hash, m)
	if ok && rec.ID != id {
		// The index points at another key's record: drop the entry only.
		ok = false
	} else if ok {
		// Steps in order, each to be run again by a retry, which finds
		// the id in the index until the last one: the account's index, the
		// record (from here the key is refused where nothing is cached),
		// the epoch (from here everywhere), the index of every key.
		if rec.Account != "" {
			if err := s.client.HDel(ctx, s.keys.accountKeys(rec.Account), id).Err(); err != nil {
				return KeyInfo{}, fmt.Errorf("revoke key %s: %w", id, err)
			}
		}
		if err := s.client.Del(ctx, s.keys.apiKey(hash)).Err(); err != nil {
			return KeyInfo{}, fmt.Errorf("revoke key %s: %w", id, err)
		}
	}
	if err := s.client.Incr(ctx, s.keys.keyEpoch()).Err(); err != nil {
		return KeyInfo{}, fmt.Errorf("revoke key %s: bump the revocation epoch: %w", id, err)
	}
	if s.keyCache != nil {
		s.keyCache.Remove(hash)
	}
	if err := s.client.HDel(ctx, s.keys.keyIndex(), id).Err(); err != nil {
		return KeyInfo{}, fmt.Errorf("revoke key %s: %w", id, err)
	}
	if !ok {
		// An index entry to nothing: a creation cut short, or a revocation
		// cut short after the record went. There was no key to revoke.
		return KeyInfo{}, fmt.Errorf("revoke key %s: %w", id, jobs.ErrNotFound)
	}
	return rec.KeyInfo, nil
}

// MigrateKeys prepares the keys stored by earlier versions, and is run at
// every API start: it deletes the record that they stored for the bootstrap
// admin key (Config.AdminKey) at each start, so that changing the setting
// revokes the old key, and gives every key stored before key ids its
// derived id in the indexes (once per Redis).
func (s *Server) MigrateKeys(ctx context.Context) error {
	if s.auth.adminHash != nil {
		hash := fmt.Sprintf("%x", s.auth.adminHash)
		if err := s.client.Del(ctx, s.keys.apiKey(hash)).Err(); err != nil {
			return fmt.Errorf("delete the stored record of the bootstrap admin key: %w", err)
		}
		if err := s.client.HDel(ctx, s.keys.keyIndex(), legacyKeyID(hash)).Err(); err != nil {
			return fmt.Errorf("delete the stored record of the bootstrap admin key: %w", err)
		}
	}
	return s.indexLegacyKeys(ctx)
}

// indexLegacyKeys puts every key record without an id in the indexes under
// its derived id, once per Redis: a flag key says it was done. Every step
// can be repeated, so processes that run it at once agree. A record that an
// older process writes after it ran is indexed when the key is first used
// (lookupKey).
func (s *Server) indexLegacyKeys(ctx context.Context) error {
	if s.auth.indexed.Load() {
		return nil
	}
	n, err := s.client.Exists(ctx, s.keys.keysIndexed()).Result()
	if err != nil {
		return fmt.Errorf("index keys stored before key ids: %w", err)
	}
	if n == 1 {
		s.auth.indexed.Store(true)
		return nil
	}
	var mu sync.Mutex
	var legacy []keyRecord
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, s.keys.apiKeyPattern(), 1000).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			hash := strings.TrimPrefix(k, s.keys.apiKey(""))
			if len(hash) != 64 {
				continue
			}
			m, err := c.HGetAll(ctx, k).Result()
			if err != nil {
				return err
			}
			if rec, ok := parseKeyRecord(hash, m); ok && rec.legacy {
				mu.Lock()
				legacy = append(legacy, rec)
				mu.Unlock()
			}
		}
		return iter.Err()
	}
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		err = fmt.Errorf("a client of type %T cannot be scanned", s.client)
	}
	if err != nil {
		return fmt.Errorf("index keys stored before key ids: %w", err)
	}
	for _, rec := range legacy {
		if err := s.adoptLegacyKey(ctx, rec); err != nil {
			return fmt.Errorf("index keys stored before key ids: %w", err)
		}
	}
	if err := s.client.Set(ctx, s.keys.keysIndexed(), "1", 0).Err(); err != nil {
		return fmt.Errorf("index keys stored before key ids: %w", err)
	}
	s.auth.indexed.Store(true)
	return nil
}

// indexLegacyKey indexes one key stored before key ids, found in use. A
// failure is logged: the key still works, and its next read tries again.
func (s *Server) indexLegacyKey(ctx context.Context, rec keyRecord) {
	if err := s.adoptLegacyKey(ctx, rec); err != nil {
		s.log.Warn("api: index a key stored before key ids", "key_id", rec.ID, "err", err)
	}
}

// adoptLegacyKey gives a key stored before key ids its derived id: in the
// indexes, then in its record (where it still exists), so that it is read as
// any other key from then on.
func (s *Server) adoptLegacyKey(ctx context.Context, rec keyRecord) error {
	if err := s.indexKey(ctx, rec.ID, rec.hash, rec.Account); err != nil {
		return err
	}
	err := adoptScript.Run(ctx, s.client, []string{s.keys.apiKey(rec.hash)}, rec.ID).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("give key %s its id: %w", rec.ID, err)
	}
	return nil
}

// adoptScript writes the id of a record that still exists and has none.
var adoptScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], 'role') == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], 'id', ARGV[1])
`)
