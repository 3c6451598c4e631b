package ledger

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// check runs every check on what was read of one account.
func (v *verifier) check(a *verifyAccount) {
	if !a.journalBroken && a.seq != a.lastSeq {
		a.journalBroken = true
		if a.seq > a.lastSeq {
			a.fail(Finding{Check: CheckJournal, Got: fmt.Sprintf("last seq %d", a.lastSeq), Want: fmt.Sprintf("last seq %d", a.seq),
				Message: fmt.Sprintf("the account's journal counter is at seq %d but its journal ends at seq %d: %s at the end, so the pools cannot be replayed from the journal",
					a.seq, a.lastSeq, missingEntries(a.lastSeq+1, a.seq))})
		} else {
			a.fail(Finding{Check: CheckJournal, Got: fmt.Sprintf("last seq %d", a.lastSeq), Want: fmt.Sprintf("last seq %d", a.seq),
				Message: fmt.Sprintf("the journal runs to seq %d, past the account's journal counter at seq %d: the counter went back, and new entries will repeat seqs",
					a.lastSeq, a.seq)})
		}
	}
	pools := v.checkPools(a)
	v.checkReservations(a, pools)
	v.checkHolds(a, pools)
	v.checkGrants(a, pools)
	v.checkJobs(a)
	v.checkRecords(a)
}

// checkPools checks each pool against I1, its journal's replay and the
// period index, and returns the pools by name.
func (v *verifier) checkPools(a *verifyAccount) map[string]credit.Pool {
	pools := make(map[string]credit.Pool, len(a.pools))
	for name, m := range a.pools {
		pools[name] = parsePool(a.id, name, m)
	}
	a.counts.Pools += int64(len(pools))
	listed := map[string]bool{}
	for _, name := range a.listed {
		listed[name] = true
		if _, ok := pools[name]; !ok {
			a.fail(Finding{Check: CheckPoolReplay, Pool: name, Got: "no pool", Want: "pool " + name,
				Message: fmt.Sprintf("the account lists pool %s, but the pool does not exist", name)})
		}
	}
	if len(a.listed) == 0 && len(pools) == 0 && a.lastSeq == 0 {
		a.warn(Finding{Check: CheckAccountIndex, Message: fmt.Sprintf(
			"account %s is registered but has no pools: an opening of its first pool stopped half way, and the next opening completes it", a.id)})
	}
	if a.registered != nil && !a.registered.Val() {
		a.fail(Finding{Check: CheckAccountIndex, Got: "not registered", Want: "registered",
			Message: fmt.Sprintf("account %s is missing from the global set of accounts, so the reaper and the other sweeps never visit it", a.id)})
	}
	replayed := a.rp.Pools()
	for _, name := range sortedKeys(pools) {
		p := pools[name]
		if !listed[name] {
			a.fail(Finding{Check: CheckPoolReplay, Pool: name, Got: "not listed", Want: "listed",
				Message: fmt.Sprintf("pool %s exists but is missing from the account's set of pools, so listings of the account's balances miss it", name)})
		}
		if err := p.Check(); err != nil {
			a.fail(Finding{Check: CheckI1, Pool: name, Got: countsString(p.Counts), Want: "counts that keep I1",
				Message: strings.TrimPrefix(err.Error(), "I1: ")})
		}
		if !a.journalBroken {
			b, ok := replayed[name]
			switch {
			case !ok:
				a.fail(Finding{Check: CheckPoolReplay, Pool: name, Got: countsString(p.Counts), Want: "a grant entry in the journal",
					Message: fmt.Sprintf("pool %s has no entry in the journal, so nothing accounts for its counts", name)})
			case !b.Equal(p.Balance):
				got, want := balanceDiff(p.Balance, b)
				a.fail(Finding{Check: CheckPoolReplay, Pool: name, Got: got, Want: want,
					Message: fmt.Sprintf("pool %s does not match its journal: the pool has %s, but the journal replays to %s", name, got, want)})
			}
		}
		v.checkPeriodIndex(a, p)
	}
	if !a.journalBroken {
		for _, name := range sortedKeys(replayed) {
			if _, ok := pools[name]; !ok && !listed[name] { // a listed pool that is gone is reported above
				a.fail(Finding{Check: CheckPoolReplay, Pool: name, Got: "no pool", Want: countsString(replayed[name].Counts),
					Message: fmt.Sprintf("the journal replays pool %s, which the account does not have", name)})
			}
		}
	}
	return pools
}

