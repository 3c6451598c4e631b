package embedredis

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// DefaultSaveEvery is how often a persistent store is saved while it runs,
// when Options.SaveEvery is zero.
const DefaultSaveEvery = 10 * time.Second

// Options configure Open.
type Options struct {
	// File is where the store is kept: loaded by Open when it exists, and
	// written on each save (a temporary file renamed into place, mode
	// 0600). Required.
	File string
	// SaveEvery is how often the store is saved while it runs, besides
	// at Close. Defaults to DefaultSaveEvery.
	SaveEvery time.Duration
	// Logger receives a warning when a periodic save fails. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

// Store is a miniredis whose contents outlive the process: Open loads them
// from a file, and Close (and a timer, while it runs) saves them there.
// Only database 0 is kept, with the strings, hashes, lists, sets, sorted
// sets and streams in it and the keys' expiries; stream consumer groups
// and other types are not (Save fails on a key of another type).
type Store struct {
	*miniredis.Miniredis
	file   string
	log    *slog.Logger
	client *redis.Client
	stop   context.CancelFunc
	done   chan struct{}
	// mu serializes saves: the timer's and Close's.
	mu     sync.Mutex
	closed bool
}

// Open loads opts.File when it exists into a new miniredis, starts it on a
// loopback port with its clock moved on with the wall clock (as Start), and
// saves it every opts.SaveEvery until Close. A file that does not decode is
// an error: Open never starts on an empty store over one it cannot read.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.File == "" {
		return nil, errors.New("embedded redis: no file to keep the store in")
	}
	if opts.SaveEvery <= 0 {
		opts.SaveEvery = DefaultSaveEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := miniredis.NewMiniRedis()
	m.SetTime(time.Now())
	if err := load(m, opts.File, time.Now()); err != nil {
		return nil, err
	}
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	ctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s := &Store{Miniredis: m, file: opts.File, log: opts.Logger, stop: stop, done: make(chan struct{}),
		client: redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})}
	go runClock(ctx, m)
	go func() {
		defer close(s.done)
		t := time.NewTicker(opts.SaveEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.Save(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("embedded redis: save", "file", s.file, "err", err)
				}
			}
		}
	}()
	return s, nil
}

// Close stops the timer, saves the store a last time and stops miniredis.
// It returns the error of that save; the store is stopped either way.
// Call it once every client is done writing, so that the save holds their
// last writes.
func (s *Store) Close() error {
	s.stop()
	<-s.done
	err := s.Save(context.Background())
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.client.Close()
	s.Miniredis.Close()
	return err
}

// snapshotScript reads every key of the database in one script, so that
// the snapshot is one moment of the store: no write lands half-way through
// it. -> {{key, type, pttl, values}, …}: values as GET (one string),
// HGETALL, LRANGE, SMEMBERS, ZRANGE WITHSCORES, or for a stream
// {id, {field, value, …}, …}.
const snapshotScript = `
local out = {}
for _, k in ipairs(redis.call('KEYS', '*')) do
  local t = redis.call('TYPE', k)
  if type(t) == 'table' then t = t['ok'] end
  local v
  if t == 'string' then v = {redis.call('GET', k)}
  elseif t == 'hash' then v = redis.call('HGETALL', k)
  elseif t == 'list' then v = redis.call('LRANGE', k, 0, -1)
  elseif t == 'set' then v = redis.call('SMEMBERS', k)
  elseif t == 'zset' then v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
  elseif t == 'stream' then
    v = {}
    for _, e in ipairs(redis.call('XRANGE', k, '-', '+')) do
      table.insert(v, e[1])
      table.insert(v, e[2])
    end
  else
    return redis.error_reply('cannot save key ' .. k .. ' of type ' .. t)
  end
  table.insert(out, {k, t, redis.call('PTTL', k), v})
end
return out
`

// snapshot is what the file holds.
type snapshot struct {
	// SavedAt is when the snapshot was taken: a key's TTL runs on from
	// there when it is loaded.
	SavedAt time.Time
	Keys    []savedKey
}

// savedKey is one key: Values as the snapshot script reads them, flat
// (a stream's entries as id, then its fields and values in Fields).
type savedKey struct {
	Key    string
	Type   string
	TTL    time.Duration // 0: none
	Values []string
	// Fields are a stream's entries' fields and values, one slice per
	// entry, beside its id in Values.
	Fields [][]string
}

