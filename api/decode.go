package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// bodyField is the details.field of an error about the body as a whole:
// malformed JSON, an empty body, or more than one value.
const bodyField = "body"

// contentTypeField is the details.field of a body sent without
// Content-Type: application/json. API.md's table has no 415, so it is a 400.
const contentTypeField = "Content-Type"

func fieldError(field, format string, args ...any) *jobs.FieldError {
	return &jobs.FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// readBody reads a request body up to limit bytes. It returns an
// *http.MaxBytesError past the limit (413), and a *jobs.FieldError for a body
// that is not declared JSON. An empty body is allowed with any content type.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if me, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, me
		}
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return body, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, fieldError(contentTypeField, "must be application/json")
	}
	return body, nil
}

// decodeJSON decodes body into v: exactly one JSON value, no unknown fields.
// Every failure is a *jobs.FieldError that names the JSON path of the bad
// field, or "body" when the body as a whole is wrong. An empty body decodes
// as {} when emptyOK.
func decodeJSON(body []byte, v any, emptyOK bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil
		}
		return fieldError(bodyField, "is empty: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, v)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fieldError(bodyField, "must hold exactly one JSON value")
	}
	return nil
}

// jsonError turns an encoding/json error of decoding into v into a
// *jobs.FieldError.
func jsonError(err error, v any) *jobs.FieldError {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fieldError(bodyField, "is not valid JSON at byte %d: %v", se.Offset, se)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := te.Field
		if field == "" {
			field = bodyField
		}
		return fieldError(field, "must be %s, got %s", expected(v, field, te.Type), gotJSON(te.Value))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name, _ = strconv.Unquote(name); name == "" {
			return fieldError(bodyField, "holds a field with an empty name")
		}
		return fieldError(name, "is not a field of this request")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fieldError(bodyField, "ends before its JSON value does")
	}
	return fieldError(bodyField, "is not valid JSON: %v", err)
}

// expected says what the field of a request body (v, a pointer to one of
// the request types below) must be: its JSON type, and its range or values
// where it has them. A field it does not know is described by its Go type t.
func expected(v any, field string, t reflect.Type) string {
	switch field {
	case "num_records":
		limit := jobs.DefaultLimits.MaxSearchRecords
		if _, ok := v.(*downloadRequest); ok {
			limit = jobs.DefaultLimits.MaxDownloadRecords
		}
		return fmt.Sprintf("an integer from 1 to %d", limit)
	case "amount":
		if _, ok := v.(*grantRequest); ok {
			return grantAmountRange
		}
		return fmt.Sprintf("a non-zero integer from %d to %d", -int64(credit.MaxAmount), int64(credit.MaxAmount))
	case "priority":
		return grantPriorityRange
	case "data_type":
		return "a string, the name of a data type"
	case "query":
		return "a string, a query such as city:Austin (empty for every record)"
	case "format":
		return "a string: csv, json or jsonl"
	case "on_insufficient":
		return "a string: reject, partial or overage"
	case "match_on":
		return "an array of strings, the item fields to match records on"
	case "items":
		return "an array of objects"
	case "plans":
		return "an array of strings, plan ids"
	case "id":
		return "a string matching [a-z0-9_-]{1,64}"
	case "role":
		return "a string: user (an account's key), finance or admin"
	case "expires_at":
		return "an RFC 3339 time as a string, or null for never"
	case "pool":
		return "a string, the name of one of the account's pools"
	case "name", "reason", "payment_ref":
		return "a string"
	}
	return describe(t)
}

// gotJSON names the JSON value encoding/json reports in an
// UnmarshalTypeError ("string", "number 1.5", "bool", …) as a sentence
// reads it: "a string", "1.5", "true or false".
func gotJSON(value string) string {
	if n, ok := strings.CutPrefix(value, "number "); ok {
		return n
	}
	switch value {
	case "string", "number":
		return "a " + value
	case "bool":
		return "true or false"
	case "array", "object":
		return "an " + value
	}
	return value
}

// describe names a Go type as a JSON client knows it.
func describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

