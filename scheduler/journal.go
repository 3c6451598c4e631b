package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/creditrun/creditrun/ledger"
)

// DefaultJournalRetention is how long journal entries are kept, unless
// JournalTrimmerConfig says otherwise: over a year, so that a year of
// statements can be rebuilt from the journal.
const DefaultJournalRetention = 400 * 24 * time.Hour

// JournalLedger is what the journal trimmer needs of the ledger.
type JournalLedger interface {
	// CheckpointAll writes a checkpoint into every account's journal, keyed
	// by key, and trims each journal to its newest checkpoint dated before
	// cut (a zero cut trims nothing). It goes on past an account that fails
	// and returns the first failure with what it did.
	CheckpointAll(ctx context.Context, key string, cut time.Time) (ledger.CheckpointStats, error)
}

var _ JournalLedger = (*ledger.Redis)(nil)

// JournalTrimmerConfig configures a JournalTrimmer.
type JournalTrimmerConfig struct {
	// Ledger is required.
	Ledger JournalLedger
	// Retention is how long journal entries are kept
	// (CREDITRUN_JOURNAL_RETENTION); 0 keeps every entry, and Trim then does
	// nothing. Not negative.
	Retention time.Duration
}

// JournalTrimmer keeps each account's journal within its retention: a run
// writes a checkpoint per account and drops the entries before the newest
// checkpoint older than the retention, so the journal still replays exactly.
type JournalTrimmer struct {
	cfg JournalTrimmerConfig
}

// NewJournalTrimmer returns a JournalTrimmer on cfg.
func NewJournalTrimmer(cfg JournalTrimmerConfig) (*JournalTrimmer, error) {
	switch {
	case cfg.Ledger == nil:
		return nil, errors.New("journal trimmer: ledger is required")
	case cfg.Retention < 0:
		return nil, fmt.Errorf("journal trimmer: retention %s must not be negative", cfg.Retention)
	}
	return &JournalTrimmer{cfg: cfg}, nil
}

// Trim checkpoints and trims every account's journal as of now, keyed by
// now's UTC day: any number of schedulers running it the same day write one
// checkpoint per account, and a run retried after a failure repeats nothing.
// It returns how many journal entries it removed.
func (j *JournalTrimmer) Trim(ctx context.Context, now time.Time) (int, error) {
	if j.cfg.Retention == 0 {
		return 0, nil
	}
	st, err := j.cfg.Ledger.CheckpointAll(ctx, now.UTC().Format("2006-01-02"), now.Add(-j.cfg.Retention))
	if err != nil {
		return int(st.Trimmed), fmt.Errorf("trim journals: %w", err)
	}
	return int(st.Trimmed), nil
}
