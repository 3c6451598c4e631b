package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/creditrun/creditrun/internal/redisserver"
)

// TestE2EWebhookWorkerKilled runs `creditrun api`, `creditrun scheduler`
// (the relay) and `creditrun worker` as processes, and kills the worker with SIGKILL while it is delivering a
// job.succeeded: after the job was settled and recorded, before the
// receiver answered. Another worker delivers it again (asynq redelivers the
// task once its lease has run out, 1–3 minutes), with the same webhook-id,
// so a receiver that dedups by id handles it exactly once.
func TestE2EWebhookWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for asynq's lease to run out: minutes")
	}
	t.Parallel()
	srv := redisserver.T(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { rdb.Close() })
	s := &stack{admin: "cr_admin_hook_kill", rdb: rdb, redis: srv, dataDir: t.TempDir(), dataset: sharedDataset(t),
		userKeys: map[string]bool{}, rateOn: true}
	env := []string{
		"CREDITRUN_REDIS_URL=" + srv.URL(), "CREDITRUN_ADMIN_KEY=" + s.admin, "CREDITRUN_DATA_DIR=" + s.dataDir,
		"CREDITRUN_DATASET=" + s.dataset, "CREDITRUN_RATE_LIMIT=1000", "CREDITRUN_WORKER_CONCURRENCY=2",
		"CREDITRUN_WEBHOOK_ALLOW_PRIVATE=true",
	}
	apiAddr := freeAddr(t)
	s.base = "http://" + apiAddr
	startProc(t, "api", apiAddr, env...)
	startProc(t, "scheduler", freeAddr(t), env...) // the relay
	first := startProc(t, "worker", freeAddr(t), env...)

	// The receiver holds its first post unanswered until the sender is
	// gone, and verifies and keeps every other one by webhook-id.
	var (
		mu      sync.Mutex
		secret  string
		posts   int
		handled = map[string]string{} // webhook-id -> job id
		bad     []string
	)
	arrived := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts++
		n := posts
		sec := secret
		mu.Unlock()
		if n == 1 {
			close(arrived)
			<-r.Context().Done() // the worker died mid-delivery
			return
		}
		wh, err := standardwebhooks.NewWebhook(sec)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		var e struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err == nil {
			err = json.Unmarshal(body, &e)
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			bad = append(bad, err.Error())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if _, dup := handled[r.Header.Get("webhook-id")]; !dup && e.Type == "job.succeeded" {
			handled[r.Header.Get("webhook-id")], _ = e.Data["id"].(string)
		}
	}))
	t.Cleanup(rcv.Close)

	_, key := s.newAccount(t, "people-1k-99")
	var ep struct {
		Secret string `json:"secret"`
	}
	s.must(t, http.StatusCreated, "POST", "/v1/webhooks", key, map[string]any{"url": rcv.URL, "events": []string{"job.succeeded"}}).into(t, &ep)
	mu.Lock()
	secret = ep.Secret
	mu.Unlock()

	j, _ := s.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "*", "num_records": 3})
	select {
	case <-arrived:
	case <-time.After(2 * time.Minute):
		t.Fatal("no delivery began")
	}
	first.kill(t)
	if done, r := s.job(t, key, j.ID); done.Status != "succeeded" {
		t.Fatalf("the job is not settled though its event was being delivered: %s", r)
	}
	startProc(t, "worker", freeAddr(t), env...)
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		mu.Lock()
		n, b := len(handled), append([]string(nil), bad...)
		mu.Unlock()
		if len(b) > 0 {
			t.Fatalf("signatures that did not verify: %v", b)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("job.succeeded was never delivered after the kill")
		}
	}
	time.Sleep(2 * time.Second) // a second copy, were there one, would come now
	mu.Lock()
	defer mu.Unlock()
	if len(handled) != 1 {
		t.Fatalf("handled %v, want one job.succeeded", handled)
	}
	for _, job := range handled {
		if job != j.ID {
			t.Fatalf("job.succeeded of %s, want %s", job, j.ID)
		}
	}
	t.Logf("%d posts, one handled", posts)
}
