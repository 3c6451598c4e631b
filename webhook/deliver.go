package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// The delivery policy.
const (
	// AttemptTimeout bounds one attempt, from connecting to reading the
	// answer.
	AttemptTimeout = 10 * time.Second
	// RetryWindow is the least time a delivery is retried before it fails.
	RetryWindow = 24 * time.Hour
	// DisableAfter disables an endpoint every attempt to which has failed
	// for this long.
	DisableAfter = 3 * 24 * time.Hour
	// ResponseLimit is how much of an answer's body is read.
	ResponseLimit = 4 << 10
	// firstDelay and maxDelay bound the backoff between attempts.
	firstDelay = 10 * time.Second
	maxDelay   = time.Hour
)

// MaxRetry is the retries a delivery gets: the fewest whose backoff, before
// any jitter (which only adds), spans RetryWindow.
var MaxRetry = retriesFor(RetryWindow)

func baseDelay(n int) time.Duration {
	return min(firstDelay<<min(max(n, 0), 20), maxDelay)
}

func retriesFor(window time.Duration) int {
	var sum time.Duration
	n := 0
	for sum < window {
		sum += baseDelay(n)
		n++
	}
	return n
}

// RetryDelay is the wait before retry n (from 0) of the delivery whose task
// payload is payload: 10 s, 20 s, 40 s … doubling up to an hour, each plus up
// to a quarter more of jitter. The jitter is a hash of the payload and n, so
// that deliveries spread out and yet the record of one can say when its next
// attempt is due.
func RetryDelay(n int, payload []byte) time.Duration {
	d := baseDelay(n)
	h := fnv.New64a()
	h.Write(payload)
	h.Write([]byte("/" + strconv.Itoa(n)))
	return d + time.Duration(h.Sum64()%uint64(d/4+1))
}

// Metrics are the delivery metrics.
type Metrics struct {
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	outboxAge  prometheus.Gauge
}

// NewMetrics registers the webhook metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "creditrun_webhook_deliveries_total",
			Help: "Webhook delivery attempts by event type and result (delivered, retry, failed, refused, dropped)."},
			[]string{"event", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "creditrun_webhook_delivery_seconds",
			Help: "Time from sending a webhook to its answer.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 11)},
			[]string{"event"}),
		outboxAge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "creditrun_webhook_oldest_pending_seconds",
			Help: "Age of the oldest event waiting: in an outbox, or as a delivery ready to run in its queue (0 when none waits)."}),
	}
	for _, c := range []prometheus.Collector{m.deliveries, m.latency, m.outboxAge} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// DelivererConfig configures a Deliverer.
type DelivererConfig struct {
	// Store keeps endpoints and deliveries. Required.
	Store *Store
	// AllowPrivate lets deliveries reach loopback, private and link-local
	// addresses (CREDITRUN_WEBHOOK_ALLOW_PRIVATE). Defaults to false.
	AllowPrivate bool
	// PerEndpoint bounds the deliveries under way to one endpoint at once,
	// across every process. Defaults to 4.
	PerEndpoint int
	// NowFunc is the clock. Defaults to time.Now.
	NowFunc func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics, when not nil, counts deliveries and their latency.
	Metrics *Metrics
	// RetryDelayFunc is the wait before retry n of the delivery whose task
	// payload is given. Defaults to RetryDelay; tests shorten it.
	RetryDelayFunc func(n int, payload []byte) time.Duration
	// CheckInterval is how often the server looks for retries that are
	// due. Defaults to asynq's 5 seconds.
	CheckInterval time.Duration
	// Transport, for tests, replaces the HTTP transport (its dialer must
	// refuse what AllowPrivate refuses).
	Transport http.RoundTripper
}

// Deliverer sends deliveries: the asynq handler of TaskType.
type Deliverer struct {
	cfg    DelivererConfig
	client *http.Client
}

// errBusy turns a delivery away while its endpoint has PerEndpoint under
// way; it is no failure and uses up no retry.
var errBusy = errors.New("endpoint busy")

