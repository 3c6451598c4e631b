package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

const (
	// verifyJournalPage is how many journal entries of one account one
	// XRANGE reads.
	verifyJournalPage = 1000
	// verifySnapshotTries is how many times Verify reads an account whose
	// journal grew since the last read before it gives up on it.
	verifySnapshotTries = 5
	// verifyDisjointLimit is the most charged record ids of one account
	// that Verify reads to check that no two jobs charged the same record.
	verifyDisjointLimit = 100_000
	// verifyHoldPage is how many entries of the global hold index one
	// round trip checks.
	verifyHoldPage = 1000
)

// verifyAccount is what Verify reads of one account and what it finds.
type verifyAccount struct {
	id           string
	counts       VerifyCounts
	fails, warns []Finding

	// The journal, replayed as it is read.
	rp          credit.Replayer
	lastID      string
	lastSeq     int64
	journalDone bool
	// journalBroken is set once a journal failure is found: the replay
	// stops there, and the checks that rest on it are skipped.
	journalBroken bool
	// held is what the journal says each job holds, for the jobs that hold
	// anything.
	held map[string]jobHeld
	// recent are the jobs with journal entries in the window, whose
	// reservations may still be kept.
	recent       map[string]bool
	journalHolds map[string]bool
	periodStart  map[string]time.Time

	// The names whose keys the snapshot reads; they only grow.
	poolNames, resNames, holdNames map[string]bool
	// active are the jobs that have not ended, created before the cutoff.
	active []string

	// The snapshot, read in one MULTI on a single Redis.
	settled  bool
	seq      int64
	created  time.Time
	listed   []string                     // the pools set
	pools    map[string]map[string]string // by name; absent when the hash is
	pending  map[string]float64
	holdsSet map[string]bool
	charges  map[string]float64
	res      map[string]map[string]string // by job; empty when missing
	holds    map[string]map[string]string // by id; empty when missing
	grants   []string                     // every grant, as stored

	// Read after the snapshot.
	late        map[string]map[string]string // ended reservations of recent jobs
	periodIndex map[string]*redis.FloatCmd
	holdIndex   map[string]holdIndexCmds
	registered  *redis.BoolCmd
	jobs        map[string]JobState
	records     map[string]*recordCmds
	disjoint    map[string]*redis.StringSliceCmd
}

// jobHeld is what the journal says one job holds in one pool.
type jobHeld struct {
	pool             string
	prepaid, overage int64
}

type holdIndexCmds struct {
	all            *redis.FloatCmd
	account        *redis.StringCmd
	status, unpaid *redis.FloatCmd
	statusOf       string
}

type recordCmds struct {
	card *redis.IntCmd
	diff *redis.StringSliceCmd
}

func newVerifyAccount(id string) *verifyAccount {
	return &verifyAccount{
		id: id, held: map[string]jobHeld{}, recent: map[string]bool{}, journalHolds: map[string]bool{},
		periodStart: map[string]time.Time{}, poolNames: map[string]bool{}, resNames: map[string]bool{},
		holdNames: map[string]bool{}, late: map[string]map[string]string{},
	}
}

func (a *verifyAccount) fail(f Finding) {
	f.Account = a.id
	a.fails = append(a.fails, f)
}

func (a *verifyAccount) warn(f Finding) {
	f.Account = a.id
	a.warns = append(a.warns, f)
}

// page reads and checks a page of accounts once.
func (v *verifier) page(ctx context.Context, ids []string) ([]*verifyAccount, error) {
	as := make([]*verifyAccount, len(ids))
	for i, id := range ids {
		as[i] = newVerifyAccount(id)
	}
	if err := v.readActive(ctx, as); err != nil {
		return nil, err
	}
	need := as
	for try := 0; try < verifySnapshotTries && len(need) > 0; try++ {
		if err := v.readJournals(ctx, need); err != nil {
			return nil, err
		}
		if err := v.snapshot(ctx, need); err != nil {
			return nil, err
		}
		var again []*verifyAccount
		for _, a := range need {
			if !a.settled {
				again = append(again, a)
			}
		}
		need = again
	}
	var done []*verifyAccount
	for _, a := range as {
		if a.settled {
			done = append(done, a)
			continue
		}
		a.warn(Finding{Check: CheckChanging, Message: fmt.Sprintf(
			"account %s changed during each of %d attempts to read it whole, so it was not verified: run verify again when it is quieter",
			a.id, verifySnapshotTries)})
	}
	if err := v.readAfter(ctx, done); err != nil {
		return nil, err
	}
	if err := v.readJobs(ctx, done); err != nil {
		return nil, err
	}
	if err := v.readRecords(ctx, done); err != nil {
		return nil, err
	}
	for _, a := range done {
		v.check(a)
	}
	return as, nil
}

