package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/ledger/ledgertest"
)

// verifyPrefixes numbers the key prefixes of the verify tests.
var verifyPrefixes atomic.Int64

// fakeJobs stands in for the job store: the jobs of a scene by ref.
type fakeJobs struct {
	mu   sync.Mutex
	jobs map[ledger.JobRef]fakeJob
}

type fakeJob struct {
	ledger.JobState
	created time.Time
}

func (f *fakeJobs) set(account, id string, j fakeJob) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs[ledger.JobRef{Account: account, ID: id}] = j
}

func (f *fakeJobs) drop(account, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.jobs, ledger.JobRef{Account: account, ID: id})
}

func (f *fakeJobs) ActiveBefore(_ context.Context, accounts []string, before time.Time) ([]ledger.JobRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ledger.JobRef
	for ref, j := range f.jobs {
		if slices.Contains(accounts, ref.Account) && !j.Ended && j.created.Before(before) {
			out = append(out, ref)
		}
	}
	return out, nil
}

func (f *fakeJobs) JobStates(_ context.Context, refs []ledger.JobRef) (map[ledger.JobRef]ledger.JobState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[ledger.JobRef]ledger.JobState{}
	for _, ref := range refs {
		if j, ok := f.jobs[ref]; ok {
			out[ref] = j.JobState
		}
	}
	return out, nil
}

// scene is a ledger after a realistic mix of operations on two accounts,
// with the job records that go with it, and the clock moved past the grace.
type scene struct {
	l      *ledger.Redis
	c      redis.UniversalClient
	prefix string
	clock  *ledgertest.Clock
	start  time.Time
	jobs   *fakeJobs
}

const (
	acme = "acme"
	beta = "beta"
)

