package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNoObjects is returned by ExpireResults when the service has no Objects
// to delete result files with.
var ErrNoObjects = errors.New("no object storage configured")

// ExpireResults deletes a succeeded job's result files, past the result
// retention, and marks its results expired: the job then shows no results
// and says when they went. A search's records are part of the job record
// and stay. Expiring twice changes nothing more. Returns ErrNotFound, a
// *StatusError for a job that did not succeed, ErrNoObjects, or the error of
// a file that could not be deleted (the job is then left as it was, and the
// next pass tries again).
func (s *Service) ExpireResults(ctx context.Context, account, id string) (Job, error) {
	j, err := s.cfg.Store.Get(ctx, account, id)
	if err != nil {
		return Job{}, err
	}
	if j.Status != Succeeded {
		return Job{}, &StatusError{ID: id, Status: j.Status}
	}
	if j.ResultsExpiredAt != nil {
		return j, nil
	}
	if s.cfg.Objects == nil {
		return Job{}, ErrNoObjects
	}
	for _, f := range j.Results {
		if err := s.cfg.Objects.Delete(ctx, f.Key); err != nil {
			return Job{}, fmt.Errorf("expire results of %s: %w", id, err)
		}
	}
	return s.cfg.Store.Update(ctx, account, id, []Status{Succeeded}, func(j *Job) {
		if j.ResultsExpiredAt == nil {
			now := s.now()
			j.ResultsExpiredAt = &now
			j.Results = nil
		}
	})
}

// ResultsDue returns the jobs of these accounts that finished before the
// given time and still have result files: those ExpireResults is for once
// the time is the result retention ago.
func (s *Service) ResultsDue(ctx context.Context, accounts []string, before time.Time) ([]JobRef, error) {
	return s.cfg.Store.ResultsDue(ctx, accounts, before)
}
