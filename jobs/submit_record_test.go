package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// roundTrips counts what a client sends to Redis: each command or pipeline
// is one round trip.
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestSubmitOneRoundTrip: with a Recorder, a submit whose reservation is
// the whole request reserves and records its job in one round trip to
// Redis (the queue here is in process), against two without; every other
// outcome falls back to recording the job from the reservation made, and
// the stored jobs are the same either way.
func TestSubmitOneRoundTrip(t *testing.T) {
	t.Parallel()
	type run struct {
		f      *fixture
		trips  *roundTrips
		client *redis.Client
	}
	newRun := func(recorder bool) run {
		c := redis.NewClient(&redis.Options{Addr: server.Addr(), PoolSize: 8, MaxRetries: -1})
		t.Cleanup(func() { c.Close() })
		rt := &roundTrips{}
		c.AddHook(rt)
		f := newFixtureOn(t, c, func(cfg *jobs.Config) {
			if !recorder {
				cfg.Recorder = nil
			}
		})
		return run{f: f, trips: rt, client: c}
	}
	fast, slow := newRun(true), newRun(false)
	type result struct {
		trips int64
		job   jobs.Job
		err   error
	}
	submit := func(r run, a string, spec jobs.Spec) result {
		before := r.trips.n.Load()
		j, err := r.f.svc.Submit(ctx, a, spec)
		res := result{trips: r.trips.n.Load() - before, err: err}
		if err == nil {
			got, gerr := r.f.svc.Get(ctx, a, j.ID)
			if gerr != nil {
				t.Fatalf("get %s: %v", j.ID, gerr)
			}
			if got.Meta.CreditsRemaining != 0 {
				t.Errorf("job %s keeps credits_remaining %d in its record", j.ID, got.Meta.CreditsRemaining)
			}
			got.Meta.CreditsRemaining = j.Meta.CreditsRemaining
			got.Rev, j.Rev = "", "" // the store's revisions, not part of the job
			if fmt.Sprint(got) != fmt.Sprint(j) {
				t.Errorf("submit answered %+v, the store has %+v", j, got)
			}
			res.job = got
		}
		return res
	}
	items := []map[string]any{{"tracking_id": "t1", "name": "Shop 1"}, {"tracking_id": "t2", "name": "Shop 2"}}
	steps := []struct {
		name      string
		spec      jobs.Spec
		fastTrips int64 // with the Recorder; 2 without, or 1 when refused
	}{
		{"the whole request", search(4), 1},
		{"partial: the record waits for the reservation", jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 9, OnInsufficient: credit.Partial}, 2},
		{"refused", search(3), 1},
		{"overage", jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 2, OnInsufficient: credit.Overage}, 2},
		{"enrichment, the whole request", jobs.Spec{Kind: jobs.Enrichment, DataType: "products", MatchOn: []string{"name"}, Items: items}, 1},
		{"enrichment with dedup: the record waits for the reservation", jobs.Spec{Kind: jobs.Enrichment, DataType: "businesses", MatchOn: []string{"name"}, Items: items}, 2},
	}
	fa, sa := fast.f.account(t, "people-10", "local-3", "match-5"), slow.f.account(t, "people-10", "local-3", "match-5")
	// The account's plans are read once, then kept in process.
	if _, err := fast.f.svc.Account(ctx, fa); err != nil {
		t.Fatal(err)
	}
	submit(fast, fa, search(1))
	submit(slow, sa, search(1))
	for _, st := range steps {
		f, s := submit(fast, fa, st.spec), submit(slow, sa, st.spec)
		if (f.err == nil) != (s.err == nil) || f.err != nil && f.err.Error() != s.err.Error() {
			t.Fatalf("%s: %v with the recorder, %v without", st.name, f.err, s.err)
		}
		wantSlow := int64(2)
		if s.err != nil {
			wantSlow = 1
		}
		if f.trips != st.fastTrips || s.trips != wantSlow {
			t.Errorf("%s: %d round trips with the recorder (want %d), %d without (want %d)", st.name, f.trips, st.fastTrips, s.trips, wantSlow)
		}
		if f.err != nil {
			continue
		}
		fj, sj := f.job, s.job
		fj.ID, fj.Account, fj.CreatedAt = "", "", time.Time{}
		sj.ID, sj.Account, sj.CreatedAt = "", "", time.Time{}
		fj.Meta.TrackingIDToJobID, sj.Meta.TrackingIDToJobID = nil, nil
		if fmt.Sprint(fj) != fmt.Sprint(sj) {
			t.Errorf("%s: stored %+v with the recorder, %+v without", st.name, fj, sj)
		}
	}
	fast.f.checkInvariants(t, fa)
	slow.f.checkInvariants(t, sa)
}

// TestSubmitOneRoundTripLostReply drops the connection as the round trip
// of a submit is answered, so that go-redis sends the pipeline again: the
// reserve and the record are made once, and the job is the one answered.
func TestSubmitOneRoundTripLostReply(t *testing.T) {
	t.Parallel()
	f, cut := newCutFixture(t)
	a := f.account(t, "people-10")
	if _, err := f.svc.Submit(ctx, a, search(1)); err != nil { // plans cached, scripts loaded
		t.Fatal(err)
	}
	cut.Store(true)
	j, err := f.svc.Submit(ctx, a, search(4))
	if err != nil {
		t.Fatal(err)
	}
	if cut.Load() {
		t.Fatal("no reply was cut: the test proves nothing")
	}
	got, err := f.svc.Get(ctx, a, j.ID)
	if err != nil || got.NumRecords != 4 || got.CreditsReserved != 4 {
		t.Fatalf("job %+v, %v", got, err)
	}
	if n := f.available(t, a, "people"); n != 5 {
		t.Fatalf("available %d after reserving 1 and 4 of 10, want 5", n)
	}
	list, _, err := f.svc.List(ctx, a, jobs.ListFilter{})
	if err != nil || len(list) != 2 {
		t.Fatalf("jobs %d, %v", len(list), err)
	}
	f.checkInvariants(t, a)
}

// newCutFixture is newFixture on a client whose next reply is lost once
// the returned flag is set: the connection closes instead of reading it.
func newCutFixture(t *testing.T) (*fixture, *atomic.Bool) {
	t.Helper()
	var cut atomic.Bool
	c := redis.NewClient(&redis.Options{Addr: server.Addr(), PoolSize: 4, MaxRetries: 3,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &cutConn{Conn: conn, cut: &cut}, nil
		}})
	t.Cleanup(func() { c.Close() })
	return newFixtureOn(t, c), &cut
}

// newCountedFixture is newFixture on a client that counts its round trips.
func newCountedFixture(t *testing.T) (*fixture, *roundTrips) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: server.Addr(), PoolSize: 8})
	t.Cleanup(func() { c.Close() })
	rt := &roundTrips{}
	c.AddHook(rt)
	return newFixtureOn(t, c), rt
}

// cutConn closes itself instead of reading the first reply once cut is
// set, as a connection lost after Redis ran what was sent.
type cutConn struct {
	net.Conn
	cut *atomic.Bool
}

func (c *cutConn) Read(b []byte) (int, error) {
	if c.cut.CompareAndSwap(true, false) {
		// The reply comes once Redis has run what was sent; it is lost.
		_, _ = c.Conn.Read(b)
		c.Close()
		return 0, errors.New("connection cut by the test")
	}
	return c.Conn.Read(b)
}