func newScene(t *testing.T, c redis.UniversalClient) *scene {
	t.Helper()
	ctx := context.Background()
	s := &scene{
		c:      c,
		prefix: fmt.Sprintf("verify%d_%d", verifyPrefixes.Add(1), rand.IntN(1e6)),
		clock:  ledgertest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		jobs:   &fakeJobs{jobs: map[ledger.JobRef]fakeJob{}},
	}
	s.l = ledger.New(c, ledger.Options{Prefix: s.prefix, NowFunc: s.clock.Now})
	s.start = s.clock.Now()
	end := s.start.AddDate(0, 1, 0)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	open := func(account string, cfg credit.PoolConfig) {
		t.Helper()
		if _, _, err := s.l.OpenPool(ctx, account, cfg, s.start, end); err != nil {
			t.Fatal(err)
		}
	}
	open(acme, credit.PoolConfig{Name: "people", Grant: 100, OverageEnabled: true, OverageLimit: 100, OveragePriceCents: 10})
	open(acme, credit.PoolConfig{Name: "enrich", Grant: 50})
	open(beta, credit.PoolConfig{Name: "people", Grant: 10})

	reserve := func(account, pool, job string, n int64, policy credit.Policy) {
		t.Helper()
		must(s.l.Reserve(ctx, credit.ReserveRequest{Account: account, Pool: pool, JobID: job, Requested: n, Policy: policy}))
	}
	settle := func(account, pool, job string, cost int64) credit.Reservation {
		t.Helper()
		r, err := s.l.Settle(ctx, credit.SettleRequest{Account: account, Pool: pool, JobID: job, Cost: cost})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ended := func(account, job, status string) {
		s.jobs.set(account, job, fakeJob{JobState: ledger.JobState{Status: status, Ended: true, EndedAt: s.clock.Now(),
			ChargeStands: status != "failed"}, created: s.start})
	}
	running := func(account, job string) {
		s.jobs.set(account, job, fakeJob{JobState: ledger.JobState{Status: "running"}, created: s.start})
	}

	reserve(acme, "people", "j-settle", 20, credit.Reject)
	settle(acme, "people", "j-settle", 15)
	ended(acme, "j-settle", "succeeded")
	reserve(acme, "people", "j-void", 10, credit.Reject)
	must(s.l.Void(ctx, acme, "people", "j-void", "canceled by the client"))
	ended(acme, "j-void", "canceled")
	reserve(acme, "people", "j-open", 30, credit.Reject)
	running(acme, "j-open")

	// Overage: 55 available, 60 needed; then a top-up and two more holds,
	// one paid and one waived.
	reserve(acme, "people", "j-over1", 60, credit.Overage)
	settle(acme, "people", "j-over1", 60)
	ended(acme, "j-over1", "succeeded")
	must(s.l.TopUp(ctx, acme, "people", 20, "a pack", "topup-1"))
	reserve(acme, "people", "j-over2", 25, credit.Overage)
	r := settle(acme, "people", "j-over2", 25)
	must(s.l.PayHold(ctx, r.HoldID, "inv_1"))
	ended(acme, "j-over2", "succeeded")
	reserve(acme, "people", "j-over3", 3, credit.Overage)
	r = settle(acme, "people", "j-over3", 3)
	must(s.l.WaiveHold(ctx, r.HoldID, "goodwill"))
	ended(acme, "j-over3", "succeeded")

	// Dedup: the second job's r2 was charged by the first, so it is free.
	must(s.l.Reserve(ctx, credit.ReserveRequest{Account: acme, Pool: "enrich", JobID: "j-dd1", Requested: 3,
		ItemIDs: []string{"r1", "r2", "r3"}, Policy: credit.Reject, Dedup: true}))
	must(s.l.Settle(ctx, credit.SettleRequest{Account: acme, Pool: "enrich", JobID: "j-dd1", Cost: 2, RecordIDs: []string{"r1", "r2"}}))
	ended(acme, "j-dd1", "succeeded")
	must(s.l.Reserve(ctx, credit.ReserveRequest{Account: acme, Pool: "enrich", JobID: "j-dd2", Requested: 2,
		ItemIDs: []string{"r2", "r4"}, Policy: credit.Reject, Dedup: true}))
	must(s.l.Settle(ctx, credit.SettleRequest{Account: acme, Pool: "enrich", JobID: "j-dd2", Cost: 2, RecordIDs: []string{"r2", "r4"}}))
	ended(acme, "j-dd2", "succeeded")
	// Two refunds of jobs that will not show their work: one marked first,
	// as an abandon does, and one of dedup records, which go back.
	reserve(acme, "people", "j-refund", 5, credit.Overage) // all overage: its hold is waived
	settle(acme, "people", "j-refund", 5)
	if err := s.l.MarkRefundDue(ctx, acme, "j-refund"); err != nil {
		t.Fatal(err)
	}
	must(s.l.Refund(ctx, acme, "j-refund", "the worker died before recording the job"))
	ended(acme, "j-refund", "failed")
	must(s.l.Reserve(ctx, credit.ReserveRequest{Account: acme, Pool: "enrich", JobID: "j-dd3", Requested: 1,
		ItemIDs: []string{"r5"}, Policy: credit.Reject, Dedup: true}))
	must(s.l.Settle(ctx, credit.SettleRequest{Account: acme, Pool: "enrich", JobID: "j-dd3", Cost: 1, RecordIDs: []string{"r5"}}))
	must(s.l.Refund(ctx, acme, "j-dd3", "abandoned"))
	ended(acme, "j-dd3", "failed")
	// A charge at acceptance, an adjustment and a new period.
	must(s.l.Reserve(ctx, credit.ReserveRequest{Account: acme, Pool: "enrich", JobID: "j-acc", Requested: 5,
		Policy: credit.Reject, ChargeAtAcceptance: true}))
	running(acme, "j-acc")
	must(s.l.Adjust(ctx, acme, "enrich", -3, "correction", "adjust-1"))
	// A job in flight across the boundary: what it holds is carried.
	reserve(acme, "enrich", "j-carry", 2, credit.Reject)
	running(acme, "j-carry")
	res, err := s.l.RefreshBatch(ctx, []ledger.RefreshItem{{Account: acme, Pool: "enrich", Start: end, End: end.AddDate(0, 1, 0)}})
	if err != nil || res[0].Err != nil || !res[0].Applied {
		t.Fatalf("refresh: %+v, %v", res, err)
	}

	reserve(beta, "people", "b-open", 4, credit.Reject)
	s.jobs.set(beta, "b-open", fakeJob{JobState: ledger.JobState{Status: "queued"}, created: s.start})
	// A grant of acme's people, not spent yet.
	if _, _, err := s.l.AddGrant(ctx, credit.GrantRequest{Account: acme, Pool: "people", ID: "grant_v", Amount: 10, Reason: "pack"}); err != nil {
		t.Fatal(err)
	}

	s.clock.Advance(10 * time.Minute)
	return s
}

// key is a key of the documented layout, built here on its own so that the
// tests check the layout rather than repeat the code under test.
func (s *scene) key(account string, parts ...string) string {
	k := s.prefix + ":{a:" + account + "}"
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

func (s *scene) global(parts ...string) string {
	k := s.prefix
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

func (s *scene) verify(t *testing.T, opts ledger.VerifyOptions) *ledger.VerifyReport {
	t.Helper()
	if opts.Jobs == nil {
		opts.Jobs = s.jobs
	}
	rep, err := s.l.Verify(context.Background(), opts)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

// do runs a Redis command of a corruption and fails the test on error.
func (s *scene) do(t *testing.T, args ...any) {
	t.Helper()
	if err := s.c.Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
}

// findings names each finding by its check, account and subject.
func findings(fs []ledger.Finding) []string {
	out := []string{}
	for _, f := range fs {
		subject := f.Pool
		switch {
		case f.Job != "":
			subject = f.Job
		case f.Hold != "":
			subject = f.Hold
		}
		out = append(out, fmt.Sprintf("%s %s %s", f.Check, f.Account, subject))
	}
	slices.Sort(out)
	return out
}

func verifyTargets() map[string]func(t *testing.T) redis.UniversalClient {
	return map[string]func(t *testing.T) redis.UniversalClient{
		"Redis": func(t *testing.T) redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: server.Addr()})
			t.Cleanup(func() { c.Close() })
			return c
		},
		"Cluster": func(t *testing.T) redis.UniversalClient {
			c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs()})
			t.Cleanup(func() { c.Close() })
			return c
		},
	}
}

