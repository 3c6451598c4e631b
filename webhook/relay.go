package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/events"
)

// QueueName is the asynq queue of deliveries, apart from the jobs' queue.
const QueueName = "webhooks"

// TaskType is the asynq task type of one delivery.
const TaskType = "webhook:deliver"

// Event is one outbox entry on its way out.
type Event struct {
	// ID is the message id: "msg_", the account and the outbox entry's id.
	ID      string
	Type    events.Type
	Account string
	At      time.Time
	// Ref is the job id, hold id or pool name the event is about.
	Ref string
	// Fields are the entry's other fields (pool.low, period.refreshed).
	Fields map[string]string
}

// DataFunc returns the "data" of a job or hold event: the job as the API
// shows it, or the hold. An error leaves the event in the outbox, to be
// tried again on the next pass.
type DataFunc func(ctx context.Context, e Event) (any, error)

// taskPayload is a delivery task's payload: everything an attempt needs but
// the endpoint's URL and secret, which it reads fresh.
type taskPayload struct {
	Msg      string          `json:"msg"`
	Endpoint string          `json:"endpoint"`
	Account  string          `json:"account"`
	Event    string          `json:"event"`
	Body     json.RawMessage `json:"body"`
}

// RelayConfig configures a Relay.
type RelayConfig struct {
	// Client reads the outboxes and the endpoints. Required.
	Client redis.UniversalClient
	// Store keeps endpoints and deliveries. Required.
	Store *Store
	// Enqueue is the asynq client deliveries are enqueued with. Required.
	Enqueue *asynq.Client
	// DataFunc renders job and hold events. Required.
	DataFunc DataFunc
	// Prefix starts every key. Defaults to "cr".
	Prefix string
	// Interval is the pause between passes. Defaults to 500 ms.
	Interval time.Duration
	// Batch bounds the entries read from one outbox per pass. Defaults to 100.
	Batch int64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics, when not nil, gets the oldest pending event's age.
	Metrics *Metrics
	// Inspector, when not nil, reads the delivery queue's latency (its
	// oldest task ready to run) into that age too.
	Inspector *asynq.Inspector
}

// Relay moves events from the accounts' outboxes into delivery tasks, one
// per endpoint that hears the event, then deletes them from the outbox. The
// task id is the message id and the endpoint's, so an event moved twice (a
// relay that died between the enqueue and the delete, two relays at once)
// is delivered once. An event no endpoint hears is deleted.
type Relay struct {
	cfg  RelayConfig
	keys keys
}

// NewRelay returns a relay.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if cfg.Client == nil || cfg.Store == nil || cfg.Enqueue == nil || cfg.DataFunc == nil {
		return nil, errors.New("webhook: RelayConfig needs Client, Store, Enqueue and DataFunc")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "cr"
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Relay{cfg: cfg, keys: keys{prefix: cfg.Prefix}}, nil
}

// Run relays until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("webhook relay", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce makes one pass over every account's outbox and returns how many
// events it moved or dropped.
func (r *Relay) RunOnce(ctx context.Context) (int, error) {
	var moved int
	var oldest time.Time
	var cursor uint64
	for {
		accounts, next, err := r.cfg.Client.SScan(ctx, r.keys.accounts(), cursor, "", 500).Result()
		if err != nil {
			return moved, fmt.Errorf("webhook relay: accounts: %w", err)
		}
		p := r.cfg.Client.Pipeline()
		cmds := make([]*redis.XMessageSliceCmd, len(accounts))
		for i, a := range accounts {
			cmds[i] = p.XRangeN(ctx, events.OutboxKey(r.cfg.Prefix, a), "-", "+", r.cfg.Batch)
		}
		if len(accounts) > 0 {
			if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				return moved, fmt.Errorf("webhook relay: outboxes: %w", err)
			}
		}
		var errs []error
		for i, a := range accounts {
			msgs := cmds[i].Val()
			if len(msgs) == 0 {
				continue
			}
			n, left, err := r.account(ctx, a, msgs)
			moved += n
			if err != nil {
				errs = append(errs, err)
			}
			if !left.IsZero() && (oldest.IsZero() || left.Before(oldest)) {
				oldest = left
			}
		}
		if err := errors.Join(errs...); err != nil {
			return moved, err
		}
		cursor = next
		if cursor == 0 {
			break
		}
	}
	if r.cfg.Metrics != nil {
		age := 0.0
		if !oldest.IsZero() {
			age = time.Since(oldest).Seconds()
		}
		if r.cfg.Inspector != nil {
			if qi, err := r.cfg.Inspector.GetQueueInfo(QueueName); err == nil {
				age = max(age, qi.Latency.Seconds())
			}
		}
		r.cfg.Metrics.outboxAge.Set(age)
	}
	return moved, nil
}

