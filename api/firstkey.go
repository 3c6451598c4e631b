package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// firstKeyClaim bounds how long a request that died while it stored an
// account's first key holds the claim; a later repeat of the creation then
// issues the key.
const firstKeyClaim = time.Minute

// settleFirstKeyScript turns this request's claim on an account's first key
// into the mark of the key issued, or drops it.
//
// KEYS[1] first-key mark  ARGV[1] our pending claim  ARGV[2] the done mark ("" drops the claim)
// -> 1 when done, 0 when the claim was not ours (it expired)
var settleFirstKeyScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1`)

// firstKey issues an account's first user key, once: the creation of the
// account and every repeat of it that completes a creation cut short come
// here, and only the first to claim the account's mark issues a key. It
// returns the key's secret, or "" when the first key was issued before or
// another request is issuing it (POST /v1/accounts/{id}/keys makes more).
// Returns the Redis error when the key could not be issued; the claim is
// dropped then, so that a repeat issues it.
func (s *Server) firstKey(ctx context.Context, account string) (string, error) {
	mark := s.keys.firstKey(account)
	token := make([]byte, 12)
	_, _ = rand.Read(token)
	claim := pendingPrefix + hex.EncodeToString(token)
	ok, err := s.client.SetNX(ctx, mark, claim, firstKeyClaim).Result()
	if err != nil {
		return "", fmt.Errorf("claim the first key of %s: %w", account, err)
	}
	if !ok {
		return "", nil
	}
	key, err := s.CreateKey(ctx, RoleUser, account)
	// Settle the claim whether or not the client is still there.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err != nil {
		_ = settleFirstKeyScript.Run(sctx, s.client, []string{mark}, claim, "").Err()
		return "", err
	}
	if err := settleFirstKeyScript.Run(sctx, s.client, []string{mark}, claim, donePrefix+hashKey(key)).Err(); err != nil {
		// The key is stored and is answered; a mark left pending expires,
		// after which a repeat of the creation would issue another.
		s.log.Warn("api: mark the first key of an account issued", "account", account, "err", err)
	}
	return key, nil
}
