package jobstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
)

// Create writes a new job and, when items is not nil, its items. A search's
// inline records, if the job has any, go to a key of their own, which List
// never reads. A job without a CreatedAt gets the store's now. It indexes the job by CreatedAt
// for List. A job created in an ended state gets its TTL at once.
//
// Creating a job again with the very record it has (a retry of a Create whose
// reply was lost) succeeds and changes nothing. Returns an error wrapping
// jobs.ErrJobExists when the id is taken by another record, and one
// wrapping credit.ErrInvalidID when the account or job id cannot be part of a
// key.
func (r *Redis) Create(ctx context.Context, j jobs.Job, items []map[string]any) error {
	c, err := r.createCall(j, items, "", nil)
	if err != nil {
		return err
	}
	return c.result(reply(ctx, r.client, createScript, c.keys, c.args...))
}

// PendingCreate is the creation of a job, checked and encoded, to be sent
// in a pipeline of the caller's (Redis.PrepareCreate).
type PendingCreate struct {
	call createCall
	cmd  *redis.Cmd
}

// PrepareCreate checks and encodes the creation of j, as Create makes it,
// guarded: the job is written only while the hash at guardKey has the field
// values of guard (field, value, ... pairs; a value of "" stands for an
// absent field). The guard's key must be in the account's hash slot.
// Nothing is written until the creation is sent (PendingCreate.Send).
func (r *Redis) PrepareCreate(j jobs.Job, items []map[string]any, guardKey string, guard []string) (*PendingCreate, error) {
	c, err := r.createCall(j, items, guardKey, guard)
	if err != nil {
		return nil, err
	}
	return &PendingCreate{call: c}, nil
}

// Send adds the creation to pipe. Sending it twice (a pipeline sent again
// after a lost reply) creates the job once; Err reports the last sending.
func (p *PendingCreate) Send(ctx context.Context, pipe redis.Pipeliner) {
	p.cmd = createScript.EvalSha(ctx, pipe, p.call.keys, p.call.args...)
}

// Err reports, once the pipeline has run, what Create would have returned,
// or an error wrapping jobs.ErrGuardFailed when the guard did not hold and
// nothing was written.
func (p *PendingCreate) Err() error {
	if p.cmd == nil {
		return fmt.Errorf("create job %s: not sent", p.call.id)
	}
	return p.call.result(p.cmd.Int64())
}

// Rev is the revision of the job the creation writes (jobs.Job.Rev).
func (p *PendingCreate) Rev() string { return p.call.rev }

// createCall is one run of create.lua: its keys and arguments, the
// revision it writes, and what its answer means.
type createCall struct {
	id, rev string
	keys    []string
	args    []any
}

func (r *Redis) createCall(j jobs.Job, items []map[string]any, guardKey string, guard []string) (createCall, error) {
	if err := checkJobID(j.Account, j.ID); err != nil {
		return createCall{}, fmt.Errorf("create job: %w", err)
	}
	if !j.Status.Valid() {
		return createCall{}, fmt.Errorf("create job %s: unknown status %q", j.ID, j.Status)
	}
	if len(guard)%2 != 0 {
		return createCall{}, fmt.Errorf("create job %s: a guard of %d strings, not field and value pairs", j.ID, len(guard))
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = r.nowFunc()
	}
	records, err := compactRecords(j.Records)
	if err != nil {
		return createCall{}, fmt.Errorf("create job %s: %w", j.ID, err)
	}
	j.Records = nil
	data, err := json.Marshal(j)
	if err != nil {
		return createCall{}, fmt.Errorf("create job %s: encode: %w", j.ID, err)
	}
	var itemsData []byte
	if items != nil {
		if itemsData, err = json.Marshal(items); err != nil {
			return createCall{}, fmt.Errorf("create job %s: encode items: %w", j.ID, err)
		}
	}
	var ttl int64
	event := "" // a job created ended is told to webhooks (package events)
	if j.Status.Terminal() {
		ttl = r.retainMS()
		event = "job." + string(j.Status)
	}
	k := r.keys
	if guardKey == "" {
		guardKey = k.job(j.Account, j.ID)
	}
	args := make([]any, 0, 8+len(guard))
	args = append(args, data, itemsData, j.CreatedAt.UnixMilli(), j.ID, ttl, []byte(records), event, r.nowFunc().UnixMilli())
	for _, g := range guard {
		args = append(args, g)
	}
	return createCall{
		id: j.ID, rev: string(data),
		keys: []string{k.job(j.Account, j.ID), k.items(j.Account, j.ID), k.progress(j.Account, j.ID), k.jobs(j.Account), k.active(j.Account), k.records(j.Account, j.ID),
			k.outbox(j.Account), guardKey},
		args: args,
	}, nil
}