// NewDeliverer returns a deliverer.
func NewDeliverer(cfg DelivererConfig) (*Deliverer, error) {
	if cfg.Store == nil {
		return nil, errors.New("webhook: DelivererConfig.Store is required")
	}
	if cfg.PerEndpoint <= 0 {
		cfg.PerEndpoint = 4
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RetryDelayFunc == nil {
		cfg.RetryDelayFunc = RetryDelay
	}
	tr := cfg.Transport
	if tr == nil {
		d := &net.Dialer{Timeout: AttemptTimeout}
		if !cfg.AllowPrivate {
			d.Control = dialControl
		}
		tr = &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: AttemptTimeout,
			ResponseHeaderTimeout: AttemptTimeout, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second,
			DisableCompression: true}
	}
	return &Deliverer{cfg: cfg, client: &http.Client{
		Transport:     tr,
		Timeout:       AttemptTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// NewServer returns the asynq server of deliveries: queue QueueName only,
// concurrency tasks at once, the backoff of RetryDelay. It runs apart from
// the jobs' server, so a slow receiver never takes a job's place.
func NewServer(redisOpt asynq.RedisConnOpt, concurrency int, d *Deliverer) *asynq.Server {
	if concurrency <= 0 {
		concurrency = 10
	}
	return asynq.NewServer(redisOpt, asynq.Config{
		Concurrency: concurrency,
		Queues:      map[string]int{QueueName: 1},
		IsFailure:   func(err error) bool { return !errors.Is(err, errBusy) && !errors.Is(err, asynq.ErrLeaseExpired) },
		RetryDelayFunc: func(n int, err error, t *asynq.Task) time.Duration {
			if errors.Is(err, errBusy) {
				return time.Second
			}
			return d.cfg.RetryDelayFunc(n, t.Payload())
		},
		ShutdownTimeout:          AttemptTimeout + 2*time.Second,
		DelayedTaskCheckInterval: d.cfg.CheckInterval,
		Logger:                   asynqLogger{d.cfg.Logger},
	})
}

// ProcessTask makes one attempt of a delivery.
func (d *Deliverer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p taskPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode webhook task: %v: %w", err, asynq.SkipRetry)
	}
	taskID, _ := asynq.GetTaskID(ctx)
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	ep, secret, err := d.cfg.Store.secret(ctx, p.Endpoint)
	if errors.Is(err, ErrNotFound) {
		d.count(p.Event, "dropped")
		return nil // the endpoint was deleted
	}
	if err != nil {
		return err
	}
	del, err := d.cfg.Store.Delivery(ctx, p.Endpoint, p.Msg)
	if err != nil {
		return err
	}
	if ep.Status != StatusEnabled {
		del.Status, del.LastError, del.NextAttemptAt = DeliveryFailed, "the endpoint is disabled", time.Time{}
		d.count(p.Event, "failed")
		if err := d.cfg.Store.attempted(ctx, del); err != nil {
			return err
		}
		return fmt.Errorf("webhook %s is disabled: %w", ep.ID, asynq.SkipRetry)
	}
	now := d.cfg.NowFunc()
	ok, err := d.cfg.Store.acquire(ctx, ep.ID, taskID, now, AttemptTimeout+5*time.Second, d.cfg.PerEndpoint)
	if err != nil {
		return err
	}
	if !ok {
		return errBusy
	}
	defer d.cfg.Store.release(ctx, ep.ID, taskID)

	code, sendErr := d.send(ctx, ep, secret, p)
	del.Attempts++
	del.LastStatusCode, del.LastError = code, ""
	if sendErr != nil {
		del.LastError = sendErr.Error()
	}
	delivered := sendErr == nil
	if _, err := d.cfg.Store.endpointOutcome(ctx, ep.ID, delivered, d.cfg.NowFunc(), DisableAfter); err != nil {
		d.cfg.Logger.Warn("webhook endpoint outcome", "endpoint", ep.ID, "err", err)
	}
	switch {
	case delivered:
		del.Status, del.NextAttemptAt = DeliveryDelivered, time.Time{}
		d.count(p.Event, "delivered")
	case retried >= maxRetry || errors.Is(sendErr, ErrUnsafeURL):
		del.Status, del.NextAttemptAt = DeliveryFailed, time.Time{}
		d.count(p.Event, "failed")
		sendErr = fmt.Errorf("%w: %w", sendErr, asynq.SkipRetry)
	default:
		del.Status, del.NextAttemptAt = DeliveryPending, d.cfg.NowFunc().Add(d.cfg.RetryDelayFunc(retried, t.Payload()))
		d.count(p.Event, "retry")
	}
	if err := d.cfg.Store.attempted(ctx, del); err != nil {
		d.cfg.Logger.Warn("webhook delivery record", "msg", p.Msg, "endpoint", ep.ID, "err", err)
	}
	return sendErr
}

func (d *Deliverer) count(event, result string) {
	if d.cfg.Metrics != nil {
		d.cfg.Metrics.deliveries.WithLabelValues(event, result).Inc()
	}
}

// send posts the body, signed for this attempt, and returns the status code
// (0 without an answer) and an error unless the answer is a 2xx.
func (d *Deliverer) send(ctx context.Context, ep Endpoint, secret string, p taskPayload) (int, error) {
	if err := CheckURL(ctx, ep.URL, d.cfg.AllowPrivate, nil); err != nil {
		return 0, err
	}
	at := d.cfg.NowFunc()
	sig, err := Sign(secret, p.Msg, at, p.Body)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(p.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "creditrun-webhooks/1")
	req.Header.Set("webhook-id", p.Msg)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	start := time.Now()
	resp, err := d.client.Do(req)
	if d.cfg.Metrics != nil {
		d.cfg.Metrics.latency.WithLabelValues(p.Event).Observe(time.Since(start).Seconds())
	}
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, ResponseLimit))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the endpoint answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// Service is the store with the queue that retries go to: what the API
// needs of webhooks.
type Service struct {
	*Store
	queue *asynq.Client
}

// NewService returns the store's service, enqueuing retries through queue.
func NewService(s *Store, queue *asynq.Client) *Service { return &Service{Store: s, queue: queue} }

// Retry sends a delivery again, whatever became of it, with the same
// webhook-id: a failed or delivered one gets a new run of attempts. A
// delivery that is pending already is returned as it is. Returns
// ErrNotFound.
func (v *Service) Retry(ctx context.Context, endpoint, msg string) (Delivery, error) {
	return v.Store.resend(ctx, v.queue, endpoint, msg)
}

func (s *Store) resend(ctx context.Context, c *asynq.Client, endpoint, msg string) (Delivery, error) {
	del, err := s.Delivery(ctx, endpoint, msg)
	if err != nil || del.Status == DeliveryPending {
		return del, err
	}
	n, err := s.client.HIncrBy(ctx, s.keys.delivery(endpoint, msg), "retries", 1).Result()
	if err != nil {
		return del, err
	}
	del.Status, del.NextAttemptAt, del.LastError = DeliveryPending, s.nowFunc(), ""
	if err := s.attempted(ctx, del); err != nil {
		return del, err
	}
	return del, enqueue(ctx, c, taskPayload{Msg: msg, Endpoint: endpoint, Account: del.Account, Event: del.Event,
		Body: del.body}, msg+":"+endpoint+":retry"+strconv.FormatInt(n, 10))
}

// asynqLogger sends asynq's messages to a slog.Logger.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) {}
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "webhooks") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "webhooks") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "webhooks") }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "webhooks") }