// account moves one account's entries, in order, and stops at the first it
// cannot move; it returns the count moved and the time of the first left.
func (r *Relay) account(ctx context.Context, account string, msgs []redis.XMessage) (int, time.Time, error) {
	eps, err := r.cfg.Store.For(ctx, account)
	if err != nil {
		return 0, msgTime(msgs[0]), err
	}
	for i, m := range msgs {
		if err := r.move(ctx, account, m, eps); err != nil {
			return i, msgTime(m), fmt.Errorf("webhook relay: %s %s: %w", account, m.ID, err)
		}
		if err := r.cfg.Client.XDel(ctx, events.OutboxKey(r.cfg.Prefix, account), m.ID).Err(); err != nil {
			return i, msgTime(m), fmt.Errorf("webhook relay: trim %s %s: %w", account, m.ID, err)
		}
	}
	return len(msgs), time.Time{}, nil
}

func msgTime(m redis.XMessage) time.Time {
	s, _ := m.Values["at"].(string)
	return msTime(s)
}

func (r *Relay) move(ctx context.Context, account string, m redis.XMessage, eps []Endpoint) error {
	e := Event{ID: "msg_" + account + "_" + m.ID, Account: account, At: msgTime(m), Fields: map[string]string{}}
	for k, v := range m.Values {
		s, _ := v.(string)
		switch k {
		case "type":
			e.Type = events.Type(s)
		case "ref":
			e.Ref = s
		case "at":
		default:
			e.Fields[k] = s
		}
	}
	if !e.Type.Valid() {
		r.cfg.Logger.Warn("webhook relay: dropped an event of an unknown type", "account", account, "entry", m.ID, "type", e.Type)
		return nil
	}
	var to []Endpoint
	for _, ep := range eps {
		if ep.Status == StatusEnabled && ep.Wants(e.Type) {
			to = append(to, ep)
		}
	}
	if len(to) == 0 {
		return nil
	}
	data, err := r.data(ctx, e)
	if err != nil {
		return err
	}
	body, err := json.Marshal(struct {
		Type      events.Type `json:"type"`
		Timestamp time.Time   `json:"timestamp"`
		Data      any         `json:"data"`
	}{e.Type, e.At, data})
	if err != nil {
		return err
	}
	for _, ep := range to {
		if err := r.cfg.Store.record(ctx, Delivery{ID: e.ID, Endpoint: ep.ID, Account: account, Event: string(e.Type),
			CreatedAt: e.At, body: body}); err != nil {
			return err
		}
		if err := enqueue(ctx, r.cfg.Enqueue, taskPayload{Msg: e.ID, Endpoint: ep.ID, Account: account,
			Event: string(e.Type), Body: body}, e.ID+":"+ep.ID); err != nil {
			return err
		}
	}
	return nil
}

// data renders an event's data: the pool events from their fields, the
// others through DataFunc.
func (r *Relay) data(ctx context.Context, e Event) (any, error) {
	num := func(k string) int64 { n, _ := strconv.ParseInt(e.Fields[k], 10, 64); return n }
	switch e.Type {
	case events.PoolLow:
		return map[string]any{"account_id": e.Account, "pool": e.Ref, "available": num("available"),
			"threshold": num("threshold")}, nil
	case events.PeriodRefreshed:
		return map[string]any{"account_id": e.Account, "pool": e.Ref,
			"period_start": time.UnixMilli(num("period_start")).UTC(),
			"period_end":   time.UnixMilli(num("period_end")).UTC(), "allocated": num("allocated")}, nil
	}
	return r.cfg.DataFunc(ctx, e)
}

// enqueue queues one delivery under taskID; one queued under that id
// already counts as done.
func enqueue(ctx context.Context, c *asynq.Client, p taskPayload, taskID string) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = c.EnqueueContext(ctx, asynq.NewTask(TaskType, b), asynq.TaskID(taskID), asynq.Queue(QueueName),
		asynq.MaxRetry(MaxRetry), asynq.Timeout(AttemptTimeout+5*time.Second), asynq.Retention(24*time.Hour))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}
