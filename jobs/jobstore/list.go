package jobstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// Page sizes of List.
const (
	// DefaultListLimit is the page size when ListFilter.Limit is 0 or less.
	DefaultListLimit = 50
	// MaxListLimit is the largest page; a larger Limit is cut to it.
	MaxListLimit = 500
	// scanBatch is the fewest index entries List reads at a time while a
	// filter is set, so that a sparse filter costs few round trips.
	scanBatch = 200
)

// List returns a page of an account's jobs, newest first (jobs created in the
// same millisecond by id, greatest first), that have f.Status and f.Kind when
// those are set, with their latest progress, and the cursor of the next page.
// Listed jobs come without a search's inline records (up to 1,000 records a
// job): List never reads their key, and drops any found inside a job written
// before records were kept apart. Get has them.
// The cursor is empty on the last page, which is never an empty page after a
// full one. The page is empty, not nil, when no job matches. Ids whose record
// has expired are skipped and dropped from the account's index.
//
// Returns an error wrapping jobs.ErrInvalidCursor for a cursor that List did
// not make, and one wrapping credit.ErrInvalidID for a malformed account id.
func (r *Redis) List(ctx context.Context, account string, f jobs.ListFilter) ([]jobs.Job, string, error) {
	if err := credit.CheckID("account", account); err != nil {
		return nil, "", fmt.Errorf("list jobs: %w", err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	var pos position
	if f.Cursor != "" {
		var err error
		if pos, err = decodeCursor(f.Cursor); err != nil {
			return nil, "", fmt.Errorf("list jobs of %s: %w", account, err)
		}
	}
	filtered := f.Status != "" || f.Kind != ""

	page := make([]jobs.Job, 0, min(limit, 64))
	var last position
	var next string
	var stale []string
scan:
	for {
		need := limit + 1 - len(page)
		batch := need
		if filtered {
			batch = max(need, scanBatch)
		}
		entries, err := r.scan(ctx, account, pos, batch)
		if err != nil {
			return nil, "", fmt.Errorf("list jobs of %s: %w", account, err)
		}
		if len(entries) == 0 {
			break
		}
		raws, err := r.mget(ctx, account, entries)
		if err != nil {
			return nil, "", fmt.Errorf("list jobs of %s: %w", account, err)
		}
		for i, e := range entries {
			pos = e
			if raws[i] == nil {
				stale = append(stale, e.id)
				continue
			}
			j, err := decodeJob(*raws[i], nil)
			if err != nil {
				return nil, "", fmt.Errorf("list jobs of %s: job %s: %w", account, e.id, err)
			}
			j.Records = nil
			if f.Status != "" && j.Status != f.Status || f.Kind != "" && j.Kind != f.Kind {
				continue
			}
			if len(page) == limit {
				next = encodeCursor(last)
				break scan
			}
			page = append(page, j)
			last = e
		}
		if len(entries) < batch {
			break
		}
	}
	if len(stale) > 0 {
		// Best effort: an id left behind is dropped by a later List.
		_ = r.prune(ctx, account, r.keys.jobs(account), stale)
	}
	if err := r.layProgress(ctx, account, page); err != nil {
		return nil, "", fmt.Errorf("list jobs of %s: %w", account, err)
	}
	return page, next, nil
}

// scan returns up to n entries of the account's index after pos, in order.
func (r *Redis) scan(ctx context.Context, account string, pos position, n int) ([]position, error) {
	top := "+inf"
	if !pos.start() {
		top = strconv.FormatInt(pos.score, 10)
	}
	v, err := pageScript.Run(ctx, r.client, []string{r.keys.jobs(account)}, top, pos.id, n).Slice()
	if err != nil {
		return nil, fmt.Errorf("scan index: %w", err)
	}
	out := make([]position, 0, len(v)/2)
	for i := 0; i+1 < len(v); i += 2 {
		id, _ := v[i].(string)
		s, _ := v[i+1].(string)
		score, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("scan index: score %q of %s: %w", s, id, err)
		}
		if e := (position{score: int64(score), id: id}); pos.after(e.score, e.id) {
			out = append(out, e)
		}
	}
	return out, nil
}

// mget reads the records of entries; nil where one has expired.
func (r *Redis) mget(ctx context.Context, account string, entries []position) ([]*string, error) {
	keys := make([]string, len(entries))
	for i, e := range entries {
		keys[i] = r.keys.job(account, e.id)
	}
	v, err := r.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("read jobs: %w", err)
	}
	out := make([]*string, len(v))
	for i, x := range v {
		if s, ok := x.(string); ok {
			out[i] = &s
		}
	}
	return out, nil
}

// prune drops from one of the account's indexes (its jobs, its results) the
// ids whose record has expired.
func (r *Redis) prune(ctx context.Context, account, index string, ids []string) error {
	keys := make([]string, 0, len(ids)+1)
	args := make([]any, len(ids))
	keys = append(keys, index)
	for i, id := range ids {
		keys = append(keys, r.keys.job(account, id))
		args[i] = id
	}
	if err := pruneScript.Run(ctx, r.client, keys, args...).Err(); err != nil {
		return fmt.Errorf("prune index: %w", err)
	}
	return nil
}

// layProgress lays the progress hashes of the jobs that have not ended over
// their records.
func (r *Redis) layProgress(ctx context.Context, account string, page []jobs.Job) error {
	cmds := make(map[int]*redis.SliceCmd)
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, j := range page {
			if !j.Status.Terminal() {
				cmds[i] = p.HMGet(ctx, r.keys.progress(account, j.ID), "done", "total")
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read progress: %w", err)
	}
	for i, c := range cmds {
		p, err := progressOf(c.Val())
		if err != nil {
			return fmt.Errorf("job %s: %w", page[i].ID, err)
		}
		if p != nil {
			page[i].Progress = *p
		}
	}
	return nil
}