// checkPeriodIndex checks a pool's entry in the refresh sweep's index.
func (v *verifier) checkPeriodIndex(a *verifyAccount, p credit.Pool) {
	cmd := a.periodIndex[p.Name]
	if cmd == nil {
		return
	}
	end := p.PeriodEnd.UnixMilli()
	switch err := cmd.Err(); {
	case errors.Is(err, redis.Nil):
		if a.created.Before(v.cutoff) {
			a.fail(Finding{Check: CheckPeriodIndex, Pool: p.Name, Got: "no entry", Want: fmt.Sprintf("period end %s", stamp(p.PeriodEnd)),
				Message: fmt.Sprintf("pool %s is missing from the period index, so the refresh sweep will never start its next period (the scheduler's reindex adds it)", p.Name)})
		}
	case int64(cmd.Val()) > end:
		a.fail(Finding{Check: CheckPeriodIndex, Pool: p.Name, Got: stamp(fromMilli(int64(cmd.Val()))), Want: stamp(p.PeriodEnd),
			Message: fmt.Sprintf("the period index says pool %s's period ends later than the pool says, so the refresh sweep would start its next period late", p.Name)})
	case int64(cmd.Val()) < end:
		a.warn(Finding{Check: CheckPeriodIndex, Pool: p.Name, Got: stamp(fromMilli(int64(cmd.Val()))), Want: stamp(p.PeriodEnd),
			Message: fmt.Sprintf("the period index lags behind pool %s's period end; the next refresh sweep rewrites it, changing nothing else", p.Name)})
	}
}

// checkReservations checks each reservation against I2, the pending set
// and the journal, and each pool's reserved counts against its open
// reservations.
func (v *verifier) checkReservations(a *verifyAccount, pools map[string]credit.Pool) {
	// alloc is what open reservations hold of the period allocation: the
	// pool's reserved and carried together.
	type sums struct{ prepaid, overage, alloc int64 }
	open := map[string]sums{}
	for _, j := range sortedKeys(a.res) {
		m := a.res[j]
		if len(m) == 0 {
			continue
		}
		a.counts.Reservations++
		r := parseReservation(a.id, j, m)
		v.checkI2(a, r)
		h, journalHolds := a.held[j]
		_, pending := a.pending[j]
		if r.State == credit.Reserved {
			a.counts.OpenReservations++
			s := open[r.Pool]
			s.prepaid += r.Prepaid
			s.overage += r.Overage
			s.alloc += r.FromAllocation()
			open[r.Pool] = s
			if _, ok := pools[r.Pool]; !ok {
				a.fail(Finding{Check: CheckPoolReservations, Pool: r.Pool, Job: j, Got: "pool " + r.Pool, Want: "a pool of the account",
					Message: fmt.Sprintf("the open reservation of job %s holds %d credits of pool %s, which the account does not have", j, r.Reserved(), r.Pool)})
			}
			if !pending {
				a.fail(Finding{Check: CheckPending, Pool: r.Pool, Job: j, Got: "not pending", Want: "pending",
					Message: fmt.Sprintf("the reservation of job %s is open but missing from the pending set, so the reaper will never release it if its job is lost", j)})
			}
			if !a.journalBroken && (h.prepaid != r.Prepaid || h.overage != r.Overage) {
				a.fail(Finding{Check: CheckReservationJournal, Pool: r.Pool, Job: j,
					Got: fmt.Sprintf("prepaid %d, overage %d", r.Prepaid, r.Overage), Want: fmt.Sprintf("prepaid %d, overage %d", h.prepaid, h.overage),
					Message: fmt.Sprintf("the open reservation of job %s holds %d prepaid and %d overage credits, but the journal says the job holds %d and %d",
						j, r.Prepaid, r.Overage, h.prepaid, h.overage)})
			}
			continue
		}
		if pending {
			a.fail(Finding{Check: CheckPending, Pool: r.Pool, Job: j, Got: "pending", Want: "not pending",
				Message: fmt.Sprintf("the pending set lists job %s, whose reservation is %s: the reaper will look at it for nothing", j, r.State)})
		}
		if !a.journalBroken && journalHolds {
			a.fail(Finding{Check: CheckReservationJournal, Pool: h.pool, Job: j,
				Got: "reservation " + string(r.State), Want: fmt.Sprintf("an open reservation of prepaid %d, overage %d", h.prepaid, h.overage),
				Message: fmt.Sprintf("the journal says job %s still holds %d prepaid and %d overage credits, but its reservation is %s",
					j, h.prepaid, h.overage, r.State)})
		}
	}
	for _, j := range sortedKeys(a.late) {
		a.counts.Reservations++
		r := parseReservation(a.id, j, a.late[j])
		if r.State != credit.Reserved {
			v.checkI2(a, r)
		}
	}
	for _, j := range sortedKeys(a.pending) {
		if len(a.res[j]) == 0 {
			a.fail(Finding{Check: CheckPending, Job: j, Got: "pending", Want: "not pending",
				Message: fmt.Sprintf("the pending set lists job %s, which has no reservation", j)})
		}
	}
	if !a.journalBroken {
		for _, j := range sortedKeys(a.held) {
			h := a.held[j]
			if len(a.res[j]) == 0 {
				a.fail(Finding{Check: CheckReservationJournal, Pool: h.pool, Job: j,
					Got: "no reservation", Want: fmt.Sprintf("an open reservation of prepaid %d, overage %d", h.prepaid, h.overage),
					Message: fmt.Sprintf("the journal says job %s holds %d prepaid and %d overage credits, but the job has no reservation", j, h.prepaid, h.overage)})
			}
		}
	}
	for _, name := range sortedKeys(pools) {
		p, s := pools[name], open[name]
		if p.Reserved+p.Carried != s.alloc || p.OverageReserved != s.overage {
			got := fmt.Sprintf("reserved %d + carried %d, overage_reserved %d", p.Reserved, p.Carried, p.OverageReserved)
			want := fmt.Sprintf("reserved + carried %d, overage_reserved %d", s.alloc, s.overage)
			a.fail(Finding{Check: CheckPoolReservations, Pool: name, Got: got, Want: want,
				Message: fmt.Sprintf("pool %s has %s, but its open reservations hold %d of the period allocation and %d overage credits", name, got, s.alloc, s.overage)})
		}
	}
}

