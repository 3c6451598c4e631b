package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
	"github.com/creditrun/creditrun/webhook"
)

// The error codes of API.md.
const (
	codeInvalidRequest      = "invalid_request"
	codeUnauthorized        = "unauthorized"
	codeForbidden           = "forbidden"
	codeNotFound            = "not_found"
	codeConflict            = "conflict"
	codeIdempotencyConflict = "idempotency_conflict"
	codePayloadTooLarge     = "payload_too_large"
	codeInsufficientCredits = "insufficient_credits"
	codeOverageUnpaid       = "overage_unpaid"
	codeRateLimited         = "rate_limited"
	codeMethodNotAllowed    = "method_not_allowed"
	codeUnavailable         = "unavailable"
)

// Errors of the API itself; each has its row in the table below.
var (
	// errUnauthorized is returned for a request without a key or with an
	// unknown one.
	errUnauthorized = errors.New("unauthorized")
	// errForbidden is returned when the key's role may not call the endpoint.
	errForbidden = errors.New("forbidden")
	// errRouteNotFound is returned for a path no route serves.
	errRouteNotFound = errors.New("no such endpoint")
	// errIdempotencyConflict is returned when an Idempotency-Key comes back
	// with another body, or while its first request is still running.
	errIdempotencyConflict = errors.New("idempotency conflict")
	// errRateLimited is returned when the key is over its rate.
	errRateLimited = errors.New("rate limited")
	// errNotSucceeded is returned by GET /v1/jobs/{id}/results for a job that
	// has not succeeded (yet).
	errNotSucceeded = errors.New("job has not succeeded")
)

// forbiddenError is returned when the key's role may not call the endpoint:
// it says which roles may. It wraps errForbidden.
type forbiddenError struct {
	need []Role
	have Role
}

func (e *forbiddenError) Error() string { return "forbidden: " + e.Message() }

func (e *forbiddenError) Unwrap() error { return errForbidden }

// Message is the sentence the client reads: "This route needs a user key;
// this key is finance."
func (e *forbiddenError) Message() string {
	names := make([]string, len(e.need))
	for i, r := range e.need {
		names[i] = string(r)
	}
	need := strings.Join(names, " or ")
	if n := len(names); n > 2 {
		need = strings.Join(names[:n-1], ", ") + " or " + names[n-1]
	}
	return fmt.Sprintf("This route needs %s %s key; this key is %s.", article(need), need, e.have)
}

// article is "a" or "an" before a role's name: "an admin", "a user".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeio", rune(word[0])) {
		return "an"
	}
	return "a"
}

// unpaidError is returned for the results of a job whose overage hold is
// unpaid.
type unpaidError struct{ hold credit.Hold }

func (e *unpaidError) Error() string { return "overage hold " + e.hold.ID + " is unpaid" }

