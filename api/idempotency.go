package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Idempotency: every POST may carry an Idempotency-Key. The first request
// with a key claims it with a "pending" marker (SET NX); when it has run, its
// response replaces the marker and is kept for IdempotencyTTL. A later
// request with the same key and the same method, path and body gets that
// response again (the same job id, nothing charged again); with anything
// else it gets 409 idempotency_conflict. A duplicate that arrives while the
// first still runs waits up to idempotencyWait for it, then answers 409.
//
// The marker lives pendingTTL, and the request renews it every third of
// that for as long as its handler runs, so that however long the handler
// takes, no duplicate finds the key free and runs it again; a request whose
// process dies stops renewing, and its key is free pendingTTL later.
//
// Responses of 5xx, 400 and 413 are not kept: nothing happened, so the
// client may fix the request or retry with the same key.
const (
	// IdempotencyTTL is how long a response is kept for its key.
	IdempotencyTTL = 24 * time.Hour
	// MaxIdempotencyKeyLen is the longest Idempotency-Key.
	MaxIdempotencyKeyLen = 255
	// pendingTTL bounds how long a crashed request holds its key; a running
	// one renews its marker every third of it.
	pendingTTL = time.Minute
	// idempotencyWait is how long a duplicate waits for the first.
	idempotencyWait = 5 * time.Second
	idempotencyPoll = 25 * time.Millisecond
)

// idempotencyKey returns the request's Idempotency-Key, "" when it has none.
// Returns a *jobs.FieldError for an empty or over-long key, or one with
// characters outside printable ASCII.
func idempotencyKey(r *http.Request) (string, error) {
	vals := r.Header.Values("Idempotency-Key")
	if len(vals) == 0 {
		return "", nil
	}
	k := vals[0]
	switch {
	case len(vals) > 1:
		return "", fieldError("Idempotency-Key", "must be sent once")
	case k == "" || len(k) > MaxIdempotencyKeyLen:
		return "", fieldError("Idempotency-Key", "must be 1 to %d characters", MaxIdempotencyKeyLen)
	case strings.ContainsFunc(k, func(r rune) bool { return r < ' ' || r > '~' }):
		return "", fieldError("Idempotency-Key", "must be printable ASCII")
	}
	return k, nil
}

// idempotencyRecord is what a finished key keeps.
type idempotencyRecord struct {
	Fingerprint string   `json:"fp"`
	Response    response `json:"resp"`
}

const (
	pendingPrefix = "pending:"
	donePrefix    = "done:"
)

// finishScript replaces a key's pending marker with its record, or deletes
// it, but only while the marker is still this request's.
//
// KEYS[1] idempotency record  ARGV[1] our pending marker  ARGV[2] record ("" deletes)
// ARGV[3] ttl in ms  -> 1 when done, 0 when the marker was not ours (expired)
var finishScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1`)

// renewScript extends a key's pending marker, but only while it is still
// this request's.
//
// KEYS[1] idempotency record  ARGV[1] our pending marker  ARGV[2] ttl in ms
// -> 1 renewed, 0 when the marker was not ours (finished or expired)
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`)

// markerTTL is how long a pending marker lives between renewals:
// pendingTTL unless a test shortened it.
func (s *Server) markerTTL() time.Duration {
	if s.pendingTTL > 0 {
		return s.pendingTTL
	}
	return pendingTTL
}

// holdMarker renews the pending marker at rk every third of its TTL until
// the returned stop is called; stop returns once renewing has ended. A
// renewal that fails is logged and tried again at the next tick: while
// Redis is out of reach the marker may lapse, as it would have anyway.
func (s *Server) holdMarker(ctx context.Context, rk, marker string) (stop func()) {
	ttl := s.markerTTL()
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			n, err := renewScript.Run(ctx, s.client, []string{rk}, marker, ttl.Milliseconds()).Int()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				s.log.Warn("api: renew idempotency marker", "err", err)
			case n == 0:
				return // not ours any more: nothing to hold
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// idempotent runs do at most once per key in the caller's scope, and answers
// the first response to every repeat.
func (s *Server) idempotent(c *call, key string, do func() response) response {
	ctx := c.r.Context()
	scope := s.keys.accountScope(c.p.Account)
	if c.p.Role != RoleUser {
		scope = s.keys.holderScope(c.p.KeyHash)
	}
	rk := s.keys.idempotency(scope, hashKey(key))
	fp := fingerprint(c.r, c.body)
	token := make([]byte, 12)
	_, _ = rand.Read(token)
	marker := pendingPrefix + fp + ":" + hex.EncodeToString(token)

	deadline := time.Now().Add(idempotencyWait)
	for {
		ok, err := s.client.SetNX(ctx, rk, marker, s.markerTTL()).Result()
		if err != nil {
			return s.render(c, 0, nil, fmt.Errorf("claim idempotency key: %w", err))
		}
		if ok {
			break
		}
		v, err := s.client.Get(ctx, rk).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue // the first finished without keeping a response: claim it
		case err != nil:
			return s.render(c, 0, nil, fmt.Errorf("read idempotency key: %w", err))
		}
		if rest, ok := strings.CutPrefix(v, donePrefix); ok {
			var rec idempotencyRecord
			if err := json.Unmarshal([]byte(rest), &rec); err != nil {
				return s.render(c, 0, nil, fmt.Errorf("decode idempotency record: %w", err))
			}
			if rec.Fingerprint != fp {
				return s.render(c, 0, nil, errIdempotencyConflict)
			}
			c.w.Header().Set("Idempotent-Replayed", "true")
			return rec.Response
		}
		otherFP, _, _ := strings.Cut(strings.TrimPrefix(v, pendingPrefix), ":")
		if otherFP != fp || time.Now().After(deadline) {
			return s.render(c, 0, nil, errIdempotencyConflict)
		}
		if err := sleep(ctx, idempotencyPoll); err != nil {
			return s.render(c, 0, nil, err)
		}
	}

	stop := s.holdMarker(ctx, rk, marker)
	resp := do()
	stop()
	keep := ""
	if resp.Status < 500 && resp.Status != http.StatusBadRequest && resp.Status != http.StatusRequestEntityTooLarge {
		b, err := json.Marshal(idempotencyRecord{Fingerprint: fp, Response: resp})
		if err == nil {
			keep = donePrefix + string(b)
		}
	}
	// The response stands whether or not it is kept; a request that ran
	// must not answer 503. Use a context that survives a client gone away.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := finishScript.Run(fctx, s.client, []string{rk}, marker, keep, IdempotencyTTL.Milliseconds()).Err(); err != nil {
		s.log.Error("api: keep idempotent response", "err", err)
	}
	return resp
}

// fingerprint identifies a request for its key: method, path and body.
func fingerprint(r *http.Request, body []byte) string {
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
