package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/creditrun/creditrun/events"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/webhook"
)

// Webhooks is what the API needs of webhook endpoints; *webhook.Service
// implements it.
type Webhooks interface {
	// Create registers an endpoint for an account ("" for every account)
	// and returns it with its secret. Returns an error only when Redis
	// fails.
	Create(ctx context.Context, account, url string, types []events.Type, description string) (webhook.Endpoint, string, error)
	// Get returns an endpoint. Returns webhook.ErrNotFound.
	Get(ctx context.Context, id string) (webhook.Endpoint, error)
	// List returns an account's endpoints, every endpoint for "".
	List(ctx context.Context, account string) ([]webhook.Endpoint, error)
	// Delete removes an endpoint. Returns webhook.ErrNotFound.
	Delete(ctx context.Context, id string) (webhook.Endpoint, error)
	// Deliveries returns a page of an endpoint's deliveries, newest first,
	// and the next cursor ("" at the end).
	Deliveries(ctx context.Context, endpoint string, limit int, cursor string) ([]webhook.Delivery, string, error)
	// Retry sends a delivery again with the same webhook-id. Returns
	// webhook.ErrNotFound.
	Retry(ctx context.Context, endpoint, msg string) (webhook.Delivery, error)
}

// errNoWebhooks answers the webhook routes of a server built without them.
var errNoWebhooks = errors.New("webhooks are not configured")

type webhookRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
}