// apiError is an error as the client reads it.
type apiError struct {
	Status  int            `json:"-"`
	Code    string         `json:"error"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// codes is THE table from domain errors to status, code and message: the
// first row whose error matches (errors.Is) answers. Handlers never choose a
// status for an error themselves. Field names the request field a 400 is
// about (details.field). Errors that carry their own data (*jobs.FieldError,
// *credit.InsufficientError, *http.MaxBytesError, *unpaidError) are mapped by
// toAPIError before this table.
var codes = []struct {
	err     error
	status  int
	code    string
	field   string
	message string
}{
	{errUnauthorized, http.StatusUnauthorized, codeUnauthorized, "", "A valid API key is required: Authorization: Bearer <key>."},
	{errForbidden, http.StatusForbidden, codeForbidden, "", "This key's role may not do this."},
	{errRouteNotFound, http.StatusNotFound, codeNotFound, "", "No such endpoint."},
	{jobs.ErrNotFound, http.StatusNotFound, codeNotFound, "", "Not found."},
	{credit.ErrUnknownAccount, http.StatusNotFound, codeNotFound, "", "Not found."},
	{credit.ErrInvalidID, http.StatusNotFound, codeNotFound, "", "Not found."},
	{credit.ErrHoldNotFound, http.StatusNotFound, codeNotFound, "", "Not found."},
	{credit.ErrGrantNotFound, http.StatusNotFound, codeNotFound, "", "Not found."},
	{webhook.ErrNotFound, http.StatusNotFound, codeNotFound, "", "Not found."},
	{errNoWebhooks, http.StatusNotFound, codeNotFound, "", "This server has no webhooks."},
	{jobs.ErrEnded, http.StatusConflict, codeConflict, "", "The job has ended already."},
	{credit.ErrHoldConflict, http.StatusConflict, codeConflict, "", "The hold is closed otherwise: a waived hold cannot be paid, nor a paid hold waived."},
	{errNotSucceeded, http.StatusConflict, codeConflict, "", "The job has no results: it has not succeeded."},
	{jobs.ErrAccountExists, http.StatusConflict, codeConflict, "id", "An account with this id exists already."},
	{errIdempotencyConflict, http.StatusConflict, codeIdempotencyConflict, "", "This Idempotency-Key was used with a different request, or its first request is still running."},
	{credit.ErrKeyConflict, http.StatusConflict, codeIdempotencyConflict, "", "This Idempotency-Key was used with a different request, or its first request is still running."},
	{credit.ErrGrantConflict, http.StatusConflict, codeIdempotencyConflict, "", "This Idempotency-Key was used for a grant with other terms."},
	{jobs.ErrNotInPlan, http.StatusBadRequest, codeInvalidRequest, "data_type", "None of the account's plans covers this data type and operation."},
	{credit.ErrOverageDisabled, http.StatusBadRequest, codeInvalidRequest, "on_insufficient", "Overage is not enabled on this pool."},
	{credit.ErrInvalidPolicy, http.StatusBadRequest, codeInvalidRequest, "on_insufficient", "on_insufficient must be reject, partial or overage."},
	{jobs.ErrInvalidCursor, http.StatusBadRequest, codeInvalidRequest, "cursor", "cursor is not a cursor of this listing."},
	{credit.ErrInvalidCursor, http.StatusBadRequest, codeInvalidRequest, "cursor", "cursor is not a cursor of this listing."},
	{webhook.ErrInvalidCursor, http.StatusBadRequest, codeInvalidRequest, "cursor", "cursor is not a cursor of this listing."},
	{credit.ErrInvalidStatus, http.StatusBadRequest, codeInvalidRequest, "status", "status must be unpaid, paid or waived."},
	{credit.ErrUnknownPool, http.StatusBadRequest, codeInvalidRequest, "pool", "The account has no such pool."},
	{credit.ErrInvalidAmount, http.StatusBadRequest, codeInvalidRequest, "amount", "amount is out of range."},
	{jobs.ErrNoSource, http.StatusServiceUnavailable, codeUnavailable, "", "This API process has no dataset to count or match records in, which quotes need (CREDITRUN_DATASET)."},
	{errRateLimited, http.StatusTooManyRequests, codeRateLimited, "", "Too many requests for this key: slow down and retry after Retry-After seconds."},
}

// toAPIError maps any error to what the client reads. An error the table does
// not know is an infrastructure failure: 503, and nothing stays reserved:
// the submit released what it took, or the reaper does.
func toAPIError(err error) *apiError {
	if fe, ok := errors.AsType[*jobs.FieldError](err); ok {
		return &apiError{http.StatusBadRequest, codeInvalidRequest, fe.Field + " " + fe.Message,
			map[string]any{"field": fe.Field}}
	}
	if ie, ok := errors.AsType[*credit.InsufficientError](err); ok {
		return &apiError{http.StatusPaymentRequired, codeInsufficientCredits, ie.Error(),
			map[string]any{"pool": ie.Pool, "required": ie.Required, "available": ie.Available}}
	}
	if ue, ok := errors.AsType[*unpaidError](err); ok {
		return &apiError{http.StatusPaymentRequired, codeOverageUnpaid,
			fmt.Sprintf("The results are held until overage hold %s is paid: %d credits, %d cents due.", ue.hold.ID, ue.hold.OverageCredits, ue.hold.AmountDueCents),
			map[string]any{"hold_id": ue.hold.ID, "overage_credits": ue.hold.OverageCredits, "amount_due_cents": ue.hold.AmountDueCents}}
	}
	if fe, ok := errors.AsType[*forbiddenError](err); ok {
		return &apiError{http.StatusForbidden, codeForbidden, fe.Message(), map[string]any{}}
	}
	if me, ok := errors.AsType[*methodNotAllowedError](err); ok {
		return &apiError{http.StatusMethodNotAllowed, codeMethodNotAllowed, me.Message(), map[string]any{"allow": me.allow}}
	}
	if me, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &apiError{http.StatusRequestEntityTooLarge, codePayloadTooLarge,
			fmt.Sprintf("The request body is over the limit of %d bytes.", me.Limit), map[string]any{}}
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			d := map[string]any{}
			if c.field != "" {
				d["field"] = c.field
			}
			return &apiError{c.status, c.code, c.message, d}
		}
	}
	return &apiError{http.StatusServiceUnavailable, codeUnavailable,
		"A backing service (Redis or storage) is unreachable; nothing stays reserved. Retry later.", map[string]any{}}
}