// result is what create.lua's answer n (or err) means.
func (c createCall) result(n int64, err error) error {
	switch {
	case err != nil:
		return fmt.Errorf("create job %s: %w", c.id, err)
	case n == 0:
		return fmt.Errorf("create job %s: %w", c.id, jobs.ErrJobExists)
	case n == -2:
		return fmt.Errorf("create job %s: %w", c.id, jobs.ErrGuardFailed)
	}
	return nil
}

// Get returns a job with its latest progress and a search's records.
//
// Returns an error wrapping jobs.ErrNotFound for an unknown id, an id of
// another account or an expired job; for a malformed id the error wraps
// credit.ErrInvalidID as well.
func (r *Redis) Get(ctx context.Context, account, id string) (jobs.Job, error) {
	if err := checkJobID(account, id); err != nil {
		return jobs.Job{}, fmt.Errorf("get %w", unknownJob(id, err))
	}
	st, err := r.read(ctx, account, id)
	if err != nil {
		return jobs.Job{}, fmt.Errorf("get %w", err)
	}
	j, err := st.decode()
	if err != nil {
		return jobs.Job{}, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, nil
}

// Items returns an enrichment's items as submitted, with numbers as
// json.Number (their text exactly). A job created without items has none:
// the slice is empty, not nil.
//
// Returns an error wrapping jobs.ErrNotFound as Get does.
func (r *Redis) Items(ctx context.Context, account, id string) ([]map[string]any, error) {
	if err := checkJobID(account, id); err != nil {
		return nil, fmt.Errorf("items of %w", unknownJob(id, err))
	}
	var items *redis.StringCmd
	var exists *redis.IntCmd
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		items = p.Get(ctx, r.keys.items(account, id))
		exists = p.Exists(ctx, r.keys.job(account, id))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("items of job %s: %w", id, err)
	}
	if exists.Val() == 0 {
		return nil, fmt.Errorf("items of %w", notFound(id))
	}
	data, err := items.Bytes()
	if errors.Is(err, redis.Nil) {
		return []map[string]any{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("items of job %s: %w", id, err)
	}
	out := []map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("items of job %s: decode: %w", id, err)
	}
	return out, nil
}

// stored is a job as read: its JSON, its records key and its progress hash.
type stored struct {
	raw string
	// records holds the records key; nil when the job has none there (a
	// job written before records were kept apart has them inside raw).
	records []byte
	// progress is nil when the job has no progress hash.
	progress *jobs.Progress
}

// decode decodes the job, with its records and its progress laid over it.
func (st stored) decode() (jobs.Job, error) {
	j, err := decodeJob(st.raw, st.progress)
	if err != nil {
		return jobs.Job{}, err
	}
	if st.records != nil {
		j.Records = json.RawMessage(st.records)
	}
	j.Rev = st.raw
	return j, nil
}

// read returns a job's stored JSON, its records and its progress hash in one
// transaction. It returns an error wrapping jobs.ErrNotFound when the job is
// not there.
func (r *Redis) read(ctx context.Context, account, id string) (stored, error) {
	var job, records *redis.StringCmd
	var prog *redis.SliceCmd
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		job = p.Get(ctx, r.keys.job(account, id))
		records = p.Get(ctx, r.keys.records(account, id))
		prog = p.HMGet(ctx, r.keys.progress(account, id), "done", "total")
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return stored{}, fmt.Errorf("job %s: %w", id, err)
	}
	raw, err := job.Result()
	if errors.Is(err, redis.Nil) {
		return stored{}, notFound(id)
	}
	if err != nil {
		return stored{}, fmt.Errorf("job %s: %w", id, err)
	}
	st := stored{raw: raw}
	switch recs, err := records.Bytes(); {
	case err == nil:
		st.records = recs
	case !errors.Is(err, redis.Nil):
		return stored{}, fmt.Errorf("records of job %s: %w", id, err)
	}
	if st.progress, err = progressOf(prog.Val()); err != nil {
		return stored{}, fmt.Errorf("job %s: %w", id, err)
	}
	return st, nil
}

// progressOf reads the reply of HMGET done total; nil when the hash is absent.
func progressOf(v []any) (*jobs.Progress, error) {
	if len(v) != 2 || v[0] == nil || v[1] == nil {
		return nil, nil
	}
	done, err1 := strconv.ParseInt(fmt.Sprint(v[0]), 10, 64)
	total, err2 := strconv.ParseInt(fmt.Sprint(v[1]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("progress: %w", err)
	}
	return &jobs.Progress{Done: done, Total: total}, nil
}

// decodeJob decodes a stored job and lays its progress hash, if any, over it.
// The records are the ones inside raw: none, unless the job was written
// before records were kept apart.
func decodeJob(raw string, p *jobs.Progress) (jobs.Job, error) {
	var j jobs.Job
	if err := json.Unmarshal([]byte(raw), &j); err != nil {
		return jobs.Job{}, fmt.Errorf("decode job: %w", err)
	}
	if p != nil {
		j.Progress = *p
	}
	return j, nil
}