// decodeStrings decodes the elements of the array at field, naming a bad
// element by its index (match_on.1).
func decodeStrings(field string, raws []json.RawMessage) ([]string, error) {
	if raws == nil {
		return nil, nil
	}
	out := make([]string, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &out[i]); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return nil, fieldError(field+"."+strconv.Itoa(i), "must be a string")
		}
	}
	return out, nil
}

// decodeItems decodes an enrichment's items, naming a bad one by its index
// (items.3). A null item stays nil for the jobs package to refuse.
func decodeItems(raws []json.RawMessage) ([]map[string]any, error) {
	if raws == nil {
		return nil, nil
	}
	out := make([]map[string]any, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			return nil, fieldError("items."+strconv.Itoa(i), "must be an object")
		}
	}
	return out, nil
}

// searchRequest is the body of POST /v1/searches.
type searchRequest struct {
	DataType       string `json:"data_type"`
	Query          string `json:"query"`
	NumRecords     *int64 `json:"num_records"`
	OnInsufficient string `json:"on_insufficient"`
}

// downloadRequest is the body of POST /v1/downloads.
type downloadRequest struct {
	DataType       string `json:"data_type"`
	Query          string `json:"query"`
	NumRecords     *int64 `json:"num_records"`
	Format         string `json:"format"`
	OnInsufficient string `json:"on_insufficient"`
}

// enrichmentRequest is the body of POST /v1/enrichments.
type enrichmentRequest struct {
	DataType       string            `json:"data_type"`
	MatchOn        []json.RawMessage `json:"match_on"`
	Items          []json.RawMessage `json:"items"`
	Format         string            `json:"format"`
	OnInsufficient string            `json:"on_insufficient"`
}

// decodeSpec decodes the body of a job submit into a spec of kind. The spec
// is not normalized: the service does that, and names a bad value.
func decodeSpec(kind jobs.Kind, body []byte) (jobs.Spec, error) {
	spec := jobs.Spec{Kind: kind}
	switch kind {
	case jobs.Search:
		var req searchRequest
		if err := decodeJSON(body, &req, false); err != nil {
			return spec, err
		}
		if req.NumRecords == nil {
			return spec, fieldError("num_records", "is required")
		}
		spec.DataType, spec.Query, spec.NumRecords = req.DataType, req.Query, *req.NumRecords
		spec.OnInsufficient = credit.Policy(req.OnInsufficient)
	case jobs.Download:
		var req downloadRequest
		if err := decodeJSON(body, &req, false); err != nil {
			return spec, err
		}
		if req.NumRecords == nil {
			return spec, fieldError("num_records", "is required")
		}
		spec.DataType, spec.Query, spec.NumRecords = req.DataType, req.Query, *req.NumRecords
		spec.Format, spec.OnInsufficient = jobs.Format(req.Format), credit.Policy(req.OnInsufficient)
	case jobs.Enrichment:
		var req enrichmentRequest
		if err := decodeJSON(body, &req, false); err != nil {
			return spec, err
		}
		matchOn, err := decodeStrings("match_on", req.MatchOn)
		if err != nil {
			return spec, err
		}
		items, err := decodeItems(req.Items)
		if err != nil {
			return spec, err
		}
		spec.DataType, spec.MatchOn, spec.Items = req.DataType, matchOn, items
		spec.Format, spec.OnInsufficient = jobs.Format(req.Format), credit.Policy(req.OnInsufficient)
	}
	return spec, nil
}

// createAccountRequest is the body of POST /v1/accounts.
type createAccountRequest struct {
	ID    string            `json:"id"`
	Name  string            `json:"name"`
	Plans []json.RawMessage `json:"plans"`
}

// keyRequest is the body of POST /v1/keys and POST /v1/accounts/{id}/keys.
type keyRequest struct {
	Role string `json:"role"`
	// ExpiresAt is an RFC 3339 time, or null (or absent) for never.
	ExpiresAt *string `json:"expires_at"`
}

// creditsRequest is the body of POST /v1/accounts/{id}/credits.
type creditsRequest struct {
	Pool   string `json:"pool"`
	Amount *int64 `json:"amount"`
	Reason string `json:"reason"`
}