// checkGrants checks the account's grants against I9 and its open
// reservations.
func (v *verifier) checkGrants(a *verifyAccount, pools map[string]credit.Pool) {
	held := map[string]int64{}
	for _, j := range sortedKeys(a.res) {
		if m := a.res[j]; len(m) > 0 {
			if r := parseReservation(a.id, j, m); r.State == credit.Reserved {
				for _, part := range r.FromGrants {
					held[part.GrantID] += part.Credits
				}
			}
		}
	}
	avail := map[string]int64{}
	for _, raw := range a.grants {
		g, err := parseGrant(a.id, raw)
		if err != nil {
			a.fail(Finding{Check: CheckI9, Got: raw, Want: "a grant", Message: err.Error()})
			continue
		}
		avail[g.Pool] += g.Available()
		if g.Remaining < 0 || g.Held < 0 || g.Held > g.Remaining {
			a.fail(Finding{Check: CheckI9, Pool: g.Pool, Got: fmt.Sprintf("remaining %d, held %d", g.Remaining, g.Held),
				Want: "0 <= held <= remaining", Message: fmt.Sprintf("grant %s has remaining %d and held %d", g.ID, g.Remaining, g.Held)})
		}
		if g.Held != held[g.ID] {
			a.fail(Finding{Check: CheckI9, Pool: g.Pool, Got: fmt.Sprintf("held %d", g.Held), Want: fmt.Sprintf("held %d", held[g.ID]),
				Message: fmt.Sprintf("grant %s says jobs hold %d of it, but the open reservations hold %d", g.ID, g.Held, held[g.ID])})
		}
	}
	for _, name := range sortedKeys(pools) {
		if p := pools[name]; p.GrantsAvailable != avail[name] {
			a.fail(Finding{Check: CheckI9, Pool: name, Got: fmt.Sprintf("grants_available %d", p.GrantsAvailable),
				Want:    fmt.Sprintf("grants_available %d", avail[name]),
				Message: fmt.Sprintf("pool %s has grants_available %d, but its active grants can give %d", name, p.GrantsAvailable, avail[name])})
		}
	}
}

