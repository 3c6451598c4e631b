// Package dataset is the embedded record source: a directory with one JSONL
// file per data type (people.jsonl, properties.jsonl, businesses.jsonl,
// products.jsonl), indexed in memory, searched with the query language of
// package query, and a deterministic generator of such directories.
//
// The index is inverted: for every field (a dotted path) a sorted dictionary
// of its words with the records that have each (a posting list), a sorted
// dictionary of its whole values normalized (for enrichment and string
// ranges), and its numbers sorted (for numeric ranges). A selective query
// reads a few posting lists and then only the records it returns, so it does
// not scan the dataset. The records stay in their files: the index keeps
// where each one lies, and a search reads the ones it streams.
package dataset

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/query"
)

var _ source.Source = (*Dataset)(nil)

// Dataset is a loaded dataset directory. It is safe for concurrent use. The
// files must not change while it is open.
type Dataset struct {
	dir    string
	tables map[string]*table
}

// ErrNoFiles is returned by Open when the directory holds none of the data
// type files.
var ErrNoFiles = errors.New("no dataset files")

// Open loads and indexes the dataset in dir: the file <type>.jsonl of each
// data type of source.DataTypes that exists there. Each line is one record,
// a JSON object with a string "id" unique in its file; blank lines are
// skipped. Open returns a *LineError for a bad line (its file, its line
// number and the reason: ErrBadJSON, ErrMissingID, ErrBadID or
// ErrDuplicateID), an error wrapping ErrNoFiles when dir holds no data type
// file, and ctx.Err() when ctx ends first. The files load in parallel.
func Open(ctx context.Context, dir string) (*Dataset, error) {
	d := &Dataset{dir: dir, tables: make(map[string]*table)}
	type result struct {
		t   *table
		err error
	}
	results := make(map[string]*result)
	var wg sync.WaitGroup
	for _, name := range source.DataTypes() {
		path := filepath.Join(dir, name+".jsonl")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		r := new(result)
		results[name] = r
		wg.Go(func() { r.t, r.err = loadTable(ctx, name, path) })
	}
	wg.Wait()
	var errs []error
	for _, name := range source.DataTypes() {
		r := results[name]
		switch {
		case r == nil:
		case r.err != nil:
			errs = append(errs, r.err)
		default:
			d.tables[name] = r.t
		}
	}
	if len(errs) > 0 {
		d.Close()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errors.Join(errs...)
	}
	if len(d.tables) == 0 {
		return nil, fmt.Errorf("%w in %s: expected people.jsonl, properties.jsonl, businesses.jsonl or products.jsonl", ErrNoFiles, dir)
	}
	return d, nil
}

// Close closes the dataset's files. Streams still open fail afterwards.
func (d *Dataset) Close() error {
	var errs []error
	for _, t := range d.tables {
		if t.file != nil {
			errs = append(errs, t.file.Close())
		}
	}
	return errors.Join(errs...)
}

// DataTypes returns the data types the dataset holds, in the order of
// source.DataTypes.
func (d *Dataset) DataTypes() []string {
	var out []string
	for _, name := range source.DataTypes() {
		if d.tables[name] != nil {
			out = append(out, name)
		}
	}
	return out
}

// Len returns the number of records of a data type, 0 for one it lacks.
func (d *Dataset) Len(dataType string) int {
	if t := d.tables[dataType]; t != nil {
		return t.n
	}
	return 0
}

// IndexBytes returns the memory the index of a data type holds, in bytes.
func (d *Dataset) IndexBytes(dataType string) int {
	if t := d.tables[dataType]; t != nil {
		return t.indexBytes()
	}
	return 0
}

func (d *Dataset) table(dataType string) (*table, error) {
	t := d.tables[dataType]
	if t == nil {
		return nil, fmt.Errorf("%w %q", source.ErrUnknownDataType, dataType)
	}
	return t, nil
}

// Search implements source.Source. Besides the errors listed there, it
// returns ctx.Err() when ctx ends while the query is evaluated, and an error
// when a record cannot be read back from its file.
func (d *Dataset) Search(ctx context.Context, dataType, q string, limit int) (source.Results, error) {
	t, err := d.table(dataType)
	if err != nil {
		return source.Results{}, err
	}
	n, err := query.Parse(q)
	if err != nil {
		return source.Results{}, err
	}
	set, err := newEvaluator(ctx, t).eval(n, allDocs(t.n))
	if err != nil {
		return source.Results{}, err
	}
	return source.Results{Found: set.count(), Records: t.stream(ctx, set, limit)}, nil
}
