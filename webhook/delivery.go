package webhook

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// deliveryTTL is how long a delivery's record is kept after it was last
// written, and an endpoint's list of deliveries after the endpoint goes.
const deliveryTTL = 30 * 24 * time.Hour

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is one message's delivery to one endpoint.
type Delivery struct {
	// ID is the message id, the webhook-id header, the same on every
	// attempt and for every endpoint the message goes to.
	ID             string
	Endpoint       string
	Account        string
	Event          string
	Status         string
	Attempts       int
	LastStatusCode int
	LastError      string
	// NextAttemptAt is when the next attempt is due, zero when none is.
	NextAttemptAt time.Time
	CreatedAt     time.Time
	body          []byte
}

func parseDelivery(m map[string]string) Delivery {
	d := Delivery{ID: m["id"], Endpoint: m["endpoint"], Account: m["account"], Event: m["event"],
		Status: m["status"], LastError: m["last_error"], body: []byte(m["body"])}
	d.Attempts, _ = strconv.Atoi(m["attempts"])
	d.LastStatusCode, _ = strconv.Atoi(m["last_status_code"])
	d.NextAttemptAt = msTime(m["next_attempt_at"])
	d.CreatedAt = msTime(m["created_at"])
	return d
}

// record writes a delivery's first record, unless it has one: a relay that
// moves a message twice finds it there.
func (s *Store) record(ctx context.Context, d Delivery) error {
	k := s.keys.delivery(d.Endpoint, d.ID)
	ok, err := s.client.HSetNX(ctx, k, "id", d.ID).Result()
	if err != nil || !ok {
		return err
	}
	ms := d.CreatedAt.UnixMilli()
	_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, "endpoint", d.Endpoint, "account", d.Account, "event", d.Event, "status", DeliveryPending,
			"attempts", 0, "created_at", ms, "next_attempt_at", ms, "body", d.body)
		p.Expire(ctx, k, deliveryTTL)
		p.ZAdd(ctx, s.keys.deliveries(d.Endpoint), redis.Z{Score: float64(ms), Member: d.ID})
		p.Expire(ctx, s.keys.deliveries(d.Endpoint), deliveryTTL)
		return nil
	})
	return err
}

// Delivery returns one delivery of an endpoint. Returns ErrNotFound.
func (s *Store) Delivery(ctx context.Context, endpoint, msg string) (Delivery, error) {
	m, err := s.client.HGetAll(ctx, s.keys.delivery(endpoint, msg)).Result()
	if err != nil {
		return Delivery{}, fmt.Errorf("delivery %s: %w", msg, err)
	}
	if m["id"] == "" || m["endpoint"] == "" {
		return Delivery{}, fmt.Errorf("delivery %s: %w", msg, ErrNotFound)
	}
	return parseDelivery(m), nil
}

// ErrInvalidCursor is returned for a cursor that no listing of deliveries
// returned.
var ErrInvalidCursor = errors.New("invalid cursor")

// Deliveries returns a page of an endpoint's deliveries, newest first, and
// the cursor of the next page ("" at the end). cursor is "" or one a
// previous call returned; another returns an error wrapping
// ErrInvalidCursor.
func (s *Store) Deliveries(ctx context.Context, endpoint string, limit int, cursor string) ([]Delivery, string, error) {
	var start int64
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("deliveries cursor %q: %w", cursor, ErrInvalidCursor)
		}
		start = n
	}
	ids, err := s.client.ZRevRange(ctx, s.keys.deliveries(endpoint), start, start+int64(limit)).Result()
	if err != nil {
		return nil, "", fmt.Errorf("deliveries of %s: %w", endpoint, err)
	}
	next := ""
	if len(ids) > limit {
		ids, next = ids[:limit], strconv.FormatInt(start+int64(limit), 10)
	}
	p := s.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = p.HGetAll(ctx, s.keys.delivery(endpoint, id))
	}
	if len(ids) > 0 {
		if _, err := p.Exec(ctx); err != nil {
			return nil, "", fmt.Errorf("deliveries of %s: %w", endpoint, err)
		}
	}
	out := make([]Delivery, 0, len(ids))
	for _, c := range cmds {
		if m := c.Val(); m["id"] != "" && m["endpoint"] != "" {
			out = append(out, parseDelivery(m))
		}
	}
	return out, next, nil
}

// attempted writes the outcome of one attempt.
func (s *Store) attempted(ctx context.Context, d Delivery) error {
	k := s.keys.delivery(d.Endpoint, d.ID)
	next := int64(0)
	if !d.NextAttemptAt.IsZero() {
		next = d.NextAttemptAt.UnixMilli()
	}
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, "status", d.Status, "attempts", d.Attempts, "last_status_code", d.LastStatusCode,
			"last_error", d.LastError, "next_attempt_at", next)
		p.Expire(ctx, k, deliveryTTL)
		return nil
	})
	return err
}

// endpointOutcome keeps an endpoint's run of failures: a success ends it; a
// failure starts it, or, when it began disableAfter ago or more, disables
// the endpoint. It reports whether this call disabled it.
func (s *Store) endpointOutcome(ctx context.Context, id string, ok bool, now time.Time, disableAfter time.Duration) (bool, error) {
	k := s.keys.endpoint(id)
	if ok {
		return false, s.client.HDel(ctx, k, "failing_since").Err()
	}
	n, err := endpointFailScript.Run(ctx, s.client, []string{k}, now.UnixMilli(), disableAfter.Milliseconds(),
		fmt.Sprintf("disabled at %s: every delivery failed since %%s", now.UTC().Format(time.RFC3339))).Int()
	return n == 1, err
}

// endpointFailScript notes a failed attempt on an endpoint.
// KEYS[1] endpoint hash  ARGV[1] now (unix ms)  ARGV[2] disable after (ms)
// ARGV[3] the reason to write, with %s for when the failures began
// -> 1 disabled now | 0 otherwise
var endpointFailScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local since = tonumber(redis.call('HGET', KEYS[1], 'failing_since'))
if not since then
  redis.call('HSET', KEYS[1], 'failing_since', ARGV[1])
  return 0
end
if tonumber(ARGV[1]) - since >= tonumber(ARGV[2]) and redis.call('HGET', KEYS[1], 'status') == 'enabled' then
  redis.call('HSET', KEYS[1], 'status', 'disabled', 'disabled_reason',
    string.format(ARGV[3], tostring(since) .. ' (unix ms)'))
  return 1
end
return 0`)

// acquireScript takes a place among an endpoint's deliveries under way.
// KEYS[1] inflight zset  ARGV[1] now (unix ms)  ARGV[2] lease end (unix ms)
// ARGV[3] the bound  ARGV[4] this delivery's token  -> 1 taken | 0 full
var acquireScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1`)

func (s *Store) acquire(ctx context.Context, endpoint, token string, now time.Time, lease time.Duration, bound int) (bool, error) {
	n, err := acquireScript.Run(ctx, s.client, []string{s.keys.inflight(endpoint)},
		now.UnixMilli(), now.Add(lease).UnixMilli(), bound, token).Int()
	return n == 1, err
}

func (s *Store) release(ctx context.Context, endpoint, token string) {
	s.client.ZRem(context.WithoutCancel(ctx), s.keys.inflight(endpoint), token)
}
