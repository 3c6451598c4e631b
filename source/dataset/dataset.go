// Package dataset is the embedded record source: a directory with one JSONL
// file per data type, <type>.jsonl, indexed in memory and searched with the
// query language of package query; and a deterministic generator of such
// directories (the sample: people.jsonl, properties.jsonl, businesses.jsonl
// and products.jsonl). The files define the data types: a directory with a
// vehicles.jsonl offers vehicles, searchable by the fields its records have.
//
// The index is inverted. For every field (a dotted path; arrays are
// transparent) it keeps a sorted dictionary of the field's words, each with
// the ascending ordinals of the records that have it (a posting list), and
// the field's numbers sorted. A selective query intersects a few posting
// lists, so it never scans the dataset; prefixes and ranges are one slice of
// a sorted dictionary. The records themselves stay in their files: the index
// keeps where each one lies, and a search reads only the records it streams.
// A dictionary of each field's whole values, normalized, which enrichment
// and string ranges need, is built the first time a field needs it.
//
// Query semantics beyond API.md: a field's words are its letters and digits
// lowercased; a number is one word in its shortest form ("41.5"), and a
// value that is a plain decimal also matches numbers and decimal strings
// equal to it; a path that names an object matches any value inside it;
// string ranges compare values normalized (lower case, letters and digits
// only), and a range compares numbers when both ends are plain decimals or
// *; "id" matches exactly as written (id:x, id:x*, id:[a TO b] in byte
// order). An unknown field matches nothing.
package dataset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/source/query"
)

var _ source.Source = (*Dataset)(nil)

// Dataset is a loaded dataset directory. It is safe for concurrent use. The
// files must not change while it is open.
type Dataset struct {
	dir      string
	tables   map[string]*table
	types    []string // the data types, in the order of DataTypesIn
	built    []string // the data types whose index the open built
	maxSteps int64    // the budget of one search; 0: no limit
}

// ErrNoFiles is returned by Open when the directory holds none of the data
// type files.
var ErrNoFiles = errors.New("no dataset files")

// Open loads and indexes the dataset in dir, the index in memory, as
// OpenWith does with no Options.
func Open(ctx context.Context, dir string) (*Dataset, error) {
	return OpenWith(ctx, dir, Options{})
}

