package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// Backend stores result objects. Implementations are safe for concurrent use.
type Backend interface {
	// Put streams r to key, replacing any object there, without holding it
	// whole in memory, and returns the bytes written. Readers see either the
	// old object or the whole new one, never a part. Returns an error
	// wrapping ErrInvalidKey for a key that is not one, and r's error when
	// reading r fails (nothing is stored then).
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (int64, error)
	// URL returns an absolute link to key that a plain GET with no
	// Authorization header can fetch until expires. It does not check that
	// the object exists. Returns an error wrapping ErrInvalidKey for a key
	// that is not one.
	URL(ctx context.Context, key string, ttl time.Duration) (url string, expires time.Time, err error)
	// Delete removes key. A key that does not exist counts as success.
	// Returns an error wrapping ErrInvalidKey for a key that is not one.
	Delete(ctx context.Context, key string) error
	// SetTags replaces the tags of an existing object. Returns an error
	// wrapping ErrNotFound when there is no object at key, and one wrapping
	// ErrInvalidKey for a key that is not one.
	SetTags(ctx context.Context, key string, tags map[string]string) error
	// Check reports whether the backend can store objects now (readiness),
	// with an error saying why not.
	Check(ctx context.Context) error
}

// PutOptions describe an object being put.
type PutOptions struct {
	// ContentType is served with the object. Defaults to
	// application/octet-stream.
	ContentType string
	// Tags are the object's tags, such as HoldTag.
	Tags map[string]string
}

// HoldTag is the tag that mirrors the overage hold of an object's job: one of
// HoldUnpaid, HoldPaid, HoldWaived or HoldNone. A read of an object tagged
// HoldUnpaid is refused.
const HoldTag = "creditrun-hold"

// The values of HoldTag.
const (
	HoldUnpaid = "unpaid"
	HoldPaid   = "paid"
	HoldWaived = "waived"
	HoldNone   = "none"
)

// Errors of a Backend.
var (
	// ErrNotFound is returned for an object that does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrInvalidKey is returned for a key that is empty, absolute, or has an
	// empty, "." or ".." segment, or a segment that starts with a dot.
	ErrInvalidKey = errors.New("invalid object key")
)