// checkI2 checks that an ended reservation balances.
func (v *verifier) checkI2(a *verifyAccount, r credit.Reservation) {
	held := r.Reserved()
	bad := func(got, want, msg string) {
		a.fail(Finding{Check: CheckI2, Pool: r.Pool, Job: r.JobID, Got: got, Want: want, Message: msg})
	}
	switch r.State {
	case credit.Reserved:
		if r.Prepaid < 0 || r.Overage < 0 {
			bad(fmt.Sprintf("prepaid %d, overage %d", r.Prepaid, r.Overage), "no negative amount",
				fmt.Sprintf("the open reservation of job %s holds a negative amount: prepaid %d, overage %d", r.JobID, r.Prepaid, r.Overage))
		}
	case credit.Settled, credit.Refunded:
		switch {
		case r.TotalCost+r.Released != held || r.TotalCost > held || r.TotalCost < 0 || r.Released < 0:
			bad(fmt.Sprintf("total_cost %d + released %d", r.TotalCost, r.Released), fmt.Sprintf("%d held", held),
				fmt.Sprintf("the %s reservation of job %s held %d credits (prepaid %d, overage %d) but posted %d and released %d: what it held must be what it posted plus what it released",
					r.State, r.JobID, held, r.Prepaid, r.Overage, r.TotalCost, r.Released))
		case r.PrepaidPosted+r.OveragePosted != r.TotalCost:
			bad(fmt.Sprintf("prepaid_posted %d + overage_posted %d", r.PrepaidPosted, r.OveragePosted), fmt.Sprintf("total_cost %d", r.TotalCost),
				fmt.Sprintf("the %s reservation of job %s posted %d prepaid and %d overage credits, which do not add up to its total cost %d",
					r.State, r.JobID, r.PrepaidPosted, r.OveragePosted, r.TotalCost))
		}
		if r.State == credit.Refunded && (r.Refunded < 0 || r.Refunded+r.OverageRefundDue > r.TotalCost) {
			bad(fmt.Sprintf("refunded %d, overage_refund_due %d", r.Refunded, r.OverageRefundDue), fmt.Sprintf("at most total_cost %d", r.TotalCost),
				fmt.Sprintf("the reservation of job %s gave back %d credits and owes %d more of a cost of only %d",
					r.JobID, r.Refunded, r.OverageRefundDue, r.TotalCost))
		}
	case credit.Voided:
		if r.Released != held || r.TotalCost != 0 {
			bad(fmt.Sprintf("released %d, total_cost %d", r.Released, r.TotalCost), fmt.Sprintf("released %d, total_cost 0", held),
				fmt.Sprintf("the voided reservation of job %s held %d credits but released %d and posted %d: a void gives back all it held",
					r.JobID, held, r.Released, r.TotalCost))
		}
	default:
		bad(fmt.Sprintf("state %q", r.State), "reserved, settled, voided or refunded",
			fmt.Sprintf("the reservation of job %s is in the unknown state %q", r.JobID, r.State))
	}
}

