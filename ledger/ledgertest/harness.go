package ledgertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// NewFunc returns a ledger built with opts on the target under test, and the
// client it uses, so that the suite can look at the raw keys.
type NewFunc func(t *testing.T, opts ledger.Options) (*ledger.Redis, redis.UniversalClient)

// Options tune the suite to a target.
type Options struct {
	// Scale divides the size of the heavy cases (concurrency, property); 1 or
	// 0 runs them at full size.
	Scale int
}

// Run runs every case of the suite against the target.
func Run(t *testing.T, newLedger NewFunc, opts Options) {
	if opts.Scale < 1 {
		opts.Scale = 1
	}
	cases := []struct {
		name string
		fn   func(t *testing.T, h *Harness)
	}{
		{"OpenPool", testOpenPool},
		{"PolicyTable", testPolicyTable},
		{"EnrichmentItems", testEnrichmentItems},
		{"Settle", testSettle},
		{"Redelivery", testRedelivery},
		{"ReservationTTL", testReservationTTL},
		{"ChargeAtAcceptance", testChargeAtAcceptance},
		{"Dedup", testDedup},
		{"StagedDedup", testStagedDedup},
		{"Holds", testHolds},
		{"Outbox", testOutbox},
		{"ListHolds", testListHolds},
		{"HoldStatusIndex", testHoldStatusIndex},
		{"RecentHolds", func(t *testing.T, h *Harness) { testRecentHolds(t, h, opts.Scale) }},
		{"TopUpAdjust", testTopUpAdjust},
		{"KeyedAdjust", testKeyedAdjust},
		{"Refund", testRefund},
		{"RefundDedup", testRefundDedup},
		{"RefundAcceptance", testRefundAcceptance},
		{"RefundLaterPeriod", testRefundLaterPeriod},
		{"RefundLateRefresh", testRefundLateRefresh},
		{"Refresh", testRefresh},
		{"GrantOrder", testGrantOrder},
		{"GrantExpiry", testGrantExpiry},
		{"GrantAddVoid", testGrantAddVoid},
		{"GrantRefund", testGrantRefund},
		{"ReserveCondition", testReserveCondition},
		{"PlanPeriods", testPlanPeriods},
		{"PeriodIndex", testPeriodIndex},
		{"ReindexPeriods", testReindexPeriods},
		{"Journal", testJournal},
		{"JournalScan", testJournalScan},
		{"Checkpoint", testCheckpoint},
		{"ReservationsOlderThan", testReservationsOlderThan},
		{"OldReservationsPages", func(t *testing.T, h *Harness) { testOldReservationsPages(t, h, opts.Scale) }},
		{"BadInput", testBadInput},
		{"Concurrency", func(t *testing.T, h *Harness) { testConcurrency(t, h, opts.Scale) }},
		{"Property", func(t *testing.T, h *Harness) { testProperty(t, h, opts.Scale) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, newLedger)
			c.fn(t, h)
		})
	}
}

// Harness is one case's ledger, its clock and its bookkeeping.
type Harness struct {
	L      *ledger.Redis
	Client redis.UniversalClient
	Prefix string
	Clock  *Clock

	mu   sync.Mutex
	jobs map[string]map[string]string // account -> job -> pool, every job the case reserved
}

func newHarness(t *testing.T, newLedger NewFunc) *Harness {
	prefix := "t" + randHex(6)
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l, c := newLedger(t, ledger.Options{Prefix: prefix, NowFunc: clock.Now})
	return &Harness{L: l, Client: c, Prefix: prefix, Clock: clock, jobs: map[string]map[string]string{}}
}

// Clock is a fake clock that tests move by hand.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var ctx = context.Background()

// Account returns a fresh account id.
func (h *Harness) Account(name string) string {
	a := name + "-" + randHex(3)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.jobs[a] == nil {
		h.jobs[a] = map[string]string{}
	}
	return a
}

// ownsAccount reports whether the case made the account: the suite's cases
// share a server, and walks over every account see the others'.
func (h *Harness) ownsAccount(a string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.jobs[a]
	return ok
}

// Period is a month from the clock's now.
func (h *Harness) Period() (time.Time, time.Time) {
	start := h.Clock.Now()
	return start, start.AddDate(0, 1, 0)
}

// Open opens a pool and fails the test on error.
func (h *Harness) Open(t *testing.T, account string, cfg credit.PoolConfig) credit.Pool {
	t.Helper()
	start, end := h.Period()
	p, _, err := h.L.OpenPool(ctx, account, cfg, start, end)
	if err != nil {
		t.Fatalf("open %s/%s: %v", account, cfg.Name, err)
	}
	return p
}

// Reserve reserves and records the job for the invariant checks.
func (h *Harness) Reserve(req credit.ReserveRequest) (credit.Reservation, error) {
	h.mu.Lock()
	if h.jobs[req.Account] == nil {
		h.jobs[req.Account] = map[string]string{}
	}
	h.jobs[req.Account][req.JobID] = req.Pool
	h.mu.Unlock()
	return h.L.Reserve(ctx, req)
}

