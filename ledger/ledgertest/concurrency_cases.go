package ledgertest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/ledger/credit"
)

// testConcurrency races 64 goroutines of 200 reserves of random sizes and
// policies against one pool, then settles every accepted reservation from 64
// goroutines, each twice.
func testConcurrency(t *testing.T, h *Harness, scale int) {
	const (
		goroutines = 64
		grant      = 40_000
		limit      = 4_000
		maxSize    = 20
	)
	perGoroutine := 200 / scale
	a := h.Account("conc")
	h.Open(t, a, poolCfg("people", grant, limit))

	var (
		mu       sync.Mutex
		accepted []credit.Reservation
		refused  int
		wg       sync.WaitGroup
	)
	policies := []credit.Policy{credit.Reject, credit.Partial, credit.Overage}
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range perGoroutine {
				req := credit.ReserveRequest{Account: a, Pool: "people", JobID: fmt.Sprintf("g%d-%d", g, i),
					Requested: 1 + rng.Int64N(maxSize), Policy: policies[rng.IntN(len(policies))]}
				r, err := h.Reserve(req)
				mu.Lock()
				switch _, short := errors.AsType[*credit.InsufficientError](err); {
				case err == nil:
					accepted = append(accepted, r)
				case short:
					refused++
				default:
					t.Errorf("reserve %s: %v", req.JobID, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	var prepaid, overage int64
	for _, r := range accepted {
		prepaid += r.Prepaid
		overage += r.Overage
		if r.Prepaid+r.Overage > r.Requested || r.Processed != r.Prepaid+r.Overage {
			t.Errorf("%s: reserved %d+%d of %d, processing %d", r.JobID, r.Prepaid, r.Overage, r.Requested, r.Processed)
		}
	}
	// I3: the demand (~64*200*10) far exceeds the balance, so the prepaid
	// balance is reserved exactly, once, and the overage never past its limit.
	if scale == 1 && (prepaid != grant || refused == 0) {
		t.Errorf("reserved %d prepaid of %d, %d refused", prepaid, grant, refused)
	}
	if prepaid > grant || overage > limit {
		t.Fatalf("I3: reserved %d prepaid of %d and %d overage of %d", prepaid, grant, overage, limit)
	}
	p := h.MustPool(t, a, "people")
	if p.Reserved != prepaid || p.OverageReserved != overage {
		t.Fatalf("pool holds %d+%d, accepted reservations %d+%d", p.Reserved, p.OverageReserved, prepaid, overage)
	}
	h.CheckInvariants(t, a)

	// Settle everything from 64 goroutines, each reservation twice.
	sort.Slice(accepted, func(i, j int) bool { return accepted[i].JobID < accepted[j].JobID })
	settled := make([]credit.Reservation, len(accepted))
	work := make(chan int)
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 11))
			for i := range work {
				r := accepted[i]
				cost := rng.Int64N(r.Reserved() + 1)
				first, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: r.JobID, Cost: cost})
				if err != nil {
					t.Errorf("settle %s: %v", r.JobID, err)
					continue
				}
				second, err := h.L.Settle(ctx, credit.SettleRequest{Account: a, Pool: "people", JobID: r.JobID, Cost: r.Reserved() - cost})
				if err != nil || !cmp.Equal(first, second) {
					t.Errorf("second settle of %s: %v\n%s", r.JobID, err, cmp.Diff(first, second))
				}
				settled[i] = first
			}
		})
	}
	for i := range accepted {
		work <- i
	}
	close(work)
	wg.Wait()

	var used, outstanding int64
	for _, r := range settled {
		used += r.PrepaidPosted
		outstanding += r.OveragePosted
		checkReservation(t, r)
	}
	p = h.MustPool(t, a, "people")
	want := credit.Counts{Allocated: grant, Used: used, OverageOutstanding: outstanding}
	if p.Counts != want {
		t.Fatalf("pool after settling %+v, want %+v", p.Counts, want)
	}
	h.CheckInvariants(t, a)
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