// checkHolds checks the account's holds: each exists where it is named and
// is named where it exists, the unpaid ones add up to each pool's overage
// debt, and the global indexes list them.
func (v *verifier) checkHolds(a *verifyAccount, pools map[string]credit.Pool) {
	unpaid := map[string]int64{}
	for _, id := range sortedKeys(a.holdNames) {
		h := a.holds[id]
		if len(h) == 0 {
			switch {
			case a.holdsSet[id]:
				a.fail(Finding{Check: CheckHold, Hold: id, Got: "no hold", Want: "hold " + id,
					Message: fmt.Sprintf("the account's holds set lists hold %s, but the hold does not exist", id)})
			case a.journalHolds[id]:
				a.fail(Finding{Check: CheckHold, Hold: id, Got: "no hold", Want: "hold " + id,
					Message: fmt.Sprintf("the journal names hold %s, but the hold does not exist, so nothing locks its job's results", id)})
			}
			continue
		}
		a.counts.Holds++
		pool, status := h["pool"], credit.HoldStatus(h["status"])
		switch {
		case !a.holdsSet[id]:
			a.fail(Finding{Check: CheckHold, Pool: pool, Hold: id, Got: "not in the holds set", Want: "in the holds set",
				Message: fmt.Sprintf("hold %s exists but is missing from the account's holds set, so listings of the account's holds miss it", id)})
		case h["account"] != a.id:
			a.fail(Finding{Check: CheckHold, Pool: pool, Hold: id, Got: "account " + quoteOrNone(h["account"]), Want: "account " + a.id,
				Message: fmt.Sprintf("hold %s is kept under account %s but names account %s", id, a.id, quoteOrNone(h["account"]))})
		case !status.Valid():
			a.fail(Finding{Check: CheckHold, Pool: pool, Hold: id, Got: fmt.Sprintf("status %q", status), Want: "unpaid, paid or waived",
				Message: fmt.Sprintf("hold %s has the unknown status %q", id, status)})
		case pools[pool].Name == "":
			a.fail(Finding{Check: CheckHold, Pool: pool, Hold: id, Got: "pool " + quoteOrNone(pool), Want: "a pool of the account",
				Message: fmt.Sprintf("hold %s is for pool %s, which the account does not have", id, quoteOrNone(pool))})
		}
		if status == credit.HoldUnpaid {
			unpaid[pool] += i64(h, "credits")
		}
		v.checkHoldIndex(a, id, h)
	}
	for _, name := range sortedKeys(pools) {
		p := pools[name]
		if p.OverageOutstanding != unpaid[name] {
			a.fail(Finding{Check: CheckHoldsOutstanding, Pool: name,
				Got: fmt.Sprintf("overage_outstanding %d", p.OverageOutstanding), Want: fmt.Sprintf("unpaid holds %d", unpaid[name]),
				Message: fmt.Sprintf("pool %s owes %d overage credits, but its unpaid holds add up to %d: finance would collect the wrong amount",
					name, p.OverageOutstanding, unpaid[name])})
		}
	}
}

// gotUnmapped is the Got of a hold missing from the hold-to-account map.
const gotUnmapped = "no account"

// checkHoldIndex checks one hold's entries in the global indexes. An entry
// missing for less than the grace is being written.
func (v *verifier) checkHoldIndex(a *verifyAccount, id string, h map[string]string) {
	c, ok := a.holdIndex[id]
	if !ok {
		return
	}
	pool := h["pool"]
	old := ms(h, "created_at").Before(v.cutoff)
	if errors.Is(c.all.Err(), redis.Nil) && old {
		a.fail(Finding{Check: CheckHoldIndex, Pool: pool, Hold: id, Got: "not indexed", Want: "indexed",
			Message: fmt.Sprintf("hold %s is missing from the global hold index, so finance does not see it across accounts (ReindexHolds adds it)", id)})
	}
	switch owner := c.account.Val(); {
	case errors.Is(c.account.Err(), redis.Nil):
		if old {
			a.fail(Finding{Check: CheckHoldIndex, Pool: pool, Hold: id, Got: gotUnmapped, Want: "account " + a.id,
				Message: fmt.Sprintf("hold %s is missing from the global hold-to-account map, so it cannot be paid or waived by its id (ReindexHolds adds it)", id)})
		}
	case owner != a.id:
		a.fail(Finding{Check: CheckHoldIndex, Pool: pool, Hold: id, Got: "account " + owner, Want: "account " + a.id,
			Message: fmt.Sprintf("the global hold-to-account map sends hold %s to account %s, but the hold is account %s's", id, owner, a.id)})
	}
	since := ms(h, "created_at")
	if credit.HoldStatus(c.statusOf) != credit.HoldUnpaid {
		since = ms(h, "paid_at")
	}
	if !since.Before(v.cutoff) {
		return
	}
	if c.status != nil && errors.Is(c.status.Err(), redis.Nil) {
		a.warn(Finding{Check: CheckHoldStatusIndex, Pool: pool, Hold: id, Got: "not in the " + c.statusOf + " index", Want: "in the " + c.statusOf + " index",
			Message: fmt.Sprintf("hold %s is %s but not in the global index of %s holds yet; listings by status miss it until ReindexHolds runs", id, c.statusOf, c.statusOf)})
	}
	if c.unpaid != nil && c.unpaid.Err() == nil {
		a.warn(Finding{Check: CheckHoldStatusIndex, Pool: pool, Hold: id, Got: "in the unpaid index", Want: "not in the unpaid index",
			Message: fmt.Sprintf("hold %s is %s but still in the global index of unpaid holds; listings skip it, and ReindexHolds drops it", id, c.statusOf)})
	}
}