// MustReserve reserves and fails the test on error.
func (h *Harness) MustReserve(t *testing.T, req credit.ReserveRequest) credit.Reservation {
	t.Helper()
	r, err := h.Reserve(req)
	if err != nil {
		t.Fatalf("reserve %s: %v", req.JobID, err)
	}
	return r
}

// MustSettle settles and fails the test on error.
func (h *Harness) MustSettle(t *testing.T, account, pool, job string, cost int64) credit.Reservation {
	t.Helper()
	r, err := h.L.Settle(ctx, credit.SettleRequest{Account: account, Pool: pool, JobID: job, Cost: cost})
	if err != nil {
		t.Fatalf("settle %s: %v", job, err)
	}
	return r
}

// MustPool reads a pool and fails the test on error.
func (h *Harness) MustPool(t *testing.T, account, pool string) credit.Pool {
	t.Helper()
	p, err := h.L.Pool(ctx, account, pool)
	if err != nil {
		t.Fatalf("pool %s/%s: %v", account, pool, err)
	}
	return p
}

// CheckInvariants asserts, for every account given:
//   - I1 on every pool;
//   - I2 on every reservation the case made: an ended reservation gave back
//     what it did not post, and posted no more than it held; an open one is
//     still pending;
//   - I4: the journal replays to the pools exactly, periods included;
//   - I6: refresh entries of a pool start strictly later periods.
func (h *Harness) CheckInvariants(t *testing.T, accounts ...string) {
	t.Helper()
	for _, a := range accounts {
		CheckAccount(t, h.L, a)
		entries, err := h.L.JournalAll(ctx, a)
		if err != nil {
			t.Fatalf("journal of %s: %v", a, err)
		}
		lastStart := map[string]time.Time{}
		for _, e := range entries {
			if e.Type != credit.EntryRefresh {
				continue
			}
			if !e.PeriodStart.After(lastStart[e.Pool]) {
				t.Errorf("I6: %s/%s: refresh for period %s after one for %s", a, e.Pool, e.PeriodStart, lastStart[e.Pool])
			}
			lastStart[e.Pool] = e.PeriodStart
		}
		h.mu.Lock()
		jobs := h.jobs[a]
		h.mu.Unlock()
		for job := range jobs {
			r, err := h.L.Reservation(ctx, a, job)
			if err != nil {
				continue // refused at reserve: nothing to check
			}
			checkReservation(t, r)
		}
	}
}

func checkReservation(t *testing.T, r credit.Reservation) {
	t.Helper()
	switch r.State {
	case credit.Settled:
		if r.Reserved() != r.TotalCost+r.Released || r.TotalCost > r.Reserved() {
			t.Errorf("I2: %s: reserved %d != total_cost %d + released %d", r.JobID, r.Reserved(), r.TotalCost, r.Released)
		}
		if r.PrepaidPosted+r.OveragePosted != r.TotalCost {
			t.Errorf("I2: %s: prepaid %d + overage %d posted != total_cost %d", r.JobID, r.PrepaidPosted, r.OveragePosted, r.TotalCost)
		}
	case credit.Refunded:
		if r.Reserved() != r.TotalCost+r.Released || r.Refunded+r.OverageRefundDue > r.TotalCost {
			t.Errorf("I2: %s: refunded %d (+%d due) of a cost of %d, reserved %d, released %d", r.JobID, r.Refunded, r.OverageRefundDue, r.TotalCost, r.Reserved(), r.Released)
		}
	case credit.Voided:
		if r.Released != r.Reserved() || r.TotalCost != 0 {
			t.Errorf("I2: %s: voided with released %d of %d, cost %d", r.JobID, r.Released, r.Reserved(), r.TotalCost)
		}
	case credit.Reserved:
	default:
		t.Errorf("%s: unknown state %q", r.JobID, r.State)
	}
}

// Snapshot returns every key under the case's prefix with its contents, so a
// test can assert that a refused call changed nothing.
func (h *Harness) Snapshot(t *testing.T) string {
	t.Helper()
	var mu sync.Mutex
	var lines []string
	scan := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, h.Prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			line, err := dumpKey(ctx, c, k)
			if err != nil {
				return err
			}
			mu.Lock()
			lines = append(lines, line)
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	switch c := h.Client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *redis.Client:
		err = scan(ctx, c)
	default:
		t.Fatalf("snapshot: client %T", h.Client)
	}
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func dumpKey(ctx context.Context, c *redis.Client, k string) (string, error) {
	typ, err := c.Type(ctx, k).Result()
	if err != nil {
		return "", err
	}
	var v any
	switch typ {
	case "hash":
		v, err = c.HGetAll(ctx, k).Result()
	case "set":
		var m []string
		m, err = c.SMembers(ctx, k).Result()
		sort.Strings(m)
		v = m
	case "zset":
		v, err = c.ZRangeWithScores(ctx, k, 0, -1).Result()
	case "stream":
		v, err = c.XRange(ctx, k, "-", "+").Result()
	default:
		v, err = c.Get(ctx, k).Result()
	}
	return fmt.Sprintf("%s %s %v", k, typ, v), err
}
