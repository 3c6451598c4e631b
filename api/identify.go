package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
)

// Identity is who an API key is, for another adapter on the API's process
// (the console) that signs people in with a key and keeps its hash.
type Identity struct {
	Role Role
	// Account is the account of a user key; empty for finance and admin.
	Account string
	// KeyHash identifies the key without being it: a session keeps this,
	// never the key.
	KeyHash string
}

// ErrUnknownKey is returned by Identify and IdentifyHash for a key that is
// unknown, revoked or expired.
var ErrUnknownKey = errUnauthorized

// Identify returns who an API key is, by the rules of every /v1 request:
// the bootstrap admin key compared with the setting, any other looked up by
// its hash, with the expiry checked. Returns ErrUnknownKey, or the Redis
// error when the lookup fails.
func (s *Server) Identify(ctx context.Context, key string) (Identity, error) {
	if CheckKey(key) != nil {
		return Identity{}, ErrUnknownKey
	}
	return s.IdentifyHash(ctx, hashKey(key))
}

// IdentifyHash is Identify for a key known by its hash (hex SHA-256), so
// that a session checked again on every request sees a revoked or expired
// key at once. Returns ErrUnknownKey, or the Redis error.
func (s *Server) IdentifyHash(ctx context.Context, hash string) (Identity, error) {
	sum, err := hex.DecodeString(hash)
	if err != nil || len(sum) != sha256.Size {
		return Identity{}, ErrUnknownKey
	}
	if s.auth.adminHash != nil && subtle.ConstantTimeCompare(sum, s.auth.adminHash) == 1 {
		return Identity{Role: RoleAdmin, KeyHash: hash}, nil
	}
	p, err := s.lookupKey(ctx, hash, false)
	if err != nil {
		return Identity{}, err
	}
	now := s.cfg.NowFunc()
	if !p.ExpiresAt.IsZero() && !now.Before(p.ExpiresAt) {
		return Identity{}, ErrUnknownKey
	}
	s.touch(ctx, p, now)
	return Identity{Role: p.Role, Account: p.Account, KeyHash: hash}, nil
}

// Mount serves h for the requests matching pattern (a ServeMux pattern,
// such as "/console/") on the API's handler, with the request id and the
// access log of every request. Call it before the server serves.
func (s *Server) Mount(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.metrics.instrument(pattern, h))
}
