package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// The error codes the API answers, in Error.Code.
const (
	CodeInvalidRequest      = "invalid_request"
	CodeUnauthorized        = "unauthorized"
	CodeForbidden           = "forbidden"
	CodeNotFound            = "not_found"
	CodeConflict            = "conflict"
	CodeIdempotencyConflict = "idempotency_conflict"
	CodePayloadTooLarge     = "payload_too_large"
	CodeInsufficientCredits = "insufficient_credits"
	CodeOverageUnpaid       = "overage_unpaid"
	CodeRateLimited         = "rate_limited"
	CodeUnavailable         = "unavailable"
)

// Error is an answer of the API that is not a success:
// {"error": code, "message": sentence, "details": {…}}. Get it with
// errors.As (or errors.AsType[*client.Error]). An answer that is not of
// that shape (a proxy's page) has an empty Code and the start of its body
// as Message.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Code is the API's error code, one of the Code constants.
	Code string
	// Message is the API's sentence about it.
	Message string
	// Details holds what the code carries: "field" for invalid_request;
	// "pool", "required", "available" for insufficient_credits; "hold_id",
	// "overage_credits", "amount_due_cents" for overage_unpaid. Numbers
	// are json.Number.
	Details map[string]any
	// RequestID is the answer's X-Request-Id, for support.
	RequestID string
}

// Error returns the status, code and message, and the request id.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "creditrun: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request " + e.RequestID + ")")
	}
	return b.String()
}

// Field is the request field a 400 invalid_request is about (details.field),
// "" when it names none.
func (e *Error) Field() string { return e.str("field") }

// Pool is the pool of a 402 insufficient_credits.
func (e *Error) Pool() string { return e.str("pool") }

// Required is the credits a 402 insufficient_credits needed; 0 for any other
// error.
func (e *Error) Required() int64 { return e.num("required") }

// Available is the most credits the request of a 402 insufficient_credits
// could have reserved (prepaid available, plus overage headroom when the
// policy is overage); 0 for any other error.
func (e *Error) Available() int64 { return e.num("available") }

// HoldID is the unpaid overage hold of a 402 overage_unpaid.
func (e *Error) HoldID() string { return e.str("hold_id") }

// OverageCredits is the overage credits of the hold of a 402
// overage_unpaid.
func (e *Error) OverageCredits() int64 { return e.num("overage_credits") }

// AmountDueCents is what the hold of a 402 overage_unpaid asks, in cents.
func (e *Error) AmountDueCents() int64 { return e.num("amount_due_cents") }

func (e *Error) str(k string) string {
	s, _ := e.Details[k].(string)
	return s
}

func (e *Error) num(k string) int64 {
	switch v := e.Details[k].(type) {
	case json.Number:
		n, _ := v.Int64()
		return n
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	}
	return 0
}

// IsCode reports whether err is, or wraps, an *Error with this code.
func IsCode(err error, code string) bool {
	e, ok := errors.AsType[*Error](err)
	return ok && e.Code == code
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 64 << 10

// readError reads a non-2xx answer into an *Error and closes its body.
func readError(resp *http.Response) *Error {
	defer resp.Body.Close()
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id"), Details: map[string]any{}}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var wire struct {
		Code    string         `json:"error"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&wire); err == nil && wire.Code != "" {
		e.Code, e.Message = wire.Code, wire.Message
		if wire.Details != nil {
			e.Details = wire.Details
		}
		return e
	}
	e.Message = strings.TrimSpace(string(body))
	if len(e.Message) > 200 {
		e.Message = e.Message[:200] + "…"
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}