// TestVerifyClean verifies a ledger after a realistic mix: every check
// holds, and each part of the ledger was looked at.
func TestVerifyClean(t *testing.T) {
	t.Parallel()
	for name, target := range verifyTargets() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newScene(t, target(t))
			rep := s.verify(t, ledger.VerifyOptions{})
			if !rep.OK || len(rep.Failures) != 0 || len(rep.Warnings) != 0 {
				t.Fatalf("a clean ledger: ok %v, failures %v, warnings %v", rep.OK, rep.Failures, rep.Warnings)
			}
			want := ledger.VerifyCounts{Pools: 3, JournalEntries: 37, Reservations: 13, OpenReservations: 3, Holds: 4,
				IndexedHolds: 4, Jobs: 4 + 4, Charges: 1, ChargedRecordSets: 2}
			if diff := cmp.Diff(want, rep.Checked); rep.Accounts != 2 || diff != "" {
				t.Errorf("accounts %d, checked (-want +got):\n%s", rep.Accounts, diff)
			}
			one := s.verify(t, ledger.VerifyOptions{Account: beta})
			if !one.OK || one.Accounts != 1 || one.Checked.Pools != 1 || one.Checked.OpenReservations != 1 {
				t.Errorf("beta alone: %+v", one)
			}
			ledgertest.CheckAccount(t, s.l, acme)
		})
	}
}

