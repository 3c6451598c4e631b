package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/creditrun/creditrun/internal/redisserver"
)

// hookReceiver is a webhook endpoint on loopback that verifies every
// signature with the Standard Webhooks library and keeps what it got, by
// webhook-id (a receiver that dedups).
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	byID   map[string]hookEvent
	posts  int
	bad    []string
}

type hookEvent struct {
	Type string         `json:"type"`
	Data map[string]any `json:"data"`
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{byID: map[string]hookEvent{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.posts++
		wh, err := standardwebhooks.NewWebhook(r.secret)
		if err == nil {
			err = wh.Verify(body, req.Header)
		}
		var e hookEvent
		if err == nil {
			err = json.Unmarshal(body, &e)
		}
		if err != nil {
			r.bad = append(r.bad, err.Error())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.byID[req.Header.Get("webhook-id")] = e
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// wait returns the events of type typ once cond holds of them.
func (r *hookReceiver) wait(t *testing.T, typ string, cond func([]hookEvent) bool) []hookEvent {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r.mu.Lock()
		var got []hookEvent
		for _, e := range r.byID {
			if e.Type == typ {
				got = append(got, e)
			}
		}
		bad := append([]string(nil), r.bad...)
		r.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("signatures that did not verify: %v", bad)
		}
		if cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: got %+v", typ, got)
		}
	}
}

// register registers r over the API with key and keeps its secret.
func (r *hookReceiver) register(t *testing.T, s *stack, key string, events ...string) {
	t.Helper()
	var out struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	s.must(t, http.StatusCreated, "POST", "/v1/webhooks", key, map[string]any{"url": r.srv.URL, "events": events}).into(t, &out)
	r.mu.Lock()
	r.secret = out.Secret
	r.mu.Unlock()
}

// startWebhookStack is startStack for `creditrun all` with loopback webhook
// URLs allowed (CREDITRUN_WEBHOOK_ALLOW_PRIVATE), as under `creditrun dev`.
func startWebhookStack(t *testing.T, metricsAddr string) *stack {
	t.Helper()
	s := &stack{admin: "cr_admin_" + strconv.FormatInt(time.Now().UnixNano(), 36), userKeys: map[string]bool{}, rateOn: true}
	s.redis = redisserver.T(t)
	s.rdb = redis.NewClient(&redis.Options{Addr: s.redis.Addr()})
	t.Cleanup(func() { s.rdb.Close() })
	s.dataDir = t.TempDir()
	s.dataset = sharedDataset(t)
	cfg := config{
		HTTPAddr: freeAddr(t), RedisURL: s.redis.URL(), AdminKey: s.admin, Dataset: s.dataset,
		DataDir: s.dataDir, S3Region: "us-east-1", WorkerConcurrency: 4, ResultTTL: 168 * time.Hour,
		RateLimit: 1000, LinkTTL: 15 * time.Minute, PartRecords: 1_000_000,
		WebhookAllowPrivate: true, WebhookConcurrency: 4, MetricsAddr: metricsAddr,
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	s.base = publicURL(cfg.HTTPAddr)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serveWith(ctx, cfg, cfg.RedisURL, roles{api: true, worker: true, scheduler: true}, io.Discard, ready, nil)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("creditrun stopped with: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-errc:
		errc <- err
		t.Fatalf("creditrun did not start: %v", err)
	}
	return s
}

// TestWebhooksEndToEnd: on `creditrun all`, a job that succeeds reaches its
// account's endpoint as job.succeeded, and an overage job's hold reaches a
// finance endpoint as hold.opened and, once paid, hold.paid, each signed,
// each once by webhook-id.
func TestWebhooksEndToEnd(t *testing.T) {
	metrics := freeAddr(t)
	s := startWebhookStack(t, metrics)
	acct, key := s.newAccount(t, "people-1k-99")
	mine := newHookReceiver(t)
	mine.register(t, s, key, "job.succeeded")
	fin := newHookReceiver(t)
	fin.register(t, s, s.admin, "hold.opened", "hold.paid")

	j, _ := s.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "*", "num_records": 3})
	s.waitSucceeded(t, key, j.ID)
	got := mine.wait(t, "job.succeeded", func(e []hookEvent) bool { return len(e) == 1 })
	if got[0].Data["id"] != j.ID || got[0].Data["status"] != "succeeded" || got[0].Data["records"] != nil {
		t.Fatalf("job.succeeded data %v", got[0].Data)
	}

	s.setAvailable(t, acct, key, "people", 0)
	o, _ := s.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "*", "num_records": 2,
		"on_insufficient": "overage"})
	s.waitSucceeded(t, key, o.ID)
	opened := fin.wait(t, "hold.opened", func(e []hookEvent) bool { return len(e) == 1 })
	holdID, _ := opened[0].Data["id"].(string)
	if holdID == "" || opened[0].Data["job_id"] != o.ID || opened[0].Data["status"] != "unpaid" || opened[0].Data["account_id"] != acct {
		t.Fatalf("hold.opened data %v", opened[0].Data)
	}
	s.must(t, http.StatusOK, "POST", "/v1/holds/"+holdID+"/pay", s.admin, map[string]any{"payment_ref": "inv_1"})
	paid := fin.wait(t, "hold.paid", func(e []hookEvent) bool { return len(e) == 1 })
	if paid[0].Data["id"] != holdID || paid[0].Data["status"] != "paid" || paid[0].Data["payment_ref"] != "inv_1" {
		t.Fatalf("hold.paid data %v", paid[0].Data)
	}
	mine.wait(t, "job.succeeded", func(e []hookEvent) bool { return len(e) == 2 })
	// The worker's metrics count the deliveries by event and result.
	want := []string{
		`creditrun_webhook_deliveries_total{event="job.succeeded",result="delivered"} 2`,
		`creditrun_webhook_deliveries_total{event="hold.paid",result="delivered"} 1`,
		`creditrun_webhook_delivery_seconds_count{event="hold.opened"} 1`,
		`creditrun_webhook_oldest_pending_seconds `,
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(pollEvery) {
		body := string(fetch(t, publicURL(metrics)+"/metrics"))
		var missing []string
		for _, w := range want {
			if !strings.Contains(body, "\n"+w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q", missing)
		}
	}
	time.Sleep(300 * time.Millisecond)
	mine.mu.Lock()
	defer mine.mu.Unlock()
	if mine.posts != 2 {
		t.Fatalf("the account's endpoint got %d posts for 2 events", mine.posts)
	}
}
