package jobstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
)

// maxUpdateAttempts bounds the reads of one Update. A lost race means another
// writer won, so the attempts run out only when the job changes this many
// times in a row while staying in a status that from allows.
const maxUpdateAttempts = 32

// Update applies fn to the job and writes it back, provided that the job's
// status is in from when read and that the job has not changed between the
// read and the write (a compare-and-set on the whole record). When it has, it
// reads again, checks from again, and calls fn again: fn may run more than
// once and must change nothing but the job. fn sees the job's latest
// progress. fn must not change the job's ID or Account.
//
// A job that succeeded with result files is indexed by its finish time for
// ResultsDue, and leaves that index when its files go (ResultsExpiredAt).
//
// When the new status has ended, the job's record and items get a TTL of
// Options.RetainEnded (an ended job updated again keeps the TTL it has), and
// the progress the job holds becomes final. While the job has not ended, a
// progress that fn changes is written to the progress hash too.
//
// Returns an error wrapping jobs.ErrNotFound as Get does, a *jobs.StatusError
// when the status is not in from (it wraps jobs.ErrEnded when the job has
// ended), and an error when the job kept changing under maxUpdateAttempts
// attempts.
func (r *Redis) Update(ctx context.Context, account, id string, from []jobs.Status, fn func(*jobs.Job)) (jobs.Job, error) {
	return r.UpdateGuarded(ctx, account, id, from, jobs.Guard{}, fn)
}

// UpdateGuarded is Update that writes only while the hash at guard.Key has
// guard.Field equal to guard.Value, checked in the script that writes; a
// zero Guard checks nothing. The guard's key must be in the account's hash
// slot. Returns an error wrapping jobs.ErrGuardFailed when the guard does
// not hold, having written nothing.
func (r *Redis) UpdateGuarded(ctx context.Context, account, id string, from []jobs.Status, guard jobs.Guard, fn func(*jobs.Job)) (jobs.Job, error) {
	return r.update(ctx, account, id, from, guard, fn, nil)
}

// UpdateFrom is UpdateGuarded of j that starts from j.Rev, the record as
// Get, Create or an update gave it, instead of reading it: one round trip
// when nothing changed it since. Only j's Account, ID, Rev and Records are
// used: fn sees the job decoded from Rev, with the progress the record
// holds. A job whose search records are kept (it has Records) is read
// first, as UpdateGuarded does.
func (r *Redis) UpdateFrom(ctx context.Context, j jobs.Job, from []jobs.Status, guard jobs.Guard, fn func(*jobs.Job)) (jobs.Job, error) {
	var first *stored
	if j.Rev != "" && len(j.Records) == 0 {
		first = &stored{raw: j.Rev}
	}
	return r.update(ctx, j.Account, j.ID, from, guard, fn, first)
}

// update is UpdateGuarded whose first attempt, when first is not nil,
// takes first for the record read.
func (r *Redis) update(ctx context.Context, account, id string, from []jobs.Status, guard jobs.Guard, fn func(*jobs.Job), first *stored) (jobs.Job, error) {
	if err := checkJobID(account, id); err != nil {
		return jobs.Job{}, fmt.Errorf("update %w", unknownJob(id, err))
	}
	var fields []string
	if guard.Field != "" {
		fields = []string{guard.Field, guard.Value}
	}
	for range maxUpdateAttempts {
		var st stored
		if first != nil {
			st, first = *first, nil
		} else {
			var err error
			if st, err = r.read(ctx, account, id); err != nil {
				return jobs.Job{}, fmt.Errorf("update %w", err)
			}
		}
		c, err := r.updateCall(st, account, id, from, guard.Key, fields, fn)
		if err != nil {
			return jobs.Job{}, err
		}
		j, err := c.result(reply(ctx, r.client, updateScript, c.keys, c.args...))
		if !errors.Is(err, errChanged) {
			return j, err
		}
	}
	return jobs.Job{}, fmt.Errorf("update job %s: it changed under every one of %d attempts", id, maxUpdateAttempts)
}