// TestVerifyDetects corrupts a clean ledger one way at a time and asserts
// that verify reports exactly what was broken.
func TestVerifyDetects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		corrupt func(t *testing.T, s *scene)
		want    []string
		warn    []string
		// account, when set, verifies that account alone.
		account string
	}{{
		name:    "pool count moved by hand",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "HINCRBY", s.key(acme, "pool", "people"), "allocated", 5) },
		want:    []string{"pool-replay acme people"},
	}, {
		name:    "pool reserved moved by hand",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "HINCRBY", s.key(acme, "pool", "people"), "reserved", -1) },
		want:    []string{"pool-replay acme people", "pool-reservations acme people"},
	}, {
		name:    "overage over its limit",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "HSET", s.key(acme, "pool", "people"), "overage_limit", 2) },
		want:    []string{"i1 acme people"},
	}, {
		name: "a period refreshed twice",
		corrupt: func(t *testing.T, s *scene) {
			ctx := context.Background()
			p, err := s.l.Pool(ctx, acme, "enrich")
			if err != nil {
				t.Fatal(err)
			}
			seq, err := s.c.HIncrBy(ctx, s.key(acme, "account"), "seq", 1).Result()
			if err != nil {
				t.Fatal(err)
			}
			s.do(t, "XADD", s.key(acme, "journal"), "*", "seq", seq, "at", s.clock.Now().UnixMilli(), "type", "refresh",
				"pool", "enrich", "amount", 50, "avail", p.Available(),
				"period_start", p.PeriodStart.UnixMilli(), "period_end", p.PeriodEnd.UnixMilli())
		},
		want: []string{"i6 acme enrich"},
	}, {
		name:    "refunded records back in the charged set",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "SADD", s.key(acme, "charged", "j-dd3"), "r5") },
		want:    []string{"i7 acme j-dd3"},
	}, {
		name: "journal entry deleted",
		corrupt: func(t *testing.T, s *scene) {
			msgs, err := s.c.XRange(context.Background(), s.key(acme, "journal"), "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			s.do(t, "XDEL", s.key(acme, "journal"), msgs[4].ID)
		},
		want: []string{"journal acme "},
	}, {
		name: "last journal entry deleted",
		corrupt: func(t *testing.T, s *scene) {
			msgs, err := s.c.XRevRangeN(context.Background(), s.key(acme, "journal"), "+", "-", 1).Result()
			if err != nil {
				t.Fatal(err)
			}
			s.do(t, "XDEL", s.key(acme, "journal"), msgs[0].ID)
		},
		want: []string{"journal acme "},
	}, {
		name: "open reservation of an ended job",
		corrupt: func(t *testing.T, s *scene) {
			s.jobs.set(acme, "j-open", fakeJob{JobState: ledger.JobState{Status: "failed", Ended: true, EndedAt: s.start}, created: s.start})
		},
		want: []string{"job-reservation acme j-open"},
	}, {
		name:    "open reservation without a job",
		corrupt: func(t *testing.T, s *scene) { s.jobs.drop(beta, "b-open") },
		want:    []string{"job-reservation beta b-open"},
	}, {
		name: "job without a reservation",
		corrupt: func(t *testing.T, s *scene) {
			s.jobs.set(beta, "b-lost", fakeJob{JobState: ledger.JobState{Status: "queued"}, created: s.start})
		},
		want: []string{"job-reservation beta b-lost"},
	}, {
		name:    "pending entry removed",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "ZREM", s.key(acme, "pending"), "j-open") },
		want:    []string{"pending acme j-open"},
	}, {
		name:    "pending entry of a settled job",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "ZADD", s.key(acme, "pending"), 1, "j-settle") },
		want:    []string{"pending acme j-settle"},
	}, {
		name:    "settled reservation that does not balance",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "HINCRBY", s.key(acme, "res", "j-settle"), "released", 1) },
		want:    []string{"i2 acme j-settle"},
	}, {
		name:    "open reservation changed",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "HINCRBY", s.key(acme, "res", "j-open"), "prepaid", 1) },
		want:    []string{"pool-reservations acme people", "reservation-journal acme j-open"},
	}, {
		name:    "open reservation deleted",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "DEL", s.key(beta, "res", "b-open")) },
		want: []string{"job-reservation beta b-open", "pending beta b-open", "pool-reservations beta people",
			"reservation-journal beta b-open"},
	}, {
		name:    "hold credits changed",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "HINCRBY", s.key(acme, "hold", "hold_j-over1"), "credits", 1) },
		want:    []string{"holds-outstanding acme people"},
	}, {
		name:    "hold dropped from the global index",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "ZREM", s.global("holds"), "hold_j-over1") },
		want:    []string{"hold-index acme hold_j-over1"},
	}, {
		name:    "hold dropped from the hold-to-account map",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "HDEL", s.global("holds", "account"), "hold_j-over2") },
		want:    []string{"hold-index acme hold_j-over2"},
	}, {
		name:    "hold deleted",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "DEL", s.key(acme, "hold", "hold_j-over2")) },
		want:    []string{"hold acme hold_j-over2", "hold-index acme hold_j-over2"},
	}, {
		name:    "hold dropped from the account's holds",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "ZREM", s.key(acme, "holds"), "hold_j-over3") },
		want:    []string{"hold acme hold_j-over3"},
	}, {
		name:    "status index lags: a warning",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "ZREM", s.global("holds", "paid"), "hold_j-over2") },
		warn:    []string{"hold-status-index acme hold_j-over2"},
	}, {
		name:    "pool missing from the period index",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "ZREM", s.global("periods", "enrich"), acme) },
		want:    []string{"period-index acme enrich"},
	}, {
		name:    "account missing from the accounts set",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "SREM", s.global("accounts"), beta) },
		want:    []string{"account-index beta "},
		account: beta,
	}, {
		name:    "charged record dropped from the dedup set",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "SREM", s.key(acme, "dedup", "enrich"), "r1") },
		want:    []string{"i7 acme j-dd1"},
	}, {
		name: "record charged by two jobs",
		corrupt: func(t *testing.T, s *scene) {
			s.do(t, "SREM", s.key(acme, "charged", "j-dd2"), "r4")
			s.do(t, "SADD", s.key(acme, "charged", "j-dd2"), "r2")
		},
		want: []string{"i7 acme j-dd2"},
	}, {
		name: "a grant's remaining moved by hand",
		corrupt: func(t *testing.T, s *scene) {
			raw, err := s.c.Do(context.Background(), "HGET", s.key(acme, "grants"), "grant_v").Text()
			if err != nil || !strings.Contains(raw, `"remaining":10`) {
				t.Fatalf("grant as stored: %q, %v", raw, err)
			}
			s.do(t, "HSET", s.key(acme, "grants"), "grant_v", strings.Replace(raw, `"remaining":10`, `"remaining":15`, 1))
		},
		want: []string{"i9 acme people"},
	}, {
		name:    "carried credits moved by hand",
		corrupt: func(t *testing.T, s *scene) { s.do(t, "HINCRBY", s.key(acme, "pool", "enrich"), "carried", 1) },
		want:    []string{"pool-replay acme enrich", "pool-reservations acme enrich"},
	}, {
		name: "refund stuck",
		corrupt: func(t *testing.T, s *scene) {
			s.do(t, "ZADD", s.key(acme, "charges"), s.start.UnixMilli(), "j-settle")
			s.jobs.set(acme, "j-settle", fakeJob{JobState: ledger.JobState{Status: "failed", Ended: true, EndedAt: s.start}, created: s.start})
		},
		want: []string{"refund acme j-settle"},
	}}
	for name, target := range verifyTargets() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := target(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := newScene(t, c)
					tc.corrupt(t, s)
					rep := s.verify(t, ledger.VerifyOptions{Account: tc.account})
					if tc.want == nil {
						tc.want = []string{}
					}
					if tc.warn == nil {
						tc.warn = []string{}
					}
					if diff := cmp.Diff(tc.want, findings(rep.Failures)); diff != "" {
						t.Errorf("failures (-want +got):\n%s\n%v", diff, rep.Failures)
					}
					if diff := cmp.Diff(tc.warn, findings(rep.Warnings)); diff != "" {
						t.Errorf("warnings (-want +got):\n%s\n%v", diff, rep.Warnings)
					}
					if rep.OK != (len(tc.want) == 0) || rep.FailureCount != len(rep.Failures) {
						t.Errorf("ok %v with %d failures (%d counted)", rep.OK, len(rep.Failures), rep.FailureCount)
					}
					for _, f := range rep.Failures {
						if f.Message == "" || f.Account == "" && f.Check != ledger.CheckHoldIndex {
							t.Errorf("finding without a message or account: %+v", f)
						}
					}
				})
			}
		})
	}
}