// readActive reads, with Jobs, each account's jobs that have not ended,
// created before the cutoff, so that the snapshot reads their
// reservations. The other names the snapshot reads come from the journal,
// and from the snapshot itself: one that names a key not read is read
// again.
func (v *verifier) readActive(ctx context.Context, as []*verifyAccount) error {
	if v.opts.Jobs == nil {
		return nil
	}
	ids := make([]string, len(as))
	byID := make(map[string]*verifyAccount, len(as))
	for i, a := range as {
		ids[i] = a.id
		byID[a.id] = a
	}
	refs, err := v.opts.Jobs.ActiveBefore(ctx, ids, v.cutoff)
	if err != nil {
		return fmt.Errorf("verify: jobs that have not ended: %w", err)
	}
	for _, r := range refs {
		if a := byID[r.Account]; a != nil {
			a.active = append(a.active, r.ID)
			a.resNames[r.ID] = true
		}
	}
	return nil
}

func addAll(set map[string]bool, names []string) {
	for _, n := range names {
		set[n] = true
	}
}

// readJournals reads on from where it stopped the journal of every account
// whose journal is not read to its end, a page per account per round trip,
// and replays what it reads.
func (v *verifier) readJournals(ctx context.Context, as []*verifyAccount) error {
	for {
		var open []*verifyAccount
		for _, a := range as {
			if !a.journalDone {
				open = append(open, a)
			}
		}
		if len(open) == 0 {
			return nil
		}
		pipe := v.l.client.Pipeline()
		cmds := make([]*redis.XMessageSliceCmd, len(open))
		for i, a := range open {
			start := "-"
			if a.lastID != "" {
				start = "(" + a.lastID
			}
			cmds[i] = pipe.XRangeN(ctx, v.l.keys.journal(a.id), start, "+", verifyJournalPage)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("verify: journals: %w", err)
		}
		for i, a := range open {
			msgs := cmds[i].Val()
			for _, m := range msgs {
				v.replay(a, parseEntry(m))
			}
			a.journalDone = len(msgs) < verifyJournalPage
		}
	}
}

// replay applies one journal entry to what Verify knows of the account.
func (v *verifier) replay(a *verifyAccount, e credit.Entry) {
	if e.Type == credit.EntryCheckpoint {
		v.replayCheckpoint(a, e)
		return
	}
	a.counts.JournalEntries++
	a.lastID = e.ID
	if !a.journalBroken {
		switch {
		case e.Seq != a.lastSeq+1:
			a.journalBroken = true
			a.fail(Finding{Check: CheckJournal, Got: fmt.Sprintf("seq %d", e.Seq), Want: fmt.Sprintf("seq %d", a.lastSeq+1),
				Message: fmt.Sprintf("journal entry %s has seq %d but follows seq %d: %s, so the pools cannot be replayed from the journal",
					e.ID, e.Seq, a.lastSeq, missingEntries(a.lastSeq+1, e.Seq-1))})
		default:
			if err := a.rp.Add(e); err != nil {
				a.journalBroken = true
				a.fail(Finding{Check: CheckJournal, Pool: e.Pool,
					Message: fmt.Sprintf("the journal does not replay at entry %s: %v", e.ID, err)})
			}
		}
	}
	a.lastSeq = max(a.lastSeq, e.Seq)
	switch e.Type {
	case credit.EntryRefresh:
		if prev, ok := a.periodStart[e.Pool]; ok && !e.PeriodStart.After(prev) {
			a.fail(Finding{Check: CheckI6, Pool: e.Pool, Got: stamp(e.PeriodStart), Want: "after " + stamp(prev),
				Message: fmt.Sprintf("the refresh at seq %d starts the period of %s, which does not follow the period of %s before it: a period was applied twice",
					e.Seq, stamp(e.PeriodStart), stamp(prev))})
		}
		a.periodStart[e.Pool] = e.PeriodStart
	case credit.EntryGrant:
		a.periodStart[e.Pool] = e.PeriodStart
	}
	a.poolNames[e.Pool] = true
	if e.HoldID != "" {
		a.journalHolds[e.HoldID] = true
		a.holdNames[e.HoldID] = true
	}
	if e.JobID == "" {
		return
	}
	if !e.At.Before(v.window) {
		a.recent[e.JobID] = true
	}
	// What a job holds of the allocation is reserved, or carried once its
	// period has ended; what it holds of a grant is the grant's held.
	if held := e.Delta.Reserved + e.Delta.Carried + e.GrantDelta.Held; held != 0 || e.Delta.OverageReserved != 0 {
		h := a.held[e.JobID]
		h.pool = e.Pool
		h.prepaid += held
		h.overage += e.Delta.OverageReserved
		if h.prepaid == 0 && h.overage == 0 {
			delete(a.held, e.JobID)
		} else {
			a.held[e.JobID] = h
			a.resNames[e.JobID] = true
		}
	}
}

