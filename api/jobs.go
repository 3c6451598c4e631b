package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// submit is POST /v1/searches, /v1/downloads and /v1/enrichments: decode the
// body into a spec of kind, and submit it. 202 with the queued job and the
// meta of its reservation.
func (s *Server) submit(kind jobs.Kind) handler {
	counter := map[jobs.Kind]string{jobs.Search: counterSearches, jobs.Download: counterDownloads, jobs.Enrichment: counterEnrichments}[kind]
	return func(c *call) (int, any, error) {
		ctx := c.r.Context()
		spec, err := decodeSpec(kind, c.body)
		if err == nil {
			err = s.checkSpec(spec)
		}
		var j jobs.Job
		if err == nil {
			j, err = s.submitAs(ctx, c, spec)
		}
		if err != nil {
			return 0, nil, err // render checks a deferred key first
		}
		c.counters = append(c.counters, counter)
		remaining := j.Meta.CreditsRemaining
		c.credits = &remaining
		v, _, err := s.viewJob(ctx, j, jobOptions{})
		if err != nil {
			return 0, nil, err
		}
		return http.StatusAccepted, map[string]any{"job": v, "meta": newMetaView(j)}, nil
	}
}

// submitAs submits spec for c's principal. A principal whose key check was
// deferred submits on the condition that its key is still its account's;
// when it is not, the key is checked again (a revoked key is refused with
// nothing reserved) and the submit runs once more, checked.
func (s *Server) submitAs(ctx context.Context, c *call, spec jobs.Spec) (jobs.Job, error) {
	if !c.p.deferred {
		return s.jobs.Submit(ctx, c.p.Account, spec)
	}
	j, err := s.jobs.SubmitIf(ctx, c.p.Account, spec, s.deferredKey(c.p))
	if !errors.Is(err, credit.ErrConditionFailed) {
		return j, err
	}
	p, err := s.recheck(ctx, c.p)
	if err != nil {
		c.p = principal{} // refused: nothing of the account is told
		return jobs.Job{}, err
	}
	c.p = p // checked now: a refusal below is told as it is
	return s.jobs.Submit(ctx, c.p.Account, spec)
}

// checkSpec checks what the API knows of the dataset before the jobs
// service sees a spec: its data type among the dataset's (Config.DataTypes),
// and the fields its query names among the data type's, so that a query on
// a field the records lack is refused rather than reserving credits to find
// nothing.
func (s *Server) checkSpec(spec jobs.Spec) error {
	if s.cfg.DataTypes != nil {
		if err := jobs.CheckDataType(spec.DataType, s.cfg.DataTypes); err != nil {
			return err
		}
	}
	if spec.Kind == jobs.Enrichment || spec.DataType == "" {
		return nil
	}
	fields, err := s.jobs.QueryFields(spec.DataType)
	if err != nil {
		return err
	}
	return jobs.CheckQueryFields(spec, fields)
}

// getJob is GET /v1/jobs/{id}: the job, with its results when it succeeded
// and is not held.
func (s *Server) getJob(c *call) (int, any, error) {
	ctx := c.r.Context()
	j, err := s.jobs.Get(ctx, c.p.Account, c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	c.pool = j.Pool
	v, _, err := s.viewJob(ctx, j, jobOptions{results: true})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, v, nil
}

// getResults is GET /v1/jobs/{id}/results: the result links (and a
// search's records), 402 overage_unpaid while the job's hold is unpaid, 409
// conflict while the job has not succeeded.
func (s *Server) getResults(c *call) (int, any, error) {
	ctx := c.r.Context()
	j, err := s.jobs.Get(ctx, c.p.Account, c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	c.pool = j.Pool
	v, hold, err := s.viewJob(ctx, j, jobOptions{results: true})
	switch {
	case err != nil:
		return 0, nil, err
	case held(hold):
		return 0, nil, &unpaidError{hold: *hold}
	case j.Status != jobs.Succeeded:
		return 0, nil, errNotSucceeded
	}
	out := map[string]any{"results": v.Results}
	if v.Results == nil {
		out["results"] = []resultView{}
	}
	if j.Kind == jobs.Search {
		out["records"] = v.Records
	}
	if v.ResultsExpiredAt != nil {
		out["results_expired_at"] = v.ResultsExpiredAt
	}
	return http.StatusOK, out, nil
}

// listJobs is GET /v1/jobs: a page of the account's jobs, newest first.
// Listed jobs show their hold but not their results: GET /v1/jobs/{id}
// has those.
func (s *Server) listJobs(c *call) (int, any, error) {
	q := c.r.URL.Query()
	f := jobs.ListFilter{Status: jobs.Status(q.Get("status")), Kind: jobs.Kind(q.Get("kind")), Cursor: q.Get("cursor")}
	if !oneOf(f.Status, jobs.Queued, jobs.Running, jobs.Succeeded, jobs.Failed, jobs.Canceled) {
		return 0, nil, fieldError("status", "must be queued, running, succeeded, failed or canceled")
	}
	if !oneOf(f.Kind, jobs.Search, jobs.Download, jobs.Enrichment) {
		return 0, nil, fieldError("kind", "must be search, download or enrichment")
	}
	var err error
	if f.Limit, err = limitParam(q.Get("limit"), 50, 500); err != nil {
		return 0, nil, err
	}
	ctx := c.r.Context()
	list, next, err := s.jobs.List(ctx, c.p.Account, f)
	if err != nil {
		return 0, nil, err
	}
	views := make([]jobView, 0, len(list))
	for _, j := range list {
		v, _, err := s.viewJob(ctx, j, jobOptions{})
		if err != nil {
			return 0, nil, err
		}
		views = append(views, v)
	}
	return http.StatusOK, map[string]any{"jobs": views, "next_cursor": cursor(next)}, nil
}

// cancelJob is DELETE /v1/jobs/{id}: cancel a queued or running job and
// void its reservation; 409 conflict when it had ended.
func (s *Server) cancelJob(c *call) (int, any, error) {
	ctx := c.r.Context()
	j, err := s.jobs.Cancel(ctx, c.p.Account, c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	c.pool = j.Pool
	v, _, err := s.viewJob(ctx, j, jobOptions{})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, v, nil
}