// TestVerifyOptions covers the refusals of bad options and the cap on the
// findings listed.
func TestVerifyOptions(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: server.Addr()})
	t.Cleanup(func() { c.Close() })
	s := newScene(t, c)
	ctx := context.Background()
	for _, tc := range []struct {
		opts ledger.VerifyOptions
		want error
	}{
		{ledger.VerifyOptions{Account: "bad:id"}, credit.ErrInvalidID},
		{ledger.VerifyOptions{Account: "nobody"}, credit.ErrUnknownAccount},
		{ledger.VerifyOptions{Grace: -time.Second}, credit.ErrInvalidAmount},
	} {
		if _, err := s.l.Verify(ctx, tc.opts); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.opts, err, tc.want)
		}
	}
	for _, p := range []string{"people", "enrich"} {
		s.do(t, "HINCRBY", s.key(acme, "pool", p), "allocated", 1)
	}
	rep := s.verify(t, ledger.VerifyOptions{MaxFindings: 1})
	if rep.OK || rep.FailureCount != 2 || len(rep.Failures) != 1 {
		t.Errorf("capped at 1: ok %v, %d counted, %d listed", rep.OK, rep.FailureCount, len(rep.Failures))
	}
	// Without job records, verify checks the ledger alone.
	s.jobs.drop(beta, "b-open")
	rep, err := s.l.Verify(ctx, ledger.VerifyOptions{Account: beta})
	if err != nil || !rep.OK || rep.Checked.Jobs != 0 {
		t.Errorf("beta without jobs: %+v, %v", rep, err)
	}
}

