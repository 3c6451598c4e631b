package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/events"
)

// ErrNotFound is returned for an unknown endpoint or delivery.
var ErrNotFound = errors.New("webhook not found")

// Endpoint statuses.
const (
	StatusEnabled  = "enabled"
	StatusDisabled = "disabled"
)

// Endpoint is one registered receiver.
type Endpoint struct {
	ID string
	// Account is the account whose events it hears; "" hears every account
	// (registered by a finance or admin key).
	Account     string
	URL         string
	Events      []events.Type
	Description string
	// Status is StatusEnabled, or StatusDisabled once every delivery to it
	// has failed for DisableAfter; DisabledReason then says so.
	Status         string
	DisabledReason string
	CreatedAt      time.Time
	// FailingSince is when its current run of failed attempts began; zero
	// after a success.
	FailingSince time.Time
}

// Wants reports whether the endpoint hears events of type t.
func (e Endpoint) Wants(t events.Type) bool { return slices.Contains(e.Events, t) }

// Store keeps endpoints and their deliveries in Redis.
type Store struct {
	client  redis.UniversalClient
	keys    keys
	sealer  sealer
	nowFunc func() time.Time
}

// StoreOptions configure a Store.
type StoreOptions struct {
	// Prefix starts every key. Defaults to "cr".
	Prefix string
	// SecretKey encrypts endpoint secrets at rest (AES-256-GCM under its
	// SHA-256). Empty stores them unencrypted. Every process that signs
	// must have the key the secrets were stored with.
	SecretKey string
	// NowFunc is the clock. Defaults to time.Now.
	NowFunc func() time.Time
}

// NewStore returns a store on client.
func NewStore(client redis.UniversalClient, opts StoreOptions) (*Store, error) {
	if opts.Prefix == "" {
		opts.Prefix = "cr"
	}
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	s, err := newSealer(opts.SecretKey)
	if err != nil {
		return nil, err
	}
	return &Store{client: client, keys: keys{prefix: opts.Prefix}, sealer: s, nowFunc: opts.NowFunc}, nil
}

func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Create registers an endpoint and returns it with its secret, which is
// never returned again. The caller has checked url (CheckURL) and events.
func (s *Store) Create(ctx context.Context, account, url string, types []events.Type, description string) (Endpoint, string, error) {
	e := Endpoint{ID: newID("wh_"), Account: account, URL: url, Events: types, Description: description,
		Status: StatusEnabled, CreatedAt: s.nowFunc().UTC().Truncate(time.Millisecond)}
	secret := newSecret()
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	ms := e.CreatedAt.UnixMilli()
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.keys.endpoint(e.ID), "id", e.ID, "account", account, "url", url,
			"events", strings.Join(names, ","), "description", description, "status", StatusEnabled,
			"created_at", ms, "secret", s.sealer.seal(secret, e.ID))
		p.ZAdd(ctx, s.keys.endpoints(), redis.Z{Score: float64(ms), Member: e.ID})
		if account == "" {
			p.SAdd(ctx, s.keys.globalEndpoints(), e.ID)
		} else {
			p.SAdd(ctx, s.keys.accountEndpoints(account), e.ID)
		}
		return nil
	})
	if err != nil {
		return Endpoint{}, "", fmt.Errorf("create webhook: %w", err)
	}
	return e, secret, nil
}

func parseEndpoint(m map[string]string) Endpoint {
	e := Endpoint{ID: m["id"], Account: m["account"], URL: m["url"], Description: m["description"],
		Status: m["status"], DisabledReason: m["disabled_reason"], Events: []events.Type{}}
	for n := range strings.SplitSeq(m["events"], ",") {
		if n != "" {
			e.Events = append(e.Events, events.Type(n))
		}
	}
	e.CreatedAt = msTime(m["created_at"])
	e.FailingSince = msTime(m["failing_since"])
	return e
}

func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Get returns an endpoint. Returns ErrNotFound for an unknown id.
func (s *Store) Get(ctx context.Context, id string) (Endpoint, error) {
	e, _, err := s.get(ctx, id)
	return e, err
}

func (s *Store) get(ctx context.Context, id string) (Endpoint, string, error) {
	m, err := s.client.HGetAll(ctx, s.keys.endpoint(id)).Result()
	if err != nil {
		return Endpoint{}, "", fmt.Errorf("get webhook %s: %w", id, err)
	}
	if m["id"] == "" {
		return Endpoint{}, "", fmt.Errorf("webhook %s: %w", id, ErrNotFound)
	}
	return parseEndpoint(m), m["secret"], nil
}

// secret returns an endpoint with its secret, for signing.
func (s *Store) secret(ctx context.Context, id string) (Endpoint, string, error) {
	e, stored, err := s.get(ctx, id)
	if err != nil {
		return e, "", err
	}
	secret, err := s.sealer.open(stored, id)
	return e, secret, err
}

// List returns the endpoints of an account, oldest first; with account ""
// every endpoint there is.
func (s *Store) List(ctx context.Context, account string) ([]Endpoint, error) {
	var ids []string
	var err error
	if account == "" {
		ids, err = s.client.ZRange(ctx, s.keys.endpoints(), 0, -1).Result()
	} else {
		ids, err = s.client.SMembers(ctx, s.keys.accountEndpoints(account)).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return s.getMany(ctx, ids)
}

// For returns the endpoints that hear an account's events: its own and
// those of every account.
func (s *Store) For(ctx context.Context, account string) ([]Endpoint, error) {
	ids, err := s.client.SUnion(ctx, s.keys.accountEndpoints(account), s.keys.globalEndpoints()).Result()
	if err != nil {
		return nil, fmt.Errorf("webhooks of %s: %w", account, err)
	}
	return s.getMany(ctx, ids)
}

func (s *Store) getMany(ctx context.Context, ids []string) ([]Endpoint, error) {
	p := s.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = p.HGetAll(ctx, s.keys.endpoint(id))
	}
	if len(ids) > 0 {
		if _, err := p.Exec(ctx); err != nil {
			return nil, fmt.Errorf("read webhooks: %w", err)
		}
	}
	out := make([]Endpoint, 0, len(ids))
	for _, c := range cmds {
		if m := c.Val(); m["id"] != "" {
			out = append(out, parseEndpoint(m))
		}
	}
	slices.SortFunc(out, func(a, b Endpoint) int {
		return cmpTime(a.CreatedAt, b.CreatedAt, a.ID, b.ID)
	})
	return out, nil
}

func cmpTime(a, b time.Time, ai, bi string) int {
	if c := a.Compare(b); c != 0 {
		return c
	}
	return strings.Compare(ai, bi)
}

// Delete removes an endpoint; deliveries under way to it stop. Returns
// ErrNotFound for an unknown id.
func (s *Store) Delete(ctx context.Context, id string) (Endpoint, error) {
	e, err := s.Get(ctx, id)
	if err != nil {
		return e, err
	}
	_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.keys.endpoint(id))
		p.ZRem(ctx, s.keys.endpoints(), id)
		p.SRem(ctx, s.keys.globalEndpoints(), id)
		if e.Account != "" {
			p.SRem(ctx, s.keys.accountEndpoints(e.Account), id)
		}
		p.Expire(ctx, s.keys.deliveries(id), deliveryTTL)
		return nil
	})
	if err != nil {
		return e, fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return e, nil
}
