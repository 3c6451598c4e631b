package jobstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// indexedBefore reads, for each account, the ids its index (a sorted set by
// unix ms) holds scored before the given time, in one pipelined round trip.
func (r *Redis) indexedBefore(ctx context.Context, accounts []string, index func(string) string, before time.Time) ([]jobs.JobRef, error) {
	return r.indexedIn(ctx, accounts, index, "-inf", strconv.FormatInt(before.UnixMilli()-1, 10))
}

// indexedSince reads, for each account, the ids its index holds scored at or
// after the given time, in one pipelined round trip.
func (r *Redis) indexedSince(ctx context.Context, accounts []string, index func(string) string, since time.Time) ([]jobs.JobRef, error) {
	return r.indexedIn(ctx, accounts, index, strconv.FormatInt(since.UnixMilli(), 10), "+inf")
}

// indexedIn reads, for each account, the ids its index holds scored from
// minScore to maxScore, in one pipelined round trip.
func (r *Redis) indexedIn(ctx context.Context, accounts []string, index func(string) string, minScore, maxScore string) ([]jobs.JobRef, error) {
	valid := make([]string, 0, len(accounts))
	for _, a := range accounts {
		if credit.CheckID("account", a) == nil {
			valid = append(valid, a)
		}
	}
	if len(valid) == 0 {
		return nil, nil
	}
	idx := make([]*redis.StringSliceCmd, len(valid))
	_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, a := range valid {
			idx[i] = p.ZRangeByScore(ctx, index(a), &redis.ZRangeBy{Min: minScore, Max: maxScore})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var refs []jobs.JobRef
	for i, a := range valid {
		for _, id := range idx[i].Val() {
			refs = append(refs, jobs.JobRef{Account: a, ID: id})
		}
	}
	return refs, nil
}
