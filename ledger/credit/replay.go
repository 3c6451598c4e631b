package credit

import (
	"fmt"
	"maps"
)

// Replayer rebuilds every pool's balance from an account's journal fed to it
// one entry at a time, oldest first, so that a journal too long to hold in
// memory replays a page at a time. A journal that starts with a checkpoint
// (its older entries trimmed) replays from the checkpoint's state.
type Replayer struct {
	pools map[string]Balance
	last  int64
}

// Add applies one entry. It returns an error, and changes nothing, when the
// entry's seq does not follow the last one's by one, when it names a pool
// before its grant, or when the pool's available balance after it disagrees
// with its AvailableAfter. A checkpoint first in the journal sets the state
// and the seq; any later one must carry the seq of the entry before it and
// state exactly what the entries before it replay to. Entries after an error
// replay against the state before it.
func (r *Replayer) Add(e Entry) error {
	if e.Type == EntryCheckpoint {
		return r.checkpoint(e)
	}
	if e.Seq != r.last+1 {
		return fmt.Errorf("replay: entry %s has seq %d after %d", e.ID, e.Seq, r.last)
	}
	b, ok := r.pools[e.Pool]
	if !ok && e.Type != EntryGrant {
		return fmt.Errorf("replay: seq %d: %s on pool %q before its grant", e.Seq, e.Type, e.Pool)
	}
	b.Counts = b.Add(e.Delta)
	if e.Type == EntryGrant || e.Type == EntryRefresh {
		b.PeriodStart, b.PeriodEnd = e.PeriodStart, e.PeriodEnd
	}
	if got := b.Available(); got != e.AvailableAfter {
		return fmt.Errorf("replay: seq %d (%s %s): available %d, entry says %d", e.Seq, e.Type, e.Pool, got, e.AvailableAfter)
	}
	if r.pools == nil {
		r.pools = make(map[string]Balance)
	}
	r.pools[e.Pool] = b
	r.last = e.Seq
	return nil
}

// checkpoint applies a checkpoint entry.
func (r *Replayer) checkpoint(e Entry) error {
	if e.Checkpoint == nil {
		return fmt.Errorf("replay: checkpoint %s carries no state", e.ID)
	}
	if r.last == 0 && len(r.pools) == 0 {
		r.pools = maps.Clone(e.Checkpoint.Pools)
		r.last = e.Seq
		return nil
	}
	if e.Seq != r.last {
		return fmt.Errorf("replay: checkpoint %s has seq %d after %d", e.ID, e.Seq, r.last)
	}
	for name, b := range r.pools {
		if c, ok := e.Checkpoint.Pools[name]; !ok || !c.Equal(b) {
			return fmt.Errorf("replay: checkpoint at seq %d: pool %q is %+v, the journal replays to %+v", e.Seq, name, c, b)
		}
	}
	for name := range e.Checkpoint.Pools {
		if _, ok := r.pools[name]; !ok {
			return fmt.Errorf("replay: checkpoint at seq %d names pool %q, which the journal has not granted", e.Seq, name)
		}
	}
	return nil
}

// Seq is the seq of the last entry applied; 0 before the first.
func (r *Replayer) Seq() int64 { return r.last }

// Pools returns the balance of every pool the entries applied name, by
// name. The map is the Replayer's own: read it, do not change it.
func (r *Replayer) Pools() map[string]Balance {
	if r.pools == nil {
		r.pools = make(map[string]Balance)
	}
	return r.pools
}
