package credit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// A grant is a block of credits apart from a pool's period allocation: a
// bought pack or a promotion, with its own expiry and priority. A refresh
// never touches it. A pool spends its period allocation first, then its
// active grants in GrantLess order; a job's settlement or void gives what it
// does not spend back to the sources it took it from. At its expiry, or when
// voided, a grant's remaining credits are forfeited, except what jobs in
// flight hold from it: those stay theirs to spend, and what they give back
// is forfeited then.

// GrantStatus is where a grant is in its life.
type GrantStatus string

// The statuses of a grant. Expired and voided are final.
const (
	GrantActive  GrantStatus = "active"
	GrantExpired GrantStatus = "expired"
	GrantVoided  GrantStatus = "voided"
)

// Grant is one block of credits of one pool.
type Grant struct {
	ID      string `json:"id"`
	Account string `json:"account_id"`
	Pool    string `json:"pool"`
	// Amount is what the grant gave.
	Amount int64 `json:"amount"`
	// Remaining is Amount less what was posted from it; once the grant has
	// expired or been voided, only what jobs in flight still hold from it.
	Remaining int64 `json:"remaining"`
	// Held is what jobs in flight hold from it, part of Remaining.
	Held int64 `json:"held"`
	// ExpiresAt is when the grant expires; zero for never.
	ExpiresAt time.Time `json:"expires_at"`
	// Priority orders spending: lower first.
	Priority  int64       `json:"priority"`
	Reason    string      `json:"reason"`
	CreatedAt time.Time   `json:"created_at"`
	Status    GrantStatus `json:"status"`
	// EndedAt is when it expired or was voided; zero while active.
	EndedAt time.Time `json:"ended_at"`
}

// Available is what new reservations may still take from the grant: its
// remaining credits less what jobs hold, and 0 once it has ended.
func (g Grant) Available() int64 {
	if g.Status != GrantActive {
		return 0
	}
	return g.Remaining - g.Held
}

// GrantLess reports whether a pool spends a before b: lower priority first,
// then earliest expiry (never-expiring last), then oldest, then by id.
func GrantLess(a, b Grant) bool {
	if a.Priority != b.Priority {
		return a.Priority < b.Priority
	}
	if !a.ExpiresAt.Equal(b.ExpiresAt) {
		switch {
		case a.ExpiresAt.IsZero():
			return false
		case b.ExpiresAt.IsZero():
			return true
		}
		return a.ExpiresAt.Before(b.ExpiresAt)
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID < b.ID
}

// GrantRequest asks for a new grant.
type GrantRequest struct {
	Account string
	Pool    string
	// ID names the grant: adding the same id again returns the first grant,
	// and changes nothing. NewGrantID and GrantIDFor make one.
	ID     string
	Amount int64
	// ExpiresAt is when it expires; zero for never. It must be after now.
	ExpiresAt time.Time
	Priority  int64
	Reason    string
}

// MaxGrantPriority bounds a grant's priority either way.
const MaxGrantPriority = 1_000_000

// MaxReasonLen bounds a grant's reason, in bytes.
const MaxReasonLen = 500

// Check returns an error wrapping ErrInvalidID or ErrInvalidAmount when the
// request cannot be a grant.
func (r GrantRequest) Check(now time.Time) error {
	for _, id := range [][2]string{{"account", r.Account}, {"pool", r.Pool}, {"grant", r.ID}} {
		if err := CheckID(id[0], id[1]); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(r.ID, "grant_") {
		return fmt.Errorf("grant id %q does not start with grant_: %w", r.ID, ErrInvalidID)
	}
	if err := CheckAmount("amount", r.Amount); err != nil {
		return err
	}
	if r.Priority < -MaxGrantPriority || r.Priority > MaxGrantPriority {
		return fmt.Errorf("priority must be from %d to %d, got %d: %w", -MaxGrantPriority, MaxGrantPriority, r.Priority, ErrInvalidAmount)
	}
	if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now) {
		return fmt.Errorf("expires_at %s is not in the future: %w", r.ExpiresAt.UTC().Format(time.RFC3339), ErrInvalidAmount)
	}
	if len(r.Reason) > MaxReasonLen {
		return fmt.Errorf("reason is longer than %d bytes: %w", MaxReasonLen, ErrInvalidAmount)
	}
	return nil
}

// NewGrantID returns a new, random grant id.
func NewGrantID() string { return "grant_" + strings.ToLower(ulid.Make().String()) }

// GrantIDFor returns the grant id that an account's request under an
// idempotency key makes, so that a retry of the request adds nothing twice.
func GrantIDFor(account, key string) string {
	sum := sha256.Sum256([]byte(account + "\x00" + key))
	return "grant_k" + hex.EncodeToString(sum[:12])
}

var (
	// ErrGrantNotFound is returned for an unknown grant id.
	ErrGrantNotFound = errors.New("grant not found")
	// ErrGrantConflict is returned when a grant id that exists is added
	// again with other terms. Nothing changes.
	ErrGrantConflict = errors.New("grant id already used with other terms")
)

// GrantDelta is a journal entry's change to one grant.
type GrantDelta struct {
	Remaining int64
	Held      int64
}
