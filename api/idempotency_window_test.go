package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstest"
	"github.com/creditrun/creditrun/jobs/jobstore"
	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/plan"
)

// slowQueue is a queue whose first Enqueue waits until the test releases
// it: a submit that runs as long as the test wants.
type slowQueue struct {
	*jobstest.Queue
	calls   atomic.Int64
	entered chan struct{}
	release chan struct{}
}

func (q *slowQueue) Enqueue(ctx context.Context, j jobs.Job) error {
	if q.calls.Add(1) == 1 {
		close(q.entered)
		<-q.release
	}
	return q.Queue.Enqueue(ctx, j)
}

// TestIdempotencySlowRequest submits with an Idempotency-Key, and keeps the
// submit running well past the pending marker's TTL (shortened to 300 ms).
// A duplicate with the same key must not run the submit again: it waits
// for the first and gets its response.
func TestIdempotencySlowRequest(t *testing.T) {
	q := &slowQueue{Queue: &jobstest.Queue{}, entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, func(cfg *api.Config) {
		l := ledger.New(cfg.Redis, ledger.Options{Prefix: cfg.KeyPrefix})
		js := jobstore.New(cfg.Redis, jobstore.Options{Prefix: cfg.KeyPrefix})
		cfg.Jobs = jobs.NewService(jobs.Config{Ledger: l, Store: js, Queue: q, Accounts: js, Catalog: plan.Builtin()})
	})
	const ttl = 300 * time.Millisecond
	e.api.SetPendingTTL(ttl)
	acct, key := e.account(t, "people-1k-99")
	body := `{"data_type":"people","query":"city:Austin","num_records":7}`
	idem := map[string]string{"Idempotency-Key": "slow-1"}

	first := make(chan reply, 1)
	go func() {
		first <- e.do(t, req{method: "POST", path: "/v1/searches", key: key, body: body, header: idem})
	}()
	<-q.entered

	// Wait, while the submit runs, until its marker has outlived the TTL it
	// was set with (renewed three times) or is gone (nothing renews it).
	sum := sha256.Sum256([]byte("slow-1"))
	marker := e.prefix + ":{a:" + acct + "}:idem:" + hex.EncodeToString(sum[:])
	renewals := 0
	last := time.Duration(-1)
	for i := 0; renewals < 3; i++ {
		if i == 1000 {
			t.Fatalf("the marker neither renewed nor expired in 1,000 reads (TTL left %v)", last)
		}
		left, err := e.client.PTTL(ctx, marker).Result()
		if err != nil {
			t.Fatal(err)
		}
		if left < 0 {
			break // gone: the window is open
		}
		if last >= 0 && left > last {
			renewals++
		}
		last = left
		time.Sleep(10 * time.Millisecond)
	}

	dup := make(chan reply, 1)
	go func() {
		dup <- e.do(t, req{method: "POST", path: "/v1/searches", key: key, body: body, header: idem})
	}()
	// Let the duplicate reach the key (or, without a marker, the submit)
	// before the first finishes; either way it must not submit again.
	time.Sleep(ttl / 3)
	close(q.release)
	r1, r2 := <-first, <-dup

	if r1.status != http.StatusAccepted || r2.status != http.StatusAccepted {
		t.Fatalf("first %d %s, duplicate %d %s", r1.status, r1.body, r2.status, r2.body)
	}
	id1 := r1.json(t)["job"].(map[string]any)["id"]
	id2 := r2.json(t)["job"].(map[string]any)["id"]
	if n := q.calls.Load(); n != 1 || id1 != id2 {
		t.Errorf("the submit ran %d times (jobs %v and %v), want once", n, id1, id2)
	}
	if r2.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the duplicate is not a replay: %v", r2.header)
	}
	if got := e.available(t, acct, "people"); got != 1000-7 {
		t.Errorf("available %d after one submit of 7 from 1000", got)
	}
	e.checkInvariants(t, acct)
}