// replayCheckpoint applies a checkpoint entry. First in the journal (the
// entries before it trimmed), it is where the replay starts: the pools, the
// periods and what each job holds come from it. Later, it must state what
// the entries before it replay to.
func (v *verifier) replayCheckpoint(a *verifyAccount, e credit.Entry) {
	a.counts.JournalEntries++
	first := a.lastID == ""
	a.lastID = e.ID
	if !a.journalBroken {
		if err := a.rp.Add(e); err != nil {
			a.journalBroken = true
			a.fail(Finding{Check: CheckJournal, Message: fmt.Sprintf("the journal does not replay at checkpoint %s: %v", e.ID, err)})
		}
	}
	a.lastSeq = max(a.lastSeq, e.Seq)
	if e.Checkpoint == nil {
		return
	}
	if first {
		for name, b := range e.Checkpoint.Pools {
			a.poolNames[name] = true
			a.periodStart[name] = b.PeriodStart
		}
		for j, h := range e.Checkpoint.Held {
			a.held[j] = jobHeld{pool: h.Pool, prepaid: h.Prepaid, overage: h.Overage}
			a.resNames[j] = true
		}
		return
	}
	if a.journalBroken {
		return
	}
	for _, j := range sortedKeys(a.held) {
		h, c := a.held[j], e.Checkpoint.Held[j]
		if c.Pool != h.pool || c.Prepaid != h.prepaid || c.Overage != h.overage {
			a.journalBroken = true
			a.fail(Finding{Check: CheckJournal, Pool: h.pool, Job: j,
				Message: fmt.Sprintf("checkpoint %s says job %s holds %d prepaid and %d overage credits, but the journal before it says %d and %d",
					e.ID, j, c.Prepaid, c.Overage, h.prepaid, h.overage)})
			return
		}
	}
	for _, j := range sortedKeys(e.Checkpoint.Held) {
		if _, ok := a.held[j]; !ok {
			a.journalBroken = true
			a.fail(Finding{Check: CheckJournal, Job: j,
				Message: fmt.Sprintf("checkpoint %s says job %s holds credits, but the journal before it says the job holds none", e.ID, j)})
			return
		}
	}
}

func missingEntries(from, to int64) string {
	switch {
	case to < from:
		return "seqs go backwards or repeat"
	case from == to:
		return fmt.Sprintf("entry %d is missing", from)
	}
	return fmt.Sprintf("entries %d to %d are missing", from, to)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "(none)"
	}
	return t.UTC().Format(time.RFC3339)
}

