package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/creditrun/creditrun/events"
	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/webhook"
)

// receiver is an HTTP endpoint on loopback that verifies every signature
// with the Standard Webhooks library and answers from a script of codes.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	codes  []int // answered in turn; 200 once they run out
	got    []received
	bad    []string // what failed verification
}

type received struct {
	ID   string
	Type string
	Data map[string]any
}

func newReceiver(t *testing.T, codes ...int) *receiver {
	r := &receiver{t: t, codes: codes}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	wh, err := standardwebhooks.NewWebhook(r.secret)
	if err == nil {
		err = wh.Verify(body, req.Header)
	}
	var b struct {
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err == nil {
		err = json.Unmarshal(body, &b)
	}
	if err != nil {
		r.bad = append(r.bad, err.Error())
		w.WriteHeader(400)
		return
	}
	r.got = append(r.got, received{ID: req.Header.Get("webhook-id"), Type: b.Type, Data: b.Data})
	code := 200
	if len(r.codes) > 0 {
		code, r.codes = r.codes[0], r.codes[1:]
	}
	w.WriteHeader(code)
}

func (r *receiver) snapshot() ([]received, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...), append([]string(nil), r.bad...)
}

// waitFor waits until cond holds of what r received.
func (r *receiver) waitFor(what string, cond func([]received) bool) []received {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, bad := r.snapshot()
		if len(bad) > 0 {
			r.t.Fatalf("signatures that did not verify: %v", bad)
		}
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("waiting for %s; received %+v", what, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type env struct {
	client  *redis.Client
	store   *webhook.Store
	ledger  *ledger.Redis
	enqueue *asynq.Client
	relay   *webhook.Relay
}

// newEnv starts a redis-server, a relay and a delivery server on it.
func newEnv(t *testing.T, allowPrivate bool) *env {
	srv := redisserver.T(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { c.Close() })
	store, err := webhook.NewStore(c, webhook.StoreOptions{SecretKey: "test key"})
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(c, ledger.Options{})
	opt := asynq.RedisClientOpt{Addr: srv.Addr()}
	aq := asynq.NewClient(opt)
	t.Cleanup(func() { aq.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	relay, err := webhook.NewRelay(webhook.RelayConfig{Client: c, Store: store, Enqueue: aq, Interval: 50 * time.Millisecond, Logger: quiet,
		DataFunc: func(ctx context.Context, e webhook.Event) (any, error) {
			if strings.HasPrefix(string(e.Type), "hold.") {
				return l.Hold(ctx, e.Ref)
			}
			return map[string]string{"id": e.Ref}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := webhook.NewDeliverer(webhook.DelivererConfig{Store: store, AllowPrivate: allowPrivate, Logger: quiet,
		RetryDelayFunc: func(int, []byte) time.Duration { return 100 * time.Millisecond },
		CheckInterval:  100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	as := webhook.NewServer(opt, 4, d)
	mux := asynq.NewServeMux()
	mux.Handle(webhook.TaskType, d)
	if err := as.Start(mux); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { relay.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; as.Shutdown() })
	return &env{client: c, store: store, ledger: l, enqueue: aq, relay: relay}
}

func (e *env) register(t *testing.T, account string, r *receiver, types ...events.Type) webhook.Endpoint {
	ep, secret, err := e.store.Create(context.Background(), account, r.srv.URL, types, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	r.mu.Lock()
	r.secret = secret
	r.mu.Unlock()
	return ep
}

// TestEventsArriveSigned: the ledger's own changes (a reserve that takes the
// pool below a tenth, a settle that opens a hold, a payment) reach an
// endpoint of the account and one of every account, each signed, and a
// receiver answering 500 twice then 200 gets three deliveries of one
// webhook-id, which its delivery record counts.
func TestEventsArriveSigned(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, true)
	acct := newReceiver(t)
	e.register(t, "acme", acct, events.PoolLow, events.HoldOpened, events.HoldPaid)
	flaky := newReceiver(t, 500, 500)
	flakyEP := e.register(t, "", flaky, events.HoldPaid)
	other := newReceiver(t)
	e.register(t, "other", other, events.HoldPaid)

	start := time.Now()
	if _, _, err := e.ledger.OpenPool(ctx, "acme", credit.PoolConfig{Name: "people", Grant: 10, OverageEnabled: true,
		OverageLimit: 100, OveragePriceCents: 10}, start, start.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ledger.Reserve(ctx, credit.ReserveRequest{Account: "acme", Pool: "people", JobID: "j1", Requested: 15,
		Policy: credit.Overage}); err != nil {
		t.Fatal(err)
	}
	r, err := e.ledger.Settle(ctx, credit.SettleRequest{Account: "acme", Pool: "people", JobID: "j1", Cost: 15})
	if err != nil {
		t.Fatal(err)
	}
	acct.waitFor("pool.low and hold.opened", func(got []received) bool { return len(got) == 2 })
	if _, err := e.ledger.PayHold(ctx, r.HoldID, "inv_1"); err != nil {
		t.Fatal(err)
	}
	got := acct.waitFor("hold.paid", func(got []received) bool { return len(got) == 3 })
	// Deliveries run concurrently: their order is not the events'.
	byType := map[string]received{}
	for _, g := range got {
		byType[g.Type] = g
	}
	for _, typ := range []string{"pool.low", "hold.opened", "hold.paid"} {
		if _, ok := byType[typ]; !ok {
			t.Fatalf("no %s among %+v", typ, got)
		}
	}
	if d := byType["pool.low"].Data; d["pool"] != "people" || d["available"] != 0.0 || d["threshold"] != 1.0 {
		t.Fatalf("pool.low data %v", d)
	}
	if d := byType["hold.paid"].Data; d["ID"] != r.HoldID && d["id"] != r.HoldID {
		t.Fatalf("hold.paid data %v", d)
	}
	paidID := byType["hold.paid"].ID

	fl := flaky.waitFor("three attempts", func(got []received) bool { return len(got) == 3 })
	if fl[0].ID != fl[1].ID || fl[1].ID != fl[2].ID || fl[0].Type != "hold.paid" || fl[0].ID != paidID {
		t.Fatalf("attempts %+v, account's hold.paid %s", fl, paidID)
	}
	var d webhook.Delivery
	for deadline := time.Now().Add(10 * time.Second); ; {
		if d, err = e.store.Delivery(ctx, flakyEP.ID, fl[0].ID); err == nil && d.Status == webhook.DeliveryDelivered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %+v, %v", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d.Attempts != 3 || d.LastStatusCode != 200 {
		t.Fatalf("delivery %+v", d)
	}
	list, _, err := e.store.Deliveries(ctx, flakyEP.ID, 10, "")
	if err != nil || len(list) != 1 || list[0].ID != d.ID {
		t.Fatalf("deliveries %+v, %v", list, err)
	}
	// Nothing more comes: the other account's endpoint heard nothing, and
	// moving the outbox again sends nothing twice.
	time.Sleep(300 * time.Millisecond)
	if g, _ := other.snapshot(); len(g) != 0 {
		t.Fatalf("another account's endpoint got %+v", g)
	}
	if g, _ := acct.snapshot(); len(g) != 3 {
		t.Fatalf("account endpoint got %d deliveries", len(g))
	}
}

// TestRelayTwiceSendsOnce: an event moved twice (the relay died after the
// enqueue and before the trim) is delivered once.
func TestRelayTwiceSendsOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, true)
	rcv := newReceiver(t)
	e.register(t, "acme", rcv, events.PoolLow)
	key := events.OutboxKey("cr", "acme")
	e.client.SAdd(ctx, "cr:accounts", "acme")
	id, err := e.client.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{"type", "pool.low", "at", time.Now().UnixMilli(),
		"ref", "people", "available", 1, "threshold", 10}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	rcv.waitFor("the event", func(got []received) bool { return len(got) == 1 })
	// The same entry again, as if the relay had died before its trim: a
	// fresh stream takes the same id.
	if err := e.client.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.client.XAdd(ctx, &redis.XAddArgs{Stream: key, ID: id, Values: []any{"type", "pool.low",
		"at", time.Now().UnixMilli(), "ref", "people", "available", 1, "threshold", 10}}).Err(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); e.client.XLen(ctx, key).Val() != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the relay did not trim the entry")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // what was enqueued twice would have run by now
	if got, _ := rcv.snapshot(); len(got) != 1 {
		t.Fatalf("moved twice, received %+v", got)
	}
}

// TestLoopbackRefused: without the setting, a URL on a name that resolves
// to 127.0.0.1 is refused at registration and at delivery, and the
// receiver hears nothing; plain http is refused too.
func TestLoopbackRefused(t *testing.T) {
	ctx := context.Background()
	rcv := newReceiver(t)
	tls := httptest.NewTLSServer(http.HandlerFunc(rcv.serve))
	t.Cleanup(tls.Close)
	local := strings.Replace(tls.URL, "127.0.0.1", "localhost", 1)
	for _, u := range []string{local, tls.URL, "https://[::1]/x", "https://10.0.0.1/x", "https://169.254.169.254/latest",
		"http://example.com/x", "ftp://example.com/x", "https://user:pw@example.com/x"} {
		if err := webhook.CheckURL(ctx, u, false, nil); !errors.Is(err, webhook.ErrUnsafeURL) {
			t.Errorf("CheckURL(%s) = %v, want ErrUnsafeURL", u, err)
		}
	}
	if err := webhook.CheckURL(ctx, local, true, nil); err != nil {
		t.Errorf("allowed private: %v", err)
	}
	if err := webhook.CheckURL(ctx, "https://8.8.8.8/hook", false, nil); err != nil {
		t.Errorf("public address: %v", err)
	}

	// At delivery: an endpoint stored with such a URL (as one registered
	// while the name resolved elsewhere) fails and is never called.
	e := newEnv(t, false)
	ep, _, err := e.store.Create(ctx, "acme", local, []events.Type{events.PoolLow}, "")
	if err != nil {
		t.Fatal(err)
	}
	e.client.SAdd(ctx, "cr:accounts", "acme")
	e.client.XAdd(ctx, &redis.XAddArgs{Stream: events.OutboxKey("cr", "acme"), Values: []any{"type", "pool.low",
		"at", time.Now().UnixMilli(), "ref", "people", "available", 1, "threshold", 10}})
	var list []webhook.Delivery
	for deadline := time.Now().Add(20 * time.Second); ; {
		list, _, err = e.store.Deliveries(ctx, ep.ID, 10, "")
		if err == nil && len(list) == 1 && list[0].Status == webhook.DeliveryFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries %+v, %v", list, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(list[0].LastError, "not a public address") {
		t.Fatalf("last error %q", list[0].LastError)
	}
	if got, _ := rcv.snapshot(); len(got) != 0 {
		t.Fatalf("the receiver was called: %+v", got)
	}
}

// TestEveryEventArrives: each of the eight event types, caused by the
// ledger's and the job store's own calls, reaches an endpoint that hears
// them all, signed, once, with the data of what it is about.
func TestEveryEventArrives(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, true)
	rcv := newReceiver(t)
	e.register(t, "acme", rcv, events.All...)
	js := jobstore.New(e.client, jobstore.Options{})

	start := time.Now().Truncate(time.Millisecond)
	if _, _, err := e.ledger.OpenPool(ctx, "acme", credit.PoolConfig{Name: "people", Grant: 10, OverageEnabled: true,
		OverageLimit: 100, OveragePriceCents: 10}, start, start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var holds []string
	for _, job := range []string{"o1", "o2"} {
		if _, err := e.ledger.Reserve(ctx, credit.ReserveRequest{Account: "acme", Pool: "people", JobID: job, Requested: 12,
			Policy: credit.Overage}); err != nil {
			t.Fatal(err)
		}
		r, err := e.ledger.Settle(ctx, credit.SettleRequest{Account: "acme", Pool: "people", JobID: job, Cost: 12})
		if err != nil {
			t.Fatal(err)
		}
		holds = append(holds, r.HoldID)
	}
	if _, err := e.ledger.PayHold(ctx, holds[0], "inv_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ledger.WaiveHold(ctx, holds[1], "goodwill"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := e.ledger.Refresh(ctx, "acme", "people", start.Add(time.Hour), start.Add(2*time.Hour)); err != nil || !ok {
		t.Fatalf("refresh: %v %v", ok, err)
	}
	for id, to := range map[string]jobs.Status{"j_ok": jobs.Succeeded, "j_bad": jobs.Failed, "j_stop": jobs.Canceled} {
		if err := js.Create(ctx, jobs.Job{ID: id, Account: "acme", Kind: jobs.Search, DataType: "people", Pool: "people",
			Status: jobs.Queued, NumRecords: 1, CreatedAt: start}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := js.Update(ctx, "acme", id, []jobs.Status{jobs.Queued}, func(j *jobs.Job) { j.Status = to }); err != nil {
			t.Fatal(err)
		}
	}
	got := rcv.waitFor("every event", func(got []received) bool { return len(got) >= 9 })
	time.Sleep(300 * time.Millisecond)
	got, _ = rcv.snapshot()
	byType := map[string][]received{}
	ids := map[string]bool{}
	for _, g := range got {
		byType[g.Type] = append(byType[g.Type], g)
		if ids[g.ID] {
			t.Fatalf("webhook-id %s twice", g.ID)
		}
		ids[g.ID] = true
	}
	want := map[string]int{"pool.low": 1, "hold.opened": 2, "hold.paid": 1, "hold.waived": 1, "period.refreshed": 1,
		"job.succeeded": 1, "job.failed": 1, "job.canceled": 1}
	for typ, n := range want {
		if len(byType[typ]) != n {
			t.Errorf("%s: %d deliveries, want %d (all: %+v)", typ, len(byType[typ]), n, got)
		}
	}
	if len(got) != 9 {
		t.Fatalf("%d deliveries, want 9", len(got))
	}
	if d := byType["period.refreshed"][0].Data; d["pool"] != "people" || d["allocated"] != 10.0 || d["account_id"] != "acme" {
		t.Errorf("period.refreshed data %v", d)
	}
	if d := byType["job.failed"][0].Data; d["id"] != "j_bad" {
		t.Errorf("job.failed data %v", d)
	}
}
