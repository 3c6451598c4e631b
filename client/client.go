package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DefaultUserAgent is the User-Agent the client sends unless WithUserAgent
// says otherwise.
const DefaultUserAgent = "creditrun-go-client/1"

// Client calls the creditrun HTTP API with one API key. It is safe for
// concurrent use.
type Client struct {
	base      *url.URL
	key       string
	http      *http.Client
	userAgent string
	retry     RetryPolicy
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests, and fetch result
// files, through hc. Defaults to a client of its own on
// http.DefaultTransport, without a timeout: deadlines come from each call's
// context.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithUserAgent sets the User-Agent header. Defaults to DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithRetry sets the retry policy; fields left zero take their defaults
// (see RetryPolicy). Defaults to DefaultRetryPolicy.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) { c.retry = p }
}

// New returns a client of the API at baseURL (such as
// "https://creditrun.example.com", without /v1) that authenticates with key.
// It returns an error for a base URL that is not an absolute http or https
// URL. An empty key is allowed for the endpoints that take none.
func New(baseURL, key string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("creditrun client: base URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("creditrun client: base URL %q must be an absolute http or https URL", baseURL)
	}
	c := &Client{base: u, key: key, http: &http.Client{}, userAgent: DefaultUserAgent, retry: DefaultRetryPolicy}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	c.retry = c.retry.withDefaults()
	return c, nil
}

// request is one API call, as sent on each attempt.
type request struct {
	method string
	path   string // under the base URL, starting with /
	query  url.Values
	body   []byte // JSON, nil for none
	// idemKey is the Idempotency-Key of a POST, the same on every attempt.
	idemKey string
	// accept is the Accept header; "" is application/json.
	accept string
}

// newIdempotencyKey returns a random Idempotency-Key.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "cr_" + hex.EncodeToString(b[:])
}

// get calls GET path and decodes the JSON answer into out.
func (c *Client) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.call(ctx, request{method: http.MethodGet, path: path, query: query}, out)
}

// post calls POST path with in as its JSON body and decodes the answer into
// out. idemKey is the caller's Idempotency-Key; "" makes a random one, kept
// for every attempt of this call.
func (c *Client) post(ctx context.Context, path, idemKey string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("creditrun client: encode POST %s: %w", path, err)
	}
	if idemKey == "" {
		idemKey = newIdempotencyKey()
	}
	return c.call(ctx, request{method: http.MethodPost, path: path, body: body, idemKey: idemKey}, out)
}

// del calls DELETE path and decodes the answer into out.
func (c *Client) del(ctx context.Context, path string, out any) error {
	return c.call(ctx, request{method: http.MethodDelete, path: path}, out)
}

// call sends r, with retries, and decodes a 2xx JSON answer into out.
func (c *Client) call(ctx context.Context, r request, out any) error {
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("creditrun client: decode %s %s (request %s): %w", r.method, r.path, resp.Header.Get("X-Request-Id"), err)
	}
	return nil
}

// send sends r until it gets an answer that is not to be retried (see
// RetryPolicy), and returns a 2xx response for the caller to read and
// close. Any other status is returned as an *Error.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	var lastErr error
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, r)
		if err == nil && resp.StatusCode/100 == 2 {
			return resp, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("creditrun client: %s %s: %w", r.method, r.path, ctx.Err())
			}
			lastErr = fmt.Errorf("creditrun client: %s %s: %w", r.method, r.path, err)
			if !c.retryTransport(r) || attempt >= c.retry.MaxAttempts {
				return nil, lastErr
			}
			if err := c.retry.sleep(ctx, c.retry.backoff(attempt)); err != nil {
				return nil, fmt.Errorf("creditrun client: %s %s: %w (after %w)", r.method, r.path, err, lastErr)
			}
			continue
		}
		apiErr := readError(resp)
		if !retryStatus(resp.StatusCode) || attempt >= c.retry.MaxAttempts {
			return nil, apiErr
		}
		wait, ok := c.retry.wait(attempt, resp.Header.Get("Retry-After"))
		if !ok {
			return nil, apiErr
		}
		if err := c.retry.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("creditrun client: %s %s: %w (after %w)", r.method, r.path, err, apiErr)
		}
	}
}

// retryTransport reports whether r may be sent again after a transport
// failure, when the server may have run it: GETs, and POSTs, whose
// Idempotency-Key makes a second run answer the first one's response.
func (c *Client) retryTransport(r request) bool {
	return r.method == http.MethodGet || (r.method == http.MethodPost && r.idemKey != "")
}

// attempt sends r once.
func (c *Client) attempt(ctx context.Context, r request) (*http.Response, error) {
	u := c.url(r.path)
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if r.idemKey != "" {
		req.Header.Set("Idempotency-Key", r.idemKey)
	}
	return c.http.Do(req)
}

// url returns the absolute URL of path, which is escaped already.
func (c *Client) url(path string) string {
	return strings.TrimRight(c.base.String(), "/") + path
}

// pathEscape escapes one path segment (an id).
func pathEscape(s string) string { return url.PathEscape(s) }

// errEmptyID is returned when a call that names a resource gets an empty id.
var errEmptyID = errors.New("creditrun client: empty id")