// endpointView is an endpoint as the API shows it; Secret only when it is
// created.
type endpointView struct {
	ID          string        `json:"id"`
	URL         string        `json:"url"`
	Events      []events.Type `json:"events"`
	Description string        `json:"description"`
	// AccountID is null for an endpoint that hears every account.
	AccountID      *string   `json:"account_id"`
	Secret         string    `json:"secret,omitempty"`
	Status         string    `json:"status"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

func newEndpointView(e webhook.Endpoint) endpointView {
	v := endpointView{ID: e.ID, URL: e.URL, Events: e.Events, Description: e.Description, Status: e.Status,
		DisabledReason: e.DisabledReason, CreatedAt: e.CreatedAt}
	if e.Account != "" {
		a := e.Account
		v.AccountID = &a
	}
	return v
}

type deliveryView struct {
	ID             string     `json:"id"`
	Event          string     `json:"event"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

func newDeliveryView(d webhook.Delivery) deliveryView {
	v := deliveryView{ID: d.ID, Event: d.Event, Status: d.Status, Attempts: d.Attempts, CreatedAt: d.CreatedAt}
	if d.LastStatusCode != 0 {
		n := d.LastStatusCode
		v.LastStatusCode = &n
	}
	if d.LastError != "" {
		e := d.LastError
		v.LastError = &e
	}
	if !d.NextAttemptAt.IsZero() && d.Status == webhook.DeliveryPending {
		t := d.NextAttemptAt
		v.NextAttemptAt = &t
	}
	return v
}

// scope is the account whose endpoints a key sees: its own for a user key,
// "" (every endpoint) for finance and admin.
func scope(p principal) string {
	if p.Role == RoleUser {
		return p.Account
	}
	return ""
}

// createWebhook is POST /v1/webhooks.
func (s *Server) createWebhook(c *call) (int, any, error) {
	if s.cfg.Webhooks == nil {
		return 0, nil, errNoWebhooks
	}
	var req webhookRequest
	if err := decodeJSON(c.body, &req, false); err != nil {
		return 0, nil, err
	}
	if req.URL == "" {
		return 0, nil, fieldError("url", "is required: the https URL to post events to")
	}
	ctx := c.r.Context()
	if err := webhook.CheckURL(ctx, req.URL, s.cfg.WebhookAllowPrivate, nil); err != nil {
		return 0, nil, fieldError("url", "is refused: %v", err)
	}
	if len(req.Events) == 0 {
		return 0, nil, fieldError("events", "is required: one or more of %v", events.All)
	}
	types := make([]events.Type, 0, len(req.Events))
	for _, e := range req.Events {
		t := events.Type(e)
		if !t.Valid() {
			return 0, nil, fieldError("events", "must name events among %v, got %q", events.All, e)
		}
		types = append(types, t)
	}
	if len(req.Description) > 500 {
		return 0, nil, fieldError("description", "must be at most 500 characters")
	}
	ep, secret, err := s.cfg.Webhooks.Create(ctx, scope(c.p), req.URL, types, req.Description)
	if err != nil {
		return 0, nil, err
	}
	v := newEndpointView(ep)
	v.Secret = secret
	return http.StatusCreated, v, nil
}

// endpoint returns the endpoint of the path's id that the key may see.
func (s *Server) endpoint(c *call) (webhook.Endpoint, error) {
	if s.cfg.Webhooks == nil {
		return webhook.Endpoint{}, errNoWebhooks
	}
	ep, err := s.cfg.Webhooks.Get(c.r.Context(), c.r.PathValue("id"))
	if err != nil {
		return ep, err
	}
	if a := scope(c.p); a != "" && ep.Account != a {
		return webhook.Endpoint{}, webhook.ErrNotFound
	}
	return ep, nil
}

// listWebhooks is GET /v1/webhooks.
func (s *Server) listWebhooks(c *call) (int, any, error) {
	if s.cfg.Webhooks == nil {
		return 0, nil, errNoWebhooks
	}
	list, err := s.cfg.Webhooks.List(c.r.Context(), scope(c.p))
	if err != nil {
		return 0, nil, err
	}
	views := make([]endpointView, 0, len(list))
	for _, e := range list {
		views = append(views, newEndpointView(e))
	}
	return http.StatusOK, map[string]any{"webhooks": views}, nil
}

// getWebhook is GET /v1/webhooks/{id}.
func (s *Server) getWebhook(c *call) (int, any, error) {
	ep, err := s.endpoint(c)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newEndpointView(ep), nil
}

// deleteWebhook is DELETE /v1/webhooks/{id}.
func (s *Server) deleteWebhook(c *call) (int, any, error) {
	ep, err := s.endpoint(c)
	if err != nil {
		return 0, nil, err
	}
	if ep, err = s.cfg.Webhooks.Delete(c.r.Context(), ep.ID); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newEndpointView(ep), nil
}

// listDeliveries is GET /v1/webhooks/{id}/deliveries.
func (s *Server) listDeliveries(c *call) (int, any, error) {
	ep, err := s.endpoint(c)
	if err != nil {
		return 0, nil, err
	}
	q := c.r.URL.Query()
	limit, err := limitParam(q.Get("limit"), 50, 500)
	if err != nil {
		return 0, nil, err
	}
	list, next, err := s.cfg.Webhooks.Deliveries(c.r.Context(), ep.ID, limit, q.Get("cursor"))
	if err != nil {
		return 0, nil, err
	}
	views := make([]deliveryView, 0, len(list))
	for _, d := range list {
		views = append(views, newDeliveryView(d))
	}
	return http.StatusOK, map[string]any{"deliveries": views, "next_cursor": cursor(next)}, nil
}

// retryDelivery is POST /v1/webhooks/{id}/deliveries/{msg}/retry.
func (s *Server) retryDelivery(c *call) (int, any, error) {
	ep, err := s.endpoint(c)
	if err != nil {
		return 0, nil, err
	}
	d, err := s.cfg.Webhooks.Retry(c.r.Context(), ep.ID, c.r.PathValue("msg"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newDeliveryView(d), nil
}

// EventData renders the data of a job or hold event, as package webhook's
// relay sends it: a job as GET /v1/jobs/{id} shows it, without records and
// results (a receiver fetches those with the API, with fresh links), or a
// hold as GET /v1/holds lists it. hold reads a hold by id. A job or hold
// that is gone (its record expired before the relay ran) renders as
// {"id": ref}.
func EventData(ctx context.Context, svc Jobs, hold func(ctx context.Context, id string) (credit.Hold, error),
	t events.Type, account, ref string) (any, error) {
	switch t {
	case events.JobSucceeded, events.JobFailed, events.JobCanceled:
		j, err := svc.Get(ctx, account, ref)
		if errors.Is(err, jobs.ErrNotFound) {
			return map[string]string{"id": ref}, nil
		}
		if err != nil {
			return nil, err
		}
		v, _, err := (&Server{jobs: svc}).viewJob(ctx, j, jobOptions{})
		return v, err
	case events.HoldOpened, events.HoldPaid, events.HoldWaived:
		h, err := hold(ctx, ref)
		if errors.Is(err, credit.ErrHoldNotFound) {
			return map[string]string{"id": ref}, nil
		}
		if err != nil {
			return nil, err
		}
		return newHoldRow(h), nil
	}
	return nil, fmt.Errorf("event %s: no data of this type here", t)
}