// Options are the settings of OpenWith.
type Options struct {
	// IndexDir, when set, is a directory that keeps each data file's index,
	// built on the first open of the file and mapped into memory on every
	// open, that one and the next ones. A mapped index costs the pages
	// that searches touch, which the kernel can drop and read again; the
	// index in memory costs the whole index, and building it about three
	// times as much for a while. An index is built again when its data
	// file changed (size, modification time, inode or change time), or the
	// index file is not whole. Processes may share the directory: one
	// builds an index while the others wait for it. An index that cannot
	// be written there stays in memory.
	IndexDir string
	// Logger gets a warning when an index cannot be kept in IndexDir (it
	// then stays in memory). Nil logs nothing.
	Logger *slog.Logger
	// MaxSearchSteps is the budget of work of one search: evaluating its
	// query may take at most this many steps (index entries, and records
	// read to check phrases; see DefaultMaxSearchSteps), or Search returns
	// a *source.BudgetError. Defaults to DefaultMaxSearchSteps; negative:
	// no limit.
	MaxSearchSteps int64
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// OpenWith loads and indexes the dataset in dir: each file <type>.jsonl
// there whose type is a source.ValidDataTypeName (see DataTypesIn). Each line is one
// record, a JSON object with a string "id" unique in its file; blank lines
// are skipped. OpenWith returns a *LineError for a bad line (its file, its
// line number and the reason: ErrBadJSON, ErrMissingID, ErrBadID or
// ErrDuplicateID), an error wrapping ErrNoFiles when dir holds no data type
// file, and ctx.Err() when ctx ends first. The files load in parallel.
func OpenWith(ctx context.Context, dir string, opts Options) (*Dataset, error) {
	d := &Dataset{dir: dir, tables: make(map[string]*table), maxSteps: opts.MaxSearchSteps}
	switch {
	case d.maxSteps == 0:
		d.maxSteps = DefaultMaxSearchSteps
	case d.maxSteps < 0:
		d.maxSteps = 0
	}
	type result struct {
		t     *table
		built bool
		err   error
	}
	names, err := DataTypesIn(dir)
	if err != nil {
		return nil, err
	}
	results := make(map[string]*result)
	var wg sync.WaitGroup
	for _, name := range names {
		path := filepath.Join(dir, name+".jsonl")
		r := new(result)
		results[name] = r
		wg.Go(func() { r.t, r.built, r.err = loadTable(ctx, name, path, opts) })
	}
	wg.Wait()
	var errs []error
	for _, name := range names {
		r := results[name]
		switch {
		case r == nil:
		case r.err != nil:
			errs = append(errs, r.err)
		default:
			d.tables[name] = r.t
			if r.built {
				d.built = append(d.built, name)
			}
		}
	}
	if len(d.built) > 0 {
		// Building an index leaves about twice its size in garbage, which
		// the runtime would keep for a while: give it back now, before the
		// dataset serves.
		debug.FreeOSMemory()
	}
	if len(errs) > 0 {
		d.Close()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errors.Join(errs...)
	}
	if len(d.tables) == 0 {
		return nil, fmt.Errorf("%w in %s: expected a <type>.jsonl file per data type, such as people.jsonl", ErrNoFiles, dir)
	}
	d.types = names
	return d, nil
}

// DataTypesIn returns the data types of the dataset in dir without loading
// it: the names of its files <type>.jsonl whose type is a
// source.ValidDataTypeName (other files are not the dataset's), those of
// source.DataTypes first in that order, then the others sorted. It reads
// only the directory, so a process that does not search can still check
// plans and requests against the dataset. It returns an error wrapping
// ErrNoFiles when there is none.
func DataTypesIn(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s: no such directory", ErrNoFiles, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	found := map[string]bool{}
	var others []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if !ok || !source.ValidDataTypeName(name) || e.IsDir() {
			continue
		}
		found[name] = true
		if !slices.Contains(source.DataTypes(), name) {
			others = append(others, name)
		}
	}
	var names []string
	for _, name := range source.DataTypes() {
		if found[name] {
			names = append(names, name)
		}
	}
	slices.Sort(others)
	names = append(names, others...)
	if len(names) == 0 {
		return nil, fmt.Errorf("%w in %s: expected a <type>.jsonl file per data type, such as people.jsonl", ErrNoFiles, dir)
	}
	return names, nil
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

// DataTypes implements source.Source: the data types the dataset holds, in
// the order of DataTypesIn.
func (d *Dataset) DataTypes() []string { return slices.Clone(d.types) }

// Len returns the number of records of a data type, 0 for one it lacks.
func (d *Dataset) Len(dataType string) int {
	if t := d.tables[dataType]; t != nil {
		return t.n
	}
	return 0
}

// IndexBytes returns the size of the index of a data type, in bytes: memory
// it holds, or the part of its index file that is mapped.
func (d *Dataset) IndexBytes(dataType string) int {
	if t := d.tables[dataType]; t != nil {
		return t.indexBytes()
	}
	return 0
}

func (d *Dataset) table(dataType string) (*table, error) {
	t := d.tables[dataType]
	if t == nil {
		return nil, source.UnknownDataType(dataType, d.types)
	}
	return t, nil
}

// Search implements source.Source. Besides the errors listed there, it
// returns ctx.Err() when ctx ends while the query is evaluated, a
// *source.BudgetError when evaluating it takes more than the dataset's
// Options.MaxSearchSteps, and an error when a record cannot be read back
// from its file.
func (d *Dataset) Search(ctx context.Context, dataType, q string, limit int) (source.Results, error) {
	t, err := d.table(dataType)
	if err != nil {
		return source.Results{}, err
	}
	n, err := query.Parse(q)
	if err != nil {
		return source.Results{}, err
	}
	set, err := newEvaluator(ctx, t, d.maxSteps).eval(n, allDocs(t.n))
	if err != nil {
		return source.Results{}, err
	}
	return source.Results{Found: set.count(), Records: t.stream(ctx, set, limit)}, nil
}