// TestVerifyLive runs verify again and again while reservations are made,
// settled and voided and holds paid: it never reports a failure that a
// change between two of its reads made up.
func TestVerifyLive(t *testing.T) {
	t.Parallel()
	for name, target := range verifyTargets() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := target(t)
			ctx := context.Background()
			l := ledger.New(c, ledger.Options{Prefix: fmt.Sprintf("vlive%d_%d", verifyPrefixes.Add(1), rand.IntN(1e6))})
			now := time.Now()
			accounts := []string{"l1", "l2", "l3", "l4"}
			for _, a := range accounts {
				if _, _, err := l.OpenPool(ctx, a, credit.PoolConfig{Name: "people", Grant: 1_000_000, OverageEnabled: true,
					OverageLimit: 1_000_000, OveragePriceCents: 1}, now, now.AddDate(0, 1, 0)); err != nil {
					t.Fatal(err)
				}
			}
			var stop atomic.Bool
			var wg sync.WaitGroup
			for w, a := range accounts {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					for i := 0; !stop.Load(); i++ {
						job := fmt.Sprintf("w%d-%d", w, i)
						r, err := l.Reserve(ctx, credit.ReserveRequest{Account: a, Pool: "people", JobID: job,
							Requested: 1 + rng.Int64N(20), Policy: credit.Overage})
						if err != nil {
							t.Error(err)
							return
						}
						switch rng.IntN(3) {
						case 0:
							_, err = l.Void(ctx, a, "people", job, "")
						case 1:
							r, err = l.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: job, Cost: rng.Int64N(r.Reserved() + 1)})
							if err == nil && r.HoldID != "" && rng.IntN(2) == 0 {
								_, err = l.PayHold(ctx, r.HoldID, "inv")
							}
						}
						if err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			for range 6 {
				rep, err := l.Verify(ctx, ledger.VerifyOptions{})
				if err != nil {
					t.Error(err)
					break
				}
				if !rep.OK {
					t.Errorf("a live ledger failed verify: %v", rep.Failures)
					break
				}
			}
			stop.Store(true)
			wg.Wait()
			rep, err := l.Verify(ctx, ledger.VerifyOptions{})
			if err != nil || !rep.OK || len(rep.Warnings) != 0 {
				t.Fatalf("after the traffic: %+v, %v", rep, err)
			}
		})
	}
}
