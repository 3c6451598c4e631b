package jobstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

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
// when nothing changed it since. A job whose search records are kept (it
// has Records) is read first, as UpdateGuarded does.
func (r *Redis) UpdateFrom(ctx context.Context, j jobs.Job, from []jobs.Status, guard jobs.Guard, fn func(*jobs.Job)) (jobs.Job, error) {
	var first *stored
	if j.Rev != "" && len(j.Records) == 0 {
		p := j.Progress
		first = &stored{raw: j.Rev, progress: &p}
	}
	return r.update(ctx, j.Account, j.ID, from, guard, fn, first)
}

// update is UpdateGuarded whose first attempt, when first is not nil,
// takes first for the record read.
func (r *Redis) update(ctx context.Context, account, id string, from []jobs.Status, guard jobs.Guard, fn func(*jobs.Job), first *stored) (jobs.Job, error) {
	if err := checkJobID(account, id); err != nil {
		return jobs.Job{}, fmt.Errorf("update %w", unknownJob(id, err))
	}
	k := r.keys
	guardKey := k.job(account, id)
	if guard.Field != "" {
		guardKey = guard.Key
	}
	keys := []string{k.job(account, id), k.items(account, id), k.progress(account, id), k.results(account), k.active(account), k.records(account, id), guardKey, k.outbox(account)}
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
		j, err := st.decode()
		if err != nil {
			return jobs.Job{}, fmt.Errorf("update job %s: %w", id, err)
		}
		raw, records := st.raw, j.Records
		if !slices.Contains(from, j.Status) {
			return jobs.Job{}, &jobs.StatusError{ID: id, Status: j.Status}
		}
		before, kept, wasEnded := j.Progress, resultsKept(j), j.Status.Terminal()
		fn(&j)
		if j.ID != id || j.Account != account {
			return jobs.Job{}, fmt.Errorf("update job %s: the update changed its id or account to %s/%s", id, j.Account, j.ID)
		}
		if !j.Status.Valid() {
			return jobs.Job{}, fmt.Errorf("update job %s: unknown status %q", id, j.Status)
		}
		if j.Records, err = compactRecords(j.Records); err != nil {
			return jobs.Job{}, fmt.Errorf("update job %s: %w", id, err)
		}
		w := written{Job: j, Write: rand.Uint64()}
		w.Records = nil
		data, err := json.Marshal(w)
		if err != nil {
			return jobs.Job{}, fmt.Errorf("update job %s: encode: %w", id, err)
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
		n, err := reply(ctx, r.client, updateScript, keys, raw, data, ttl, done, total, id, index, recordsArg(st, records, j.Records),
			guard.Field, guard.Value, event, r.nowFunc().UnixMilli())
		if err != nil {
			return jobs.Job{}, fmt.Errorf("update job %s: %w", id, err)
		}
		switch n {
		case 1:
			j.Rev = string(data)
			return j, nil
		case -1:
			return jobs.Job{}, fmt.Errorf("update %w", notFound(id))
		case -2:
			return jobs.Job{}, fmt.Errorf("update job %s: %s of %s is not %q: %w", id, guard.Field, guard.Key, guard.Value, jobs.ErrGuardFailed)
		}
	}
	return jobs.Job{}, fmt.Errorf("update job %s: it changed under every one of %d attempts", id, maxUpdateAttempts)
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