// errChanged is an update's answer when the job changed since it was read.
var errChanged = errors.New("the job changed since it was read")

// updateCall is one run of update.lua: its keys and arguments, the job it
// writes, and what its answer means.
type updateCall struct {
	id, guardKey string
	guard        []string
	keys         []string
	args         []any
	job          jobs.Job // as written
}

// updateCall applies fn to the job stored as st and returns the run of
// update.lua that writes it, guarded by the field values of guard (pairs)
// at guardKey. Returns a *jobs.StatusError when the status is not in from.
func (r *Redis) updateCall(st stored, account, id string, from []jobs.Status, guardKey string, guard []string, fn func(*jobs.Job)) (updateCall, error) {
	j, err := st.decode()
	if err != nil {
		return updateCall{}, fmt.Errorf("update job %s: %w", id, err)
	}
	raw, records := st.raw, j.Records
	if !slices.Contains(from, j.Status) {
		return updateCall{}, &jobs.StatusError{ID: id, Status: j.Status}
	}
	before, kept, wasEnded := j.Progress, resultsKept(j), j.Status.Terminal()
	fn(&j)
	if j.ID != id || j.Account != account {
		return updateCall{}, fmt.Errorf("update job %s: the update changed its id or account to %s/%s", id, j.Account, j.ID)
	}
	if !j.Status.Valid() {
		return updateCall{}, fmt.Errorf("update job %s: unknown status %q", id, j.Status)
	}
	if j.Records, err = compactRecords(j.Records); err != nil {
		return updateCall{}, fmt.Errorf("update job %s: %w", id, err)
	}
	w := written{Job: j, Write: rand.Uint64()}
	w.Records = nil
	data, err := json.Marshal(w)
	if err != nil {
		return updateCall{}, fmt.Errorf("update job %s: encode: %w", id, err)
	}
	var ttl int64
	var done, total string
	switch {
	case j.Status.Terminal():
		ttl = r.retainMS()
	case j.Progress != before:
		done, total = strconv.FormatInt(j.Progress.Done, 10), strconv.FormatInt(j.Progress.Total, 10)
	}
	index := ""
	switch {
	case resultsKept(j):
		index = strconv.FormatInt(j.FinishedAt.UnixMilli(), 10)
	case kept:
		index = "-"
	}
	event := "" // the job's end, told to webhooks (package events)
	if j.Status.Terminal() && !wasEnded {
		event = "job." + string(j.Status)
	}
	k := r.keys
	if len(guard) == 0 {
		guardKey = k.job(account, id)
	}
	args := make([]any, 0, 10+len(guard))
	args = append(args, raw, data, ttl, done, total, id, index, recordsArg(st, records, j.Records), event, r.nowFunc().UnixMilli())
	for _, g := range guard {
		args = append(args, g)
	}
	j.Rev = string(data)
	return updateCall{
		id: id, guardKey: guardKey, guard: guard, job: j, args: args,
		keys: []string{k.job(account, id), k.items(account, id), k.progress(account, id), k.results(account), k.active(account), k.records(account, id), guardKey, k.outbox(account)},
	}, nil
}

// result is what update.lua's answer n (or err) means: the job written,
// errChanged, or an error.
func (c updateCall) result(n int64, err error) (jobs.Job, error) {
	switch {
	case err != nil:
		return jobs.Job{}, fmt.Errorf("update job %s: %w", c.id, err)
	case n == 1:
		return c.job, nil
	case n == 0:
		return jobs.Job{}, errChanged
	case n == -1:
		return jobs.Job{}, fmt.Errorf("update %w", notFound(c.id))
	case n == -2:
		return jobs.Job{}, fmt.Errorf("update job %s: %v of %s do not hold: %w", c.id, c.guard, c.guardKey, jobs.ErrGuardFailed)
	}
	return jobs.Job{}, fmt.Errorf("update job %s: unknown answer %d", c.id, n)
}

