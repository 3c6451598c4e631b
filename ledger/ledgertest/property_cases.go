package ledgertest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// model is the ledger in plain Go, built from package credit's math. The
// property test runs the same random operations on it and on Redis and
// compares every outcome.
type model struct {
	pools  map[string]*modelPool // account/pool
	res    map[string]*credit.Reservation
	holds  map[string]*credit.Hold
	jobs   []string                 // account/job, in order of reservation
	grants map[string]*credit.Grant // account/grant
	gids   []string                 // account/grant, in order of creation
}

type modelPool struct {
	cfg     credit.PoolConfig
	c       credit.Counts
	start   time.Time
	end     time.Time
	charged map[string]bool
}

func (mp *modelPool) headroom() int64 {
	return credit.Headroom(mp.cfg.OverageEnabled, mp.cfg.OverageLimit, mp.c)
}

// testProperty runs seeded random sequences of every ledger operation across
// several accounts and pools, checks each outcome against the model, and
// checks the invariants after each sequence.
func testProperty(t *testing.T, h *Harness, scale int) {
	seeds := max(12/scale, 2)
	steps := max(300/scale, 60)
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			runSequence(t, h, uint64(seed), steps)
		})
	}
}

var recordUniverse = []string{"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11"}

func runSequence(t *testing.T, h *Harness, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	m := &model{pools: map[string]*modelPool{}, res: map[string]*credit.Reservation{}, holds: map[string]*credit.Hold{},
		grants: map[string]*credit.Grant{}}
	grantN := 0
	accounts := []string{h.Account("pa"), h.Account("pb"), h.Account("pc")}
	configs := []credit.PoolConfig{
		{Name: "people", Grant: 60, OverageEnabled: true, OverageLimit: 25, OveragePriceCents: 7},
		{Name: "export", Grant: 40},
	}
	for _, a := range accounts {
		for _, cfg := range configs {
			start, end := h.Period()
			if _, _, err := h.L.OpenPool(ctx, a, cfg, start, end); err != nil {
				t.Fatal(err)
			}
			m.pools[a+"/"+cfg.Name] = &modelPool{cfg: cfg, c: credit.Counts{Allocated: cfg.Grant}, start: start, end: end, charged: map[string]bool{}}
		}
	}
	policies := []credit.Policy{credit.Reject, credit.Partial, credit.Overage}
	jobN := 0
	stageAttempt := 0 // a new stage for every staged settle

	for step := range steps {
		h.Clock.Advance(time.Duration(1+rng.IntN(3600)) * time.Second)
		a := accounts[rng.IntN(len(accounts))]
		cfg := configs[rng.IntN(len(configs))]
		mp := m.pools[a+"/"+cfg.Name]
		where := fmt.Sprintf("seed %d step %d", seed, step)
		m.expireGrants(h.Clock.Now())

		switch op := rng.IntN(12); {
		case op >= 10: // add a grant (now and then one added before, again), or void one
			if op == 11 && len(m.gids) > 0 {
				key := m.gids[rng.IntN(len(m.gids))]
				g := m.grants[key]
				got, err := h.L.VoidGrant(ctx, g.Account, g.ID, "void")
				want := m.voidGrant(key, h.Clock.Now())
				compareOutcome(t, where+" void grant", want, got, nil, err)
				break
			}
			req := credit.GrantRequest{Account: a, Pool: cfg.Name, Amount: 1 + rng.Int64N(40),
				Priority: rng.Int64N(3), Reason: "pack"}
			if rng.IntN(3) > 0 {
				req.ExpiresAt = h.Clock.Now().Add(time.Duration(1+rng.IntN(20)) * time.Hour).Truncate(time.Millisecond)
			}
			again := rng.IntN(5) == 0 && len(m.gids) > 0
			if again {
				g := m.grants[m.gids[rng.IntN(len(m.gids))]]
				req = credit.GrantRequest{Account: g.Account, Pool: g.Pool, ID: g.ID, Amount: g.Amount,
					ExpiresAt: g.ExpiresAt, Priority: g.Priority, Reason: g.Reason}
				if !g.ExpiresAt.IsZero() && !g.ExpiresAt.After(h.Clock.Now()) {
					break // refused as expiring in the past, rightly
				}
			} else {
				grantN++
				req.ID = fmt.Sprintf("grant_p%d", grantN)
			}
			got, created, err := h.L.AddGrant(ctx, req)
			if err != nil || created == again {
				t.Fatalf("%s add grant %+v: created %v, %v", where, req, created, err)
			}
			want := m.addGrant(req, h.Clock.Now())
			compareOutcome(t, where+" add grant", want, got, nil, nil)
		case op < 4: // reserve
			jobN++
			req := credit.ReserveRequest{Account: a, Pool: cfg.Name, JobID: fmt.Sprintf("j%d", jobN),
				Requested: 1 + rng.Int64N(30), Policy: policies[rng.IntN(3)]}
			if rng.IntN(2) == 0 { // an enrichment
				req.Dedup = rng.IntN(2) == 0
				req.ChargeAtAcceptance = rng.IntN(3) == 0
				req.ItemIDs = make([]string, req.Requested)
				for i := range req.ItemIDs {
					if rng.IntN(5) > 0 {
						req.ItemIDs[i] = recordUniverse[rng.IntN(len(recordUniverse))]
					}
				}
			}
			got, err := h.Reserve(req)
			want, wantErr := m.reserve(req, h.Clock.Now())
			compareOutcome(t, where+" reserve", want, got, wantErr, err)
		case op < 7: // settle, sometimes a job settled before (redelivery)
			key, r := m.pick(rng)
			if r == nil {
				continue
			}
			cost := rng.Int64N(r.Reserved() + 2) // one past the reservation now and then
			var ids []string
			if r.Dedup {
				// Free items match records too: more ids than credits reserved.
				cost = rng.Int64N(r.Reserved() + 4)
				ids = make([]string, cost)
				for i := range ids {
					ids[i] = recordUniverse[rng.IntN(len(recordUniverse))]
				}
			}
			req := credit.SettleRequest{Account: r.Account, Pool: r.Pool, JobID: r.JobID, Cost: cost, RecordIDs: ids}
			modeled := req
			if r.Dedup && rng.IntN(2) == 0 {
				// Staged as a worker stages a big download: in batches,
				// charged by the count of distinct ids staged. The model
				// sees the distinct ids named.
				stageAttempt++
				var staged int64
				for rest := ids; len(rest) > 0; {
					n := 1 + rng.IntN(len(rest))
					added, err := h.L.StageRecords(ctx, r.Account, r.JobID, stageAttempt, rest[:n])
					if err != nil {
						t.Fatalf("%s stage: %v", where, err)
					}
					staged += added
					rest = rest[n:]
				}
				req.RecordIDs, req.Cost, req.Staged = nil, staged, stageAttempt
				modeled.RecordIDs, modeled.Cost = distinct(ids), staged
			}
			got, err := h.L.Settle(ctx, req)
			want, wantErr := m.settle(key, modeled, h.Clock.Now())
			compareOutcome(t, where+" settle", want, got, wantErr, err)
		case op < 8: // void
			key, r := m.pick(rng)
			if r == nil {
				continue
			}
			got, err := h.L.Void(ctx, r.Account, r.Pool, r.JobID, "canceled")
			want, wantErr := m.void(key, h.Clock.Now())
			compareOutcome(t, where+" void", want, got, wantErr, err)
		case op < 9: // pay or waive a hold
			if len(m.holds) == 0 {
				continue
			}
			id := m.holdIDs()[rng.IntN(len(m.holds))]
			status, note := credit.HoldPaid, "inv"
			if rng.IntN(2) == 0 {
				status, note = credit.HoldWaived, "goodwill"
			}
			var got credit.Hold
			var err error
			if status == credit.HoldPaid {
				got, err = h.L.PayHold(ctx, id, note)
			} else {
				got, err = h.L.WaiveHold(ctx, id, note)
			}
			want, wantErr := m.closeHold(id, status, note, h.Clock.Now())
			compareOutcome(t, where+" close hold", want, got, wantErr, err)
		default: // top-up, adjust or refresh
			switch rng.IntN(3) {
			case 0:
				n := 1 + rng.Int64N(20)
				if _, err := h.L.TopUp(ctx, a, cfg.Name, n, "top-up", ""); err != nil {
					t.Fatalf("%s top-up: %v", where, err)
				}
				mp.c.Allocated += n
			case 1:
				n := -rng.Int64N(30) - 1
				_, err := h.L.Adjust(ctx, a, cfg.Name, n, "adjust", "")
				_, short := errors.AsType[*credit.InsufficientError](err)
				switch {
				case mp.c.AllocationAvailable()+n < 0: // an adjustment never takes grants
					if !short {
						t.Fatalf("%s adjust %d with %d of the allocation available: %v", where, n, mp.c.AllocationAvailable(), err)
					}
				case err != nil:
					t.Fatalf("%s adjust: %v", where, err)
				default:
					mp.c.Allocated += n
				}
			default:
				// The next period, or now and then a stale one again.
				start, end := mp.end, mp.end.AddDate(0, 1, 0)
				if rng.IntN(4) == 0 {
					start, end = mp.start, mp.end
				}
				_, applied, err := h.L.Refresh(ctx, a, cfg.Name, start, end)
				if err != nil {
					t.Fatalf("%s refresh: %v", where, err)
				}
				wantApplied := start.After(mp.start)
				if applied != wantApplied {
					t.Fatalf("%s refresh applied %v, want %v", where, applied, wantApplied)
				}
				if applied {
					mp.c.Allocated = mp.cfg.Grant
					mp.c.Used = 0
					mp.c.Carried += mp.c.Reserved
					mp.c.Reserved = 0
					mp.start, mp.end = start, end
				}
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		got := h.MustPool(t, a, cfg.Name)
		if got.Counts != mp.c {
			t.Fatalf("%s: pool %s/%s is %+v, model says %+v", where, a, cfg.Name, got.Counts, mp.c)
		}
	}
	h.CheckInvariants(t, accounts...)
	// I9: every grant as the model has it, in the order Grants lists them.
	for _, a := range accounts {
		got, err := h.L.Grants(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		want := []credit.Grant{}
		for _, key := range m.gids {
			if g := m.grants[key]; g.Account == a {
				want = append(want, *g)
			}
		}
		ledger.SortGrants(want)
		if diff := cmp.Diff(want, append([]credit.Grant{}, got...)); diff != "" {
			t.Fatalf("grants of %s (-model +redis):\n%s", a, diff)
		}
	}
	// I7: a record id is charged at most once per (account, pool): the ids
	// the model charged are exactly the ones Redis has.
	for key, mp := range m.pools {
		a, pool := splitKey(key)
		n, err := h.L.ChargedRecords(ctx, a, pool)
		if err != nil || n != int64(len(mp.charged)) {
			t.Fatalf("I7: %s charged %d records, model %d (%v)", key, n, len(mp.charged), err)
		}
	}
}

func splitKey(key string) (string, string) {
	for i := range len(key) {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return key, ""
}

func compareOutcome[T any](t *testing.T, what string, want, got T, wantErr, gotErr error) {
	t.Helper()
	if wantErr != nil || gotErr != nil {
		if wantErr == nil || gotErr == nil || !sameError(wantErr, gotErr) {
			t.Fatalf("%s: error %v, model says %v", what, gotErr, wantErr)
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s (-model +redis):\n%s", what, diff)
	}
}

func sameError(want, got error) bool {
	if wi, ok := errors.AsType[*credit.InsufficientError](want); ok {
		gi, ok := errors.AsType[*credit.InsufficientError](got)
		return ok && *wi == *gi
	}
	for _, e := range []error{credit.ErrOverageDisabled, credit.ErrAlreadySettled, credit.ErrAlreadyVoided,
		credit.ErrCostExceedsReserved, credit.ErrHoldConflict, credit.ErrReservationConflict} {
		if errors.Is(want, e) {
			return errors.Is(got, e)
		}
	}
	return false
}

func (m *model) pick(rng *rand.Rand) (string, *credit.Reservation) {
	if len(m.jobs) == 0 {
		return "", nil
	}
	key := m.jobs[rng.IntN(len(m.jobs))]
	return key, m.res[key]
}

func (m *model) holdIDs() []string {
	ids := make([]string, 0, len(m.holds))
	for id := range m.holds {
		ids = append(ids, id)
	}
	return sortStrings(ids)
}

func (m *model) reserve(req credit.ReserveRequest, now time.Time) (credit.Reservation, error) {
	mp := m.pools[req.Account+"/"+req.Pool]
	if req.Policy == credit.Overage && !mp.cfg.OverageEnabled {
		return credit.Reservation{}, credit.ErrOverageDisabled
	}
	charged := func(id string) bool { return mp.charged[id] }
	need := req.Requested
	if req.ItemIDs != nil {
		need = credit.CountChargeable(req.ItemIDs, req.Dedup, charged)
	}
	prepaid, overage, err := credit.Split(req.Policy, need, mp.c.Available(), mp.headroom())
	if ie, ok := errors.AsType[*credit.InsufficientError](err); ok {
		ie.Pool = req.Pool
		return credit.Reservation{}, ie
	}
	r := credit.Reservation{Account: req.Account, Pool: req.Pool, JobID: req.JobID, State: credit.Reserved,
		Requested: req.Requested, Skipped: req.Requested - need, Processed: prepaid + overage,
		Prepaid: prepaid, Overage: overage, Dedup: req.Dedup, ChargeAtAcceptance: req.ChargeAtAcceptance,
		CreatedAt: now, Period: mp.start}
	if req.ItemIDs != nil {
		it := credit.ChooseItems(req.ItemIDs, req.Dedup, charged, prepaid+overage)
		r.Kept, r.Processed = it.Kept, it.Processed
	}
	fromAlloc := min(prepaid, max(mp.c.AllocationAvailable(), 0))
	left := prepaid - fromAlloc
	var takes []*credit.Grant
	for _, g := range m.activeGrants(req.Account, req.Pool) {
		if left == 0 {
			break
		}
		if n := min(left, g.Available()); n > 0 {
			r.FromGrants = append(r.FromGrants, credit.GrantPart{GrantID: g.ID, Credits: n})
			takes = append(takes, g)
			left -= n
		}
	}
	for i, g := range takes {
		n := r.FromGrants[i].Credits
		mp.c.GrantsAvailable -= n
		if req.ChargeAtAcceptance {
			g.Remaining -= n
		} else {
			g.Held += n
		}
	}
	if req.ChargeAtAcceptance {
		mp.c.Used += fromAlloc
		mp.c.OverageOutstanding += overage
		r.State, r.TotalCost, r.PrepaidPosted, r.OveragePosted, r.EndedAt = credit.Settled, prepaid+overage, prepaid, overage, now
		if req.Dedup {
			for i, id := range req.ItemIDs {
				if r.Kept[i] && id != "" {
					mp.charged[id] = true
				}
			}
		}
		m.openHold(&r, mp, now)
	} else {
		mp.c.Reserved += fromAlloc
		mp.c.OverageReserved += overage
	}
	r.Remaining = mp.c.Available()
	key := req.Account + "/" + req.JobID
	m.res[key] = &r
	m.jobs = append(m.jobs, key)
	return r, nil
}

func (m *model) openHold(r *credit.Reservation, mp *modelPool, now time.Time) {
	if r.OveragePosted == 0 {
		return
	}
	r.HoldID = credit.HoldIDFor(r.JobID)
	m.holds[r.HoldID] = &credit.Hold{ID: r.HoldID, Account: r.Account, JobID: r.JobID, Pool: r.Pool,
		OverageCredits: r.OveragePosted, AmountDueCents: credit.AmountDueCents(r.OveragePosted, mp.cfg.OveragePriceCents),
		Status: credit.HoldUnpaid, CreatedAt: now}
}

func (m *model) settle(key string, req credit.SettleRequest, now time.Time) (credit.Reservation, error) {
	r := m.res[key]
	switch r.State {
	case credit.Settled:
		return *r, nil
	case credit.Voided:
		return credit.Reservation{}, credit.ErrAlreadyVoided
	}
	mp := m.pools[r.Account+"/"+r.Pool]
	cost := req.Cost
	if r.Dedup {
		// Only records the pool has not charged cost anything.
		fresh := map[string]bool{}
		for _, id := range req.RecordIDs {
			if !mp.charged[id] {
				fresh[id] = true
			}
		}
		if int64(len(fresh)) > r.Reserved() {
			return credit.Reservation{}, credit.ErrCostExceedsReserved
		}
		for id := range fresh {
			mp.charged[id] = true
		}
		cost = int64(len(fresh))
	} else if cost > r.Reserved() {
		return credit.Reservation{}, credit.ErrCostExceedsReserved
	}
	s, err := credit.Settle(r.Prepaid, r.Overage, cost)
	if err != nil {
		return credit.Reservation{}, err
	}
	// The allocation's part first, then each grant's: what is not posted
	// goes back to its source, or is forfeited when the source has ended.
	alloc := r.FromAllocation()
	posted := min(s.PrepaidPosted, alloc)
	if r.Period.Equal(mp.start) {
		mp.c.Used += posted
		mp.c.Reserved -= alloc
	} else {
		mp.c.Carried -= alloc
	}
	left := s.PrepaidPosted - posted
	for _, part := range r.FromGrants {
		n := min(left, part.Credits)
		left -= n
		m.release(r.Account, part, n, mp)
	}
	mp.c.OverageReserved -= r.Overage
	mp.c.OverageOutstanding += s.OveragePosted
	r.State, r.TotalCost, r.Released, r.PrepaidPosted, r.OveragePosted, r.EndedAt =
		credit.Settled, s.Cost, s.Released, s.PrepaidPosted, s.OveragePosted, now
	m.openHold(r, mp, now)
	return *r, nil
}

func (m *model) void(key string, now time.Time) (credit.Reservation, error) {
	r := m.res[key]
	switch r.State {
	case credit.Settled:
		return credit.Reservation{}, credit.ErrAlreadySettled
	case credit.Voided:
		return *r, nil
	}
	mp := m.pools[r.Account+"/"+r.Pool]
	if r.Period.Equal(mp.start) {
		mp.c.Reserved -= r.FromAllocation()
	} else {
		mp.c.Carried -= r.FromAllocation()
	}
	for _, part := range r.FromGrants {
		m.release(r.Account, part, 0, mp)
	}
	mp.c.OverageReserved -= r.Overage
	r.State, r.Released, r.EndedAt = credit.Voided, r.Reserved(), now
	return *r, nil
}

func (m *model) closeHold(id string, status credit.HoldStatus, note string, now time.Time) (credit.Hold, error) {
	hd := m.holds[id]
	switch hd.Status {
	case status:
		return *hd, nil
	case credit.HoldPaid, credit.HoldWaived:
		return credit.Hold{}, credit.ErrHoldConflict
	}
	m.pools[hd.Account+"/"+hd.Pool].c.OverageOutstanding -= hd.OverageCredits
	hd.Status, hd.PaidAt = status, now
	if status == credit.HoldPaid {
		hd.PaymentRef = note
	} else {
		hd.WaiveReason = note
	}
	return *hd, nil
}

// distinct returns ids without repeats, in first-seen order.
func distinct(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// release ends what one grant gave one reservation: posted of it is spent,
// the rest goes back to the grant while it is active, and is forfeited once
// it has ended.
func (m *model) release(account string, part credit.GrantPart, posted int64, mp *modelPool) {
	g := m.grants[account+"/"+part.GrantID]
	g.Held -= part.Credits
	g.Remaining -= posted
	if g.Status == credit.GrantActive {
		mp.c.GrantsAvailable += part.Credits - posted
	} else {
		g.Remaining -= part.Credits - posted
	}
}

// activeGrants returns the pool's active grants in spending order.
func (m *model) activeGrants(account, pool string) []*credit.Grant {
	var gs []*credit.Grant
	for _, key := range m.gids {
		if g := m.grants[key]; g.Account == account && g.Pool == pool && g.Status == credit.GrantActive {
			gs = append(gs, g)
		}
	}
	for i := 1; i < len(gs); i++ {
		for j := i; j > 0 && credit.GrantLess(*gs[j], *gs[j-1]); j-- {
			gs[j], gs[j-1] = gs[j-1], gs[j]
		}
	}
	return gs
}

func (m *model) addGrant(req credit.GrantRequest, now time.Time) credit.Grant {
	key := req.Account + "/" + req.ID
	if g, ok := m.grants[key]; ok {
		return *g
	}
	g := &credit.Grant{ID: req.ID, Account: req.Account, Pool: req.Pool, Amount: req.Amount, Remaining: req.Amount,
		ExpiresAt: req.ExpiresAt, Priority: req.Priority, Reason: req.Reason, CreatedAt: now, Status: credit.GrantActive}
	m.grants[key] = g
	m.gids = append(m.gids, key)
	m.pools[req.Account+"/"+req.Pool].c.GrantsAvailable += req.Amount
	return *g
}

// endGrant forfeits what a grant can still give; jobs keep what they hold.
func (m *model) endGrant(g *credit.Grant, status credit.GrantStatus, now time.Time) {
	m.pools[g.Account+"/"+g.Pool].c.GrantsAvailable -= g.Available()
	g.Remaining, g.Status, g.EndedAt = g.Held, status, now
	if status == credit.GrantExpired {
		g.EndedAt = g.ExpiresAt
	}
}

func (m *model) voidGrant(key string, now time.Time) credit.Grant {
	g := m.grants[key]
	if g.Status == credit.GrantActive {
		m.endGrant(g, credit.GrantVoided, now)
	}
	return *g
}

// expireGrants expires every active grant whose expiry has come by now.
func (m *model) expireGrants(now time.Time) {
	for _, key := range m.gids {
		if g := m.grants[key]; g.Status == credit.GrantActive && !g.ExpiresAt.IsZero() && !g.ExpiresAt.After(now) {
			m.endGrant(g, credit.GrantExpired, now)
		}
	}
}