// Save writes the store to its file: a snapshot read in one script, written
// to a temporary file, synced and renamed into place (mode 0600: the store
// holds key hashes and secrets).
func (s *Store) Save(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("embedded redis: closed")
	}
	now := time.Now()
	res, err := s.client.Eval(ctx, snapshotScript, nil).Slice()
	if err != nil {
		return fmt.Errorf("embedded redis: snapshot: %w", err)
	}
	snap := snapshot{SavedAt: now, Keys: make([]savedKey, 0, len(res))}
	for _, r := range res {
		k, err := decodeKey(r)
		if err != nil {
			return fmt.Errorf("embedded redis: snapshot: %w", err)
		}
		snap.Keys = append(snap.Keys, k)
	}
	return writeFile(s.file, snap)
}

// decodeKey is one row of the snapshot script's answer.
func decodeKey(r any) (savedKey, error) {
	row, ok := r.([]any)
	if !ok || len(row) != 4 {
		return savedKey{}, fmt.Errorf("unexpected row %v", r)
	}
	k := savedKey{}
	k.Key, _ = row[0].(string)
	k.Type, _ = row[1].(string)
	if pttl, ok := row[2].(int64); ok && pttl > 0 {
		k.TTL = time.Duration(pttl) * time.Millisecond
	}
	vals, ok := row[3].([]any)
	if !ok {
		return savedKey{}, fmt.Errorf("key %q: unexpected values %v", k.Key, row[3])
	}
	for i, v := range vals {
		if k.Type == "stream" && i%2 == 1 {
			fv, ok := v.([]any)
			if !ok {
				return savedKey{}, fmt.Errorf("stream %q: unexpected entry %v", k.Key, v)
			}
			fields := make([]string, len(fv))
			for j, f := range fv {
				fields[j], _ = f.(string)
			}
			k.Fields = append(k.Fields, fields)
			continue
		}
		str, ok := v.(string)
		if !ok {
			return savedKey{}, fmt.Errorf("key %q: unexpected value %v", k.Key, v)
		}
		k.Values = append(k.Values, str)
	}
	return k, nil
}

func writeFile(path string, snap snapshot) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("embedded redis: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("embedded redis: %w", err)
	}
	defer os.Remove(f.Name()) // after the rename, nothing to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("embedded redis: %w", err)
	}
	if err := gob.NewEncoder(f).Encode(snap); err != nil {
		f.Close()
		return fmt.Errorf("embedded redis: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("embedded redis: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("embedded redis: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("embedded redis: %w", err)
	}
	return nil
}

// load puts the snapshot in path into m, a miniredis not yet started. No
// file is an empty store. A key whose TTL ran out since the save (now) is
// left out.
func load(m *miniredis.Miniredis, path string, now time.Time) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("embedded redis: %w", err)
	}
	defer f.Close()
	var snap snapshot
	if err := gob.NewDecoder(f).Decode(&snap); err != nil {
		return fmt.Errorf("embedded redis: %s does not read as a saved store (move it away to start afresh): %w", path, err)
	}
	elapsed := now.Sub(snap.SavedAt)
	if elapsed < 0 {
		elapsed = 0
	}
	for _, k := range snap.Keys {
		if k.TTL > 0 && k.TTL <= elapsed {
			continue
		}
		if err := restoreKey(m, k); err != nil {
			return fmt.Errorf("embedded redis: load %s: key %q: %w", path, k.Key, err)
		}
		if k.TTL > 0 {
			m.SetTTL(k.Key, k.TTL-elapsed)
		}
	}
	return nil
}

func restoreKey(m *miniredis.Miniredis, k savedKey) error {
	var err error
	switch k.Type {
	case "string":
		if len(k.Values) != 1 {
			return fmt.Errorf("a string of %d values", len(k.Values))
		}
		err = m.Set(k.Key, k.Values[0])
	case "hash":
		if len(k.Values)%2 != 0 {
			return errors.New("a hash of an odd number of fields and values")
		}
		m.HSet(k.Key, k.Values...)
	case "list":
		_, err = m.Push(k.Key, k.Values...)
	case "set":
		_, err = m.SetAdd(k.Key, k.Values...)
	case "zset":
		if len(k.Values)%2 != 0 {
			return errors.New("a sorted set of an odd number of members and scores")
		}
		for i := 0; i < len(k.Values) && err == nil; i += 2 {
			var score float64
			if score, err = strconv.ParseFloat(k.Values[i+1], 64); err == nil {
				_, err = m.ZAdd(k.Key, score, k.Values[i])
			}
		}
	case "stream":
		if len(k.Values) != len(k.Fields) {
			return errors.New("stream ids and entries do not pair")
		}
		for i := 0; i < len(k.Values) && err == nil; i++ {
			_, err = m.XAdd(k.Key, k.Values[i], k.Fields[i])
		}
	default:
		return fmt.Errorf("unknown type %q", k.Type)
	}
	return err
}