// checkJobs checks, with Jobs, the open reservations against their jobs,
// the jobs that have not ended against their reservations, and the refund
// queue.
func (v *verifier) checkJobs(a *verifyAccount) {
	a.counts.Charges += int64(len(a.charges))
	if v.opts.Jobs == nil {
		return
	}
	a.counts.Jobs += int64(len(a.jobs) + len(a.active))
	grace := v.opts.Grace
	for _, j := range sortedKeys(a.res) {
		m := a.res[j]
		r := parseReservation(a.id, j, m)
		if len(m) == 0 || r.State != credit.Reserved {
			continue
		}
		s, ok := a.jobs[j]
		switch {
		case !ok:
			if r.CreatedAt.Before(v.cutoff) {
				a.fail(Finding{Check: CheckJobReservation, Pool: r.Pool, Job: j, Got: "no job record", Want: "a job record",
					Message: fmt.Sprintf("the reservation of job %s has held %d credits since %s, but the job has no record: the reaper should have released it",
						j, r.Reserved(), stamp(r.CreatedAt))})
			}
		case s.Problem != "":
			a.fail(Finding{Check: CheckJobReservation, Pool: r.Pool, Job: j, Got: "unreadable job record", Want: "a job record",
				Message: fmt.Sprintf("the reservation of job %s is open, but the job's record cannot be read: %s", j, s.Problem)})
		case s.Ended && s.EndedAt.Before(v.cutoff):
			a.fail(Finding{Check: CheckJobReservation, Pool: r.Pool, Job: j, Got: "reservation open", Want: "reservation released",
				Message: fmt.Sprintf("job %s ended (%s) at %s, more than %s ago, but its reservation still holds %d credits: the reaper should have released them",
					j, s.Status, stamp(s.EndedAt), grace, r.Reserved())})
		}
	}
	for _, j := range slices.Sorted(slices.Values(a.active)) {
		m := a.res[j]
		state := credit.ReservationState(m["state"])
		switch {
		case len(m) == 0:
			a.fail(Finding{Check: CheckJobReservation, Job: j, Got: "no reservation", Want: "a reservation",
				Message: fmt.Sprintf("job %s has not ended and was submitted more than %s ago, but it has no reservation: it runs on credits nobody holds", j, grace)})
		case state == credit.Voided || state == credit.Refunded:
			a.warn(Finding{Check: CheckJobReservation, Pool: m["pool"], Job: j, Got: "reservation " + string(state), Want: "job ended",
				Message: fmt.Sprintf("job %s has not ended, but its reservation is %s: a worker that runs it will find it ended, or the reaper will fail it", j, state)})
		}
	}
	for _, j := range sortedKeys(a.charges) {
		at := a.charges[j]
		m := a.res[j]
		if at >= float64(v.cutoff.UnixMilli()) || credit.ReservationState(m["state"]) != credit.Settled {
			continue
		}
		since := stamp(fromMilli(int64(at)))
		cost := i64(m, "total_cost")
		s, ok := a.jobs[j]
		switch {
		case !ok:
			a.fail(Finding{Check: CheckRefund, Pool: m["pool"], Job: j, Got: "charged", Want: "refunded",
				Message: fmt.Sprintf("job %s was charged %d credits but never recorded, and its refund has waited since %s: the reaper refunds it", j, cost, since)})
		case s.Ended && !s.ChargeStands:
			a.fail(Finding{Check: CheckRefund, Pool: m["pool"], Job: j, Got: "charged", Want: "refunded",
				Message: fmt.Sprintf("job %s %s without keeping its charge, but its %d credits are not refunded; the refund has waited since %s", j, s.Status, cost, since)})
		case s.Ended:
			a.warn(Finding{Check: CheckRefund, Pool: m["pool"], Job: j, Got: "marked for refund", Want: "mark dropped",
				Message: fmt.Sprintf("job %s %s keeping its charge, but it has been marked for a refund since %s; the reaper drops the mark", j, s.Status, since)})
		}
	}
}

