package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/creditrun/creditrun/ledger"
	"github.com/creditrun/creditrun/ledger/credit"
)

// maxNameLen and maxReasonLen bound free text in requests.
const (
	maxNameLen   = 200
	maxReasonLen = 500
)

// createAccount is POST /v1/accounts: an account with its plans, and its
// first user key. A repeat with the same id, name and plans completes a
// creation cut short (its missing pools) and answers 201 as well; its
// api_key is null when the account's first key was issued before, so that a
// repeat never leaves a second key no one was told of.
func (s *Server) createAccount(c *call) (int, any, error) {
	var req createAccountRequest
	if err := decodeJSON(c.body, &req, false); err != nil {
		return 0, nil, err
	}
	plans, err := decodeStrings("plans", req.Plans)
	if err != nil {
		return 0, nil, err
	}
	if len(req.Name) > maxNameLen {
		return 0, nil, fieldError("name", "must be at most %d bytes", maxNameLen)
	}
	a, err := s.jobs.CreateAccount(c.r.Context(), req.ID, req.Name, plans)
	if err != nil {
		return 0, nil, err
	}
	key, err := s.firstKey(c.r.Context(), a.ID)
	if err != nil {
		return 0, nil, err
	}
	var shown *string
	if key != "" {
		shown = &key
	}
	return http.StatusCreated, map[string]any{"account": newAccountView(a), "api_key": shown}, nil
}

// changeCredits is POST /v1/accounts/{id}/credits: a top-up (amount > 0)
// or an adjustment (amount < 0), journaled with its reason.
func (s *Server) changeCredits(c *call) (int, any, error) {
	var req creditsRequest
	if err := decodeJSON(c.body, &req, false); err != nil {
		return 0, nil, err
	}
	switch {
	case req.Pool == "":
		return 0, nil, fieldError("pool", "is required")
	case credit.CheckID("pool", req.Pool) != nil:
		return 0, nil, fieldError("pool", "is not a pool name")
	case req.Amount == nil:
		return 0, nil, fieldError("amount", "is required")
	case *req.Amount == 0 || *req.Amount > credit.MaxAmount || *req.Amount < -credit.MaxAmount:
		return 0, nil, fieldError("amount", "must be a non-zero integer from %d to %d", -int64(credit.MaxAmount), int64(credit.MaxAmount))
	case len(req.Reason) > maxReasonLen:
		return 0, nil, fieldError("reason", "must be at most %d bytes", maxReasonLen)
	}
	account := c.r.PathValue("id")
	ctx := c.r.Context()
	// The change is keyed in the ledger by the request's Idempotency-Key, so
	// that a retry of a request whose answer was lost (a 503 is not kept by
	// the idempotency layer) changes nothing twice. Without one, the ledger
	// keys it afresh: its own retries are covered, the client's are not.
	opKey := ""
	if c.idemKey != "" {
		opKey = "idem_" + hashKey(c.p.KeyHash + "\x00" + c.idemKey)[:40]
	}
	var p credit.Pool
	var err error
	if *req.Amount > 0 {
		p, err = s.ledger.TopUp(ctx, account, req.Pool, *req.Amount, req.Reason, opKey)
	} else {
		p, err = s.ledger.Adjust(ctx, account, req.Pool, *req.Amount, req.Reason, opKey)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newPoolView(p), nil
}

// getAccount is GET /v1/account: the key's account, its pools and usage.
func (s *Server) getAccount(c *call) (int, any, error) {
	ctx := c.r.Context()
	a, err := s.jobs.Account(ctx, c.p.Account)
	if err != nil {
		return 0, nil, err
	}
	pools, err := s.ledger.Pools(ctx, a.ID)
	if err != nil && !errors.Is(err, credit.ErrUnknownAccount) {
		return 0, nil, err
	}
	views := make(map[string]poolView, len(pools))
	var since time.Time
	var sum int64
	for _, p := range pools {
		views[p.Name] = newPoolView(p)
		sum += max(p.Available(), 0)
		if since.IsZero() || p.PeriodStart.Before(since) {
			since = p.PeriodStart
		}
	}
	c.credits = &sum
	counts, err := s.usage(ctx, a.ID, since)
	if err != nil {
		return 0, nil, err
	}
	counts[counterRequests]++ // this request, which is counted once answered
	usage := map[string]any{"period_start": since.UTC()}
	for k, v := range counts {
		usage[k] = v
	}
	plans := a.PlanIDs
	if plans == nil {
		plans = []string{}
	}
	return http.StatusOK, map[string]any{
		"id": a.ID, "name": a.Name, "role": c.p.Role, "plan_ids": plans,
		"pools": views, "usage": usage,
	}, nil
}

// getLedger is GET /v1/account/ledger: a page of the account's journal,
// oldest first.
func (s *Server) getLedger(c *call) (int, any, error) {
	q := c.r.URL.Query()
	limit, err := limitParam(q.Get("limit"), 100, 1000)
	if err != nil {
		return 0, nil, err
	}
	pool := q.Get("pool")
	if pool != "" {
		if err := s.checkOwnPool(c, pool); err != nil {
			return 0, nil, err
		}
	}
	cur := q.Get("cursor")
	if cur != "" && !ledger.ValidCursor(cur) {
		return 0, nil, fieldError("cursor", "must be the next_cursor of an earlier page: two whole numbers joined by a dash, such as 1767225600000-0")
	}
	// A page reads a bounded stretch of the journal: with a pool it may
	// hold fewer than limit entries, or none, while next_cursor is set.
	// Checkpoints, which move no credits, are left out.
	entries, next, err := s.ledger.Journal(c.r.Context(), c.p.Account, ledger.JournalQuery{Pool: pool, Limit: limit, Cursor: cur})
	if err != nil {
		return 0, nil, err
	}
	c.pool = pool
	views := make([]entryView, 0, len(entries))
	for _, e := range entries {
		views = append(views, newEntryView(e))
	}
	return http.StatusOK, map[string]any{"entries": views, "next_cursor": cursor(next)}, nil
}

// checkOwnPool returns a *jobs.FieldError on pool, listing the account's
// pools, unless pool is one of them.
func (s *Server) checkOwnPool(c *call, pool string) error {
	pools, err := s.ledger.Pools(c.r.Context(), c.p.Account)
	if err != nil {
		return err
	}
	names := make([]string, len(pools))
	for i, p := range pools {
		names[i] = p.Name
	}
	slices.Sort(names)
	if !slices.Contains(names, pool) {
		return fieldError("pool", "%q is not a pool of this account: its pools are %s", pool, strings.Join(names, ", "))
	}
	return nil
}

// limitParam parses a page size: def when empty, else 1 to most.
func limitParam(s string, def, most int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		return 0, fieldError("limit", "must be an integer from 1 to %d", most)
	}
	return n, nil
}

// oneOf reports whether v is empty or one of vals.
func oneOf[T ~string](v T, vals ...T) bool { return v == "" || slices.Contains(vals, v) }