// snapshot reads the state of each account by the names known, in one
// MULTI on a single Redis, with the journal's tail: an account whose
// journal grew, or that has names not known before, is left unsettled for
// another round.
func (v *verifier) snapshot(ctx context.Context, as []*verifyAccount) error {
	k := v.l.keys
	var pipe redis.Pipeliner
	if _, cluster := v.l.client.(*redis.ClusterClient); cluster {
		pipe = v.l.client.Pipeline() // a MULTI may not span slots
	} else {
		pipe = v.l.client.TxPipeline()
	}
	type cmds struct {
		account                 *redis.SliceCmd
		pools                   *redis.StringSliceCmd
		pool, res, hold         map[string]*redis.MapStringStringCmd
		pending, holds, charges *redis.ZSliceCmd
		tail                    *redis.XMessageSliceCmd
		grants                  *redis.StringSliceCmd
	}
	cs := make([]cmds, len(as))
	for i, a := range as {
		c := cmds{pool: map[string]*redis.MapStringStringCmd{}, res: map[string]*redis.MapStringStringCmd{},
			hold: map[string]*redis.MapStringStringCmd{}}
		c.account = pipe.HMGet(ctx, k.account(a.id), "seq", "created_at")
		c.pools = pipe.SMembers(ctx, k.pools(a.id))
		for p := range a.poolNames {
			c.pool[p] = pipe.HGetAll(ctx, k.pool(a.id, p))
		}
		c.pending = pipe.ZRangeWithScores(ctx, k.pending(a.id), 0, -1)
		c.holds = pipe.ZRangeWithScores(ctx, k.holds(a.id), 0, -1)
		c.charges = pipe.ZRangeWithScores(ctx, k.charges(a.id), 0, -1)
		c.grants = pipe.HVals(ctx, k.grants(a.id))
		start := "-"
		if a.lastID != "" {
			start = "(" + a.lastID
		}
		c.tail = pipe.XRangeN(ctx, k.journal(a.id), start, "+", 1)
		for j := range a.resNames {
			c.res[j] = pipe.HGetAll(ctx, k.reservation(a.id, j))
		}
		for h := range a.holdNames {
			c.hold[h] = pipe.HGetAll(ctx, k.hold(a.id, h))
		}
		cs[i] = c
	}
	if err := execAllowingNil(ctx, pipe); err != nil {
		return fmt.Errorf("verify: read accounts: %w", err)
	}
	for i, a := range as {
		c := cs[i]
		if len(c.tail.Val()) > 0 {
			a.journalDone = false
			continue
		}
		grew := false
		more := func(set map[string]bool, names []string) {
			for _, n := range names {
				if !set[n] {
					set[n] = true
					grew = true
				}
			}
		}
		more(a.poolNames, c.pools.Val())
		more(a.resNames, zMembers(c.pending.Val()))
		more(a.holdNames, zMembers(c.holds.Val()))
		more(a.resNames, zMembers(c.charges.Val()))
		if grew {
			continue
		}
		a.settled = true
		vals := c.account.Val()
		a.seq, a.created = integer(vals[0]), msOf(vals[1])
		a.listed = c.pools.Val()
		a.pools = map[string]map[string]string{}
		for p, cmd := range c.pool {
			if m := cmd.Val(); len(m) > 0 {
				a.pools[p] = m
			}
		}
		a.pending = zScores(c.pending.Val())
		a.holdsSet = map[string]bool{}
		addAll(a.holdsSet, zMembers(c.holds.Val()))
		a.charges = zScores(c.charges.Val())
		a.res = map[string]map[string]string{}
		for j, cmd := range c.res {
			a.res[j] = cmd.Val()
		}
		a.holds = map[string]map[string]string{}
		for h, cmd := range c.hold {
			a.holds[h] = cmd.Val()
		}
		a.grants = c.grants.Val()
	}
	return nil
}

func zMembers(zs []redis.Z) []string {
	out := make([]string, len(zs))
	for i, z := range zs {
		out[i] = str(z.Member)
	}
	return out
}

func zScores(zs []redis.Z) map[string]float64 {
	out := make(map[string]float64, len(zs))
	for _, z := range zs {
		out[str(z.Member)] = z.Score
	}
	return out
}

// msOf reads a unix-millisecond reply as a time; zero when absent.
func msOf(v any) time.Time {
	if v == nil {
		return time.Time{}
	}
	return fromMilli(integer(v))
}