// PendingUpdate is an update of a job, from the revision its caller has,
// to be sent in a pipeline of the caller's (Redis.PrepareUpdate).
type PendingUpdate struct {
	call updateCall
	cmd  *redis.Cmd
}

// PrepareUpdate applies fn to j as the store gave it (j.Rev) and returns
// the write of the result, a compare-and-set from that revision guarded by
// the field values of guard (field, value, ... pairs; "" for an absent
// field) at guardKey, in the account's hash slot. Nothing is written until
// it is sent (PendingUpdate.Send). Returns a *jobs.StatusError when j's
// status is not in from, and an error when j has no revision or has
// search records (which UpdateFrom reads first).
func (r *Redis) PrepareUpdate(j jobs.Job, from []jobs.Status, guardKey string, guard []string, fn func(*jobs.Job)) (*PendingUpdate, error) {
	if err := checkJobID(j.Account, j.ID); err != nil {
		return nil, fmt.Errorf("update %w", unknownJob(j.ID, err))
	}
	if j.Rev == "" || len(j.Records) > 0 || len(guard)%2 != 0 {
		return nil, fmt.Errorf("update job %s: no revision to write from", j.ID)
	}
	c, err := r.updateCall(stored{raw: j.Rev}, j.Account, j.ID, from, guardKey, guard, fn)
	if err != nil {
		return nil, err
	}
	return &PendingUpdate{call: c}, nil
}

// Send adds the update to pipe. Sending it twice (a pipeline sent again
// after a lost reply) writes it once; Result reports the last sending.
func (p *PendingUpdate) Send(ctx context.Context, pipe redis.Pipeliner) {
	p.cmd = updateScript.EvalSha(ctx, pipe, p.call.keys, p.call.args...)
}

// Result reports, once the pipeline has run, the job written; an error
// wrapping jobs.ErrGuardFailed when the guard did not hold, or one that
// says the job changed since its revision, with nothing written either
// way.
func (p *PendingUpdate) Result() (jobs.Job, error) {
	if p.cmd == nil {
		return jobs.Job{}, fmt.Errorf("update job %s: not sent", p.call.id)
	}
	j, err := p.call.result(p.cmd.Int64())
	if errors.Is(err, errChanged) {
		return j, fmt.Errorf("update job %s: %w", p.call.id, err)
	}
	return j, err
}

// recordsArg is what update.lua does with the records key: an empty
// string leaves it alone when the records are as read, "-" deletes it when
// they are gone, and "=" and the JSON writes them. Records found inside the job's JSON (a
// job written before they were kept apart) move to their key.
func recordsArg(st stored, before, after json.RawMessage) string {
	inline := st.records == nil && len(before) > 0
	switch {
	case !inline && bytes.Equal(before, after):
		return ""
	case len(after) == 0:
		return "-"
	}
	return "=" + string(after)
}

// compactRecords returns a search's records as stored: checked and
// compacted, as they were when they were encoded inside the job.
func compactRecords(records json.RawMessage) (json.RawMessage, error) {
	if len(records) == 0 {
		return records, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, records); err != nil {
		return nil, fmt.Errorf("encode records: %w", err)
	}
	return b.Bytes(), nil
}

// written is a job as an update stores it: with a random token of the write,
// which makes the bytes of every write its own. A retry of the update script
// after a lost reply finds those bytes stored and knows the write for its
// own (update.lua), while two updates that would store the same job still
// differ, so that only one of them wins the compare-and-set. Readers decode
// the job and ignore the token.
type written struct {
	jobs.Job
	Write uint64 `json:"write"`
}

// resultsKept reports whether j has finished with result files that are still
// kept: what the results index holds.
func resultsKept(j jobs.Job) bool {
	return j.Status == jobs.Succeeded && j.FinishedAt != nil && len(j.Results) > 0 && j.ResultsExpiredAt == nil
}