// checkRecords checks the charged record ids of dedup jobs (I7).
func (v *verifier) checkRecords(a *verifyAccount) {
	all := a.reservations()
	for _, j := range sortedKeys(a.records) {
		c := a.records[j]
		m := all[j]
		r := parseReservation(a.id, j, m)
		n := c.card.Val()
		if n > 0 {
			a.counts.ChargedRecordSets++
		}
		switch {
		case n > 0 && (r.State == credit.Reserved || r.State == credit.Voided):
			a.fail(Finding{Check: CheckI7, Pool: r.Pool, Job: j, Got: fmt.Sprintf("%d charged record ids", n), Want: "none",
				Message: fmt.Sprintf("job %s has %d charged record ids, but its reservation is %s and charged nothing", j, n, r.State)})
		case n > 0 && r.State == credit.Refunded:
			a.fail(Finding{Check: CheckI7, Pool: r.Pool, Job: j, Got: fmt.Sprintf("%d charged record ids", n), Want: "none",
				Message: fmt.Sprintf("job %s was refunded but still lists %d charged record ids, which its refund should have given back to the dedup set", j, n)})
		case r.State == credit.Settled && n > r.TotalCost:
			a.fail(Finding{Check: CheckI7, Pool: r.Pool, Job: j, Got: fmt.Sprintf("%d charged record ids", n), Want: fmt.Sprintf("at most %d", r.TotalCost),
				Message: fmt.Sprintf("job %s has %d charged record ids but posted only %d credits: a record was charged without paying for it", j, n, r.TotalCost)})
		}
		if c.diff != nil {
			if missing := c.diff.Val(); len(missing) > 0 {
				sortedMissing := slices.Sorted(slices.Values(missing))
				a.fail(Finding{Check: CheckI7, Pool: r.Pool, Job: j, Got: fmt.Sprintf("%d ids not in the dedup set", len(missing)), Want: "none",
					Message: fmt.Sprintf("job %s charged record ids that pool %s's dedup set does not hold, so they could be charged again: %s",
						j, r.Pool, sample(sortedMissing))})
			}
		}
	}
	if a.disjoint == nil {
		return
	}
	first := map[[2]string]string{} // pool, record → the job that charged it
	reported := 0
	for _, j := range sortedKeys(a.disjoint) {
		pool := all[j]["pool"]
		for _, id := range a.disjoint[j].Val() {
			k := [2]string{pool, id}
			other, dup := first[k]
			if !dup {
				first[k] = j
				continue
			}
			if reported++; reported <= 5 {
				a.fail(Finding{Check: CheckI7, Pool: pool, Job: j, Got: "charged by " + other + " and " + j, Want: "charged once",
					Message: fmt.Sprintf("record %s was charged twice in pool %s, by job %s and by job %s", id, pool, other, j)})
			}
		}
	}
}

// sample shows up to five ids.
func sample(ids []string) string {
	if len(ids) <= 5 {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:5], ", ") + fmt.Sprintf(" and %d more", len(ids)-5)
}

func countsString(c credit.Counts) string {
	return fmt.Sprintf("allocated %d, used %d, reserved %d, overage_reserved %d, overage_outstanding %d, carried %d, grants_available %d",
		c.Allocated, c.Used, c.Reserved, c.OverageReserved, c.OverageOutstanding, c.Carried, c.GrantsAvailable)
}

// balanceDiff names the counts and period bounds in which got and want
// differ, as got's values and want's.
func balanceDiff(got, want credit.Balance) (string, string) {
	var g, w []string
	num := func(name string, a, b int64) {
		if a != b {
			g = append(g, fmt.Sprintf("%s %d", name, a))
			w = append(w, fmt.Sprintf("%s %d", name, b))
		}
	}
	num("allocated", got.Allocated, want.Allocated)
	num("used", got.Used, want.Used)
	num("reserved", got.Reserved, want.Reserved)
	num("overage_reserved", got.OverageReserved, want.OverageReserved)
	num("overage_outstanding", got.OverageOutstanding, want.OverageOutstanding)
	num("carried", got.Carried, want.Carried)
	num("grants_available", got.GrantsAvailable, want.GrantsAvailable)
	if !got.PeriodStart.Equal(want.PeriodStart) {
		g = append(g, "period_start "+stamp(got.PeriodStart))
		w = append(w, "period_start "+stamp(want.PeriodStart))
	}
	if !got.PeriodEnd.Equal(want.PeriodEnd) {
		g = append(g, "period_end "+stamp(got.PeriodEnd))
		w = append(w, "period_end "+stamp(want.PeriodEnd))
	}
	return strings.Join(g, ", "), strings.Join(w, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