// fromMilli is unix milliseconds as a time; zero for 0.
func fromMilli(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// readAfter reads, in one pipeline, what the checks need beyond the
// snapshot: the ended reservations of recent jobs, the period index, the
// global hold indexes and, for one account, the set of accounts. Each is
// checked on its own, so it need not be read in the same instant.
func (v *verifier) readAfter(ctx context.Context, as []*verifyAccount) error {
	k := v.l.keys
	pipe := v.l.client.Pipeline()
	late := map[*verifyAccount]map[string]*redis.MapStringStringCmd{}
	for _, a := range as {
		m := map[string]*redis.MapStringStringCmd{}
		for j := range a.recent {
			if !a.resNames[j] {
				m[j] = pipe.HGetAll(ctx, k.reservation(a.id, j))
			}
		}
		late[a] = m
		a.periodIndex = map[string]*redis.FloatCmd{}
		for p := range a.pools {
			a.periodIndex[p] = pipe.ZScore(ctx, k.periods(p), a.id)
		}
		a.holdIndex = map[string]holdIndexCmds{}
		for id, h := range a.holds {
			if len(h) == 0 {
				continue
			}
			c := holdIndexCmds{
				all:      pipe.ZScore(ctx, k.holdIndex(), id),
				account:  pipe.HGet(ctx, k.holdAccounts(), id),
				statusOf: h["status"],
			}
			if s := credit.HoldStatus(h["status"]); s.Valid() {
				c.status = pipe.ZScore(ctx, k.holdsIn(string(s)), id)
				if s != credit.HoldUnpaid {
					c.unpaid = pipe.ZScore(ctx, k.holdsIn(string(credit.HoldUnpaid)), id)
				}
			}
			a.holdIndex[id] = c
		}
		if v.opts.Account != "" {
			a.registered = pipe.SIsMember(ctx, k.accounts(), a.id)
		}
	}
	if err := execAllowingNil(ctx, pipe); err != nil {
		return fmt.Errorf("verify: indexes: %w", err)
	}
	for a, m := range late {
		for j, cmd := range m {
			if h := cmd.Val(); len(h) > 0 {
				a.late[j] = h
			}
		}
	}
	return nil
}

// readJobs reads, with Jobs, the records of the jobs of open reservations
// and of refund queue entries older than the grace.
func (v *verifier) readJobs(ctx context.Context, as []*verifyAccount) error {
	if v.opts.Jobs == nil {
		return nil
	}
	var refs []JobRef
	cutoff := float64(v.cutoff.UnixMilli())
	for _, a := range as {
		a.jobs = map[string]JobState{}
		for j, r := range a.res {
			if credit.ReservationState(r["state"]) == credit.Reserved {
				refs = append(refs, JobRef{a.id, j})
			}
		}
		for j, at := range a.charges {
			if at < cutoff && credit.ReservationState(a.res[j]["state"]) != credit.Reserved {
				refs = append(refs, JobRef{a.id, j})
			}
		}
	}
	if len(refs) == 0 {
		return nil
	}
	states, err := v.opts.Jobs.JobStates(ctx, refs)
	if err != nil {
		return fmt.Errorf("verify: job records: %w", err)
	}
	byID := make(map[string]*verifyAccount, len(as))
	for _, a := range as {
		byID[a.id] = a
	}
	for ref, s := range states {
		if a := byID[ref.Account]; a != nil {
			a.jobs[ref.ID] = s
		}
	}
	return nil
}

// readRecords reads the charged record ids of every dedup reservation
// known: how many, and those its pool's dedup set lacks; then, for an
// account with few enough, the ids themselves, to find a record charged
// twice.
func (v *verifier) readRecords(ctx context.Context, as []*verifyAccount) error {
	k := v.l.keys
	pipe := v.l.client.Pipeline()
	n := 0
	for _, a := range as {
		a.records = map[string]*recordCmds{}
		for j, r := range a.reservations() {
			if r["dedup"] != "1" {
				continue
			}
			c := &recordCmds{card: pipe.SCard(ctx, k.jobRecords(a.id, j))}
			if credit.ReservationState(r["state"]) == credit.Settled && r["pool"] != "" {
				c.diff = pipe.SDiff(ctx, k.jobRecords(a.id, j), k.dedup(a.id, r["pool"]))
			}
			a.records[j] = c
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if err := execAllowingNil(ctx, pipe); err != nil {
		return fmt.Errorf("verify: charged records: %w", err)
	}
	pipe = v.l.client.Pipeline()
	n = 0
	for _, a := range as {
		var total int64
		settled := 0
		for _, c := range a.records {
			if c.diff != nil && c.card.Val() > 0 {
				total += c.card.Val()
				settled++
			}
		}
		if settled < 2 || total > verifyDisjointLimit {
			continue
		}
		a.disjoint = map[string]*redis.StringSliceCmd{}
		for j, c := range a.records {
			if c.diff != nil && c.card.Val() > 0 {
				a.disjoint[j] = pipe.SMembers(ctx, k.jobRecords(a.id, j))
				n++
			}
		}
	}
	if n == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("verify: charged records: %w", err)
	}
	return nil
}

// reservations returns every reservation read of the account: the
// snapshot's that exist, and the ended ones of recent jobs.
func (a *verifyAccount) reservations() map[string]map[string]string {
	all := make(map[string]map[string]string, len(a.res)+len(a.late))
	for j, r := range a.res {
		if len(r) > 0 {
			all[j] = r
		}
	}
	for j, r := range a.late {
		all[j] = r
	}
	return all
}

// accountKnown reports whether an account has any state: registered, or
// with an account hash or pools.
func (v *verifier) accountKnown(ctx context.Context, account string) (bool, error) {
	pipe := v.l.client.Pipeline()
	reg := pipe.SIsMember(ctx, v.l.keys.accounts(), account)
	n := pipe.Exists(ctx, v.l.keys.account(account))
	pools := pipe.Exists(ctx, v.l.keys.pools(account))
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("verify %s: %w", account, err)
	}
	return reg.Val() || n.Val() > 0 || pools.Val() > 0, nil
}

// holdIndexOrphans walks the global hold index a page at a time and
// returns a failure for each hold it lists that no account has, and how
// many entries it walked.
func (v *verifier) holdIndexOrphans(ctx context.Context) ([]Finding, int64, error) {
	k := v.l.keys
	var out []Finding
	var walked int64
	for start := int64(0); ; start += verifyHoldPage {
		ids, err := v.l.client.ZRange(ctx, k.holdIndex(), start, start+verifyHoldPage-1).Result()
		if err != nil {
			return nil, 0, fmt.Errorf("hold index: %w", err)
		}
		walked += int64(len(ids))
		if len(ids) > 0 {
			owners, err := v.l.client.HMGet(ctx, k.holdAccounts(), ids...).Result()
			if err != nil {
				return nil, 0, fmt.Errorf("hold index: %w", err)
			}
			pipe := v.l.client.Pipeline()
			exists := make([]*redis.IntCmd, len(ids))
			for i, id := range ids {
				if a, _ := owners[i].(string); a != "" && credit.CheckID("account", a) == nil {
					exists[i] = pipe.Exists(ctx, k.hold(a, id))
				}
			}
			if err := execAllowingNil(ctx, pipe); err != nil {
				return nil, 0, fmt.Errorf("hold index: %w", err)
			}
			for i, id := range ids {
				a, _ := owners[i].(string)
				switch {
				case exists[i] == nil && v.unmapped[id]:
					// reported by its account's check
				case exists[i] == nil:
					out = append(out, Finding{Check: CheckHoldIndex, Account: a, Hold: id, Got: "account " + quoteOrNone(a), Want: "an account",
						Message: fmt.Sprintf("the global hold index lists hold %s, but the hold-to-account map names no valid account for it, so finance cannot open it", id)})
				case exists[i].Val() == 0:
					out = append(out, Finding{Check: CheckHoldIndex, Account: a, Hold: id, Got: "no hold", Want: "hold " + id,
						Message: fmt.Sprintf("the global hold index lists hold %s of account %s, but the account has no such hold", id, a)})
				}
			}
		}
		if len(ids) < verifyHoldPage {
			return out, walked, nil
		}
	}
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", s)
}
