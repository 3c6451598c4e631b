package jobstore_test

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/jobs/jobstore"
)

// newTarget connects to one Redis target. It returns the client and, where
// the target's clock can be moved (miniredis), a function that moves it.
type newTarget func(t *testing.T) (redis.UniversalClient, func(time.Duration))

// harness is what a case gets: a store on its own key prefix, its client, and
// the means to expire keys.
type harness struct {
	t      *testing.T
	ctx    context.Context
	client redis.UniversalClient
	// fastForward moves the server's clock; nil on a real server.
	fastForward func(time.Duration)
	prefix      string
	now         time.Time
	store       *jobstore.Redis
}

// retain is the RetainEnded of a harness's store.
const retain = 2 * time.Hour

var prefixes atomic.Int64

// runSuite runs every case on the target, each in parallel on its own prefix.
func runSuite(t *testing.T, target newTarget) {
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			client, ff := target(t)
			h := &harness{
				t:           t,
				ctx:         t.Context(),
				client:      client,
				fastForward: ff,
				prefix:      fmt.Sprintf("jst%d", prefixes.Add(1)),
				now:         time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
			}
			h.store = jobstore.New(client, jobstore.Options{
				Prefix:      h.prefix,
				RetainEnded: retain,
				NowFunc:     func() time.Time { return h.now },
			})
			cases[name](t, h)
		})
	}
}

// key is a key of the documented layout, built here on its own so that the
// tests check the layout rather than repeat the code under test.
func (h *harness) key(account string, parts ...string) string {
	k := h.prefix + ":{a:" + account + "}"
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

// job returns a queued job of the account, created at the harness's now plus
// offset.
func (h *harness) job(account, id string, kind jobs.Kind, offset time.Duration) jobs.Job {
	return jobs.Job{
		ID:         id,
		Account:    account,
		Kind:       kind,
		DataType:   "people",
		Query:      "city:Austin",
		Format:     jobs.CSV,
		Pool:       "people",
		Status:     jobs.Queued,
		NumRecords: 10,
		Meta:       jobs.Meta{Requested: 10, Processed: 10, CreditsReserved: 10},
		CreatedAt:  h.now.Add(offset),
	}
}

// create creates j and fails the test on an error.
func (h *harness) create(j jobs.Job, items []map[string]any) {
	h.t.Helper()
	if err := h.store.Create(h.ctx, j, items); err != nil {
		h.t.Fatalf("Create %s: %v", j.ID, err)
	}
}

// move moves a job from one status to another and fails the test on an error.
func (h *harness) move(account, id string, from, to jobs.Status) jobs.Job {
	h.t.Helper()
	j, err := h.store.Update(h.ctx, account, id, []jobs.Status{from}, func(j *jobs.Job) { j.Status = to })
	if err != nil {
		h.t.Fatalf("Update %s %s→%s: %v", id, from, to, err)
	}
	return j
}

// expire makes the job's keys expire: on miniredis by moving its clock past
// the TTL, on a real server (whose clock a test must not wait for) by deleting
// them, which is what expiry does.
func (h *harness) expire(account, id string) {
	h.t.Helper()
	if h.fastForward != nil {
		h.fastForward(retain + time.Second)
		return
	}
	if err := h.client.Del(h.ctx, h.key(account, "job", id), h.key(account, "job", id, "items"), h.key(account, "job", id, "records")).Err(); err != nil {
		h.t.Fatal(err)
	}
}
