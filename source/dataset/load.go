package dataset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"unsafe"

	"github.com/creditrun/creditrun/source/internal/jsonscan"
	"github.com/creditrun/creditrun/source/internal/text"
)

// ErrMissingID is the reason of a LineError for a record without an "id".
var ErrMissingID = errors.New(`the record has no "id"`)

// ErrBadID is the reason of a LineError for an "id" that is not one non-empty
// string.
var ErrBadID = errors.New(`the record's "id" is not a non-empty string`)

// ErrDuplicateID is the reason of a LineError for an id seen on an earlier
// line.
var ErrDuplicateID = errors.New("duplicate id")

// ErrBadJSON is the reason of a LineError for a line that is not one JSON
// object.
var ErrBadJSON = errors.New("bad JSON")

// LineError is a dataset file that cannot be loaded, because of one line.
type LineError struct {
	File string // the file's path
	Line int    // from 1
	Err  error  // the reason: wraps ErrBadJSON, ErrMissingID, ErrBadID or ErrDuplicateID
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// maxLine is the longest line (record) a dataset may have.
const maxLine = 64 << 20

// loadTable reads and indexes one JSONL file. The table keeps the file open.
// With opts.IndexDir, it maps the file's index from there (indexedTable);
// built reports whether it built the index.
func loadTable(ctx context.Context, name, path string, opts Options) (_ *table, built bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	var t *table
	if opts.IndexDir == "" {
		t, err = buildTable(ctx, f, name, path)
		built = true
	} else {
		t, built, err = indexedTable(ctx, f, name, path, opts)
	}
	if err != nil {
		return nil, false, err
	}
	t.file = f
	return t, built, nil
}

// indexedTable maps the index of the data file f, at path, from
// opts.IndexDir when one is there for this file as it is, and otherwise
// builds it, writes it there and maps it. An index it cannot write stays in
// memory, with a warning logged.
func indexedTable(ctx context.Context, f *os.File, name, path string, opts Options) (*table, bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	stamp := stampOf(fi)
	ipath, err := indexPath(opts.IndexDir, name, path)
	if err != nil {
		return nil, false, err
	}
	if t, err := mapTable(ipath, name, stamp, true); err == nil {
		return t, false, nil
	}
	// No index, or not one of this file as it is. Build it under a lock, so
	// that processes opening the file at once build it once; the ones that
	// waited map what the first one wrote.
	unlock, keepErr := lockIndex(ctx, opts.IndexDir, ipath)
	switch {
	case keepErr == nil:
		defer unlock()
		if t, err := mapTable(ipath, name, stamp, true); err == nil {
			return t, false, nil
		}
	case ctx.Err() != nil:
		return nil, false, ctx.Err()
	}
	t, err := buildTable(ctx, f, name, path)
	if err != nil {
		return nil, false, err
	}
	if keepErr == nil {
		keepErr = writeIndex(ipath, t, stamp)
	}
	if keepErr == nil {
		// Just written and synced: its checksum need not be read back.
		mt, err := mapTable(ipath, name, stamp, false)
		if err == nil {
			return mt, true, nil
		}
		keepErr = err
	}
	opts.logger().Warn("the dataset's index stays in memory: it cannot be kept in the index directory",
		"file", path, "index", ipath, "err", keepErr)
	return t, true, nil
}

// lockIndex makes the index directory and takes the lock of the index file
// at ipath, waiting for another holder; it fails with ctx.Err() once ctx has
// ended.
func lockIndex(ctx context.Context, dir, ipath string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockFile(ctx, ipath+".lock")
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// mapTable maps the index file at path as a table of data type name, whose
// data file has this stamp, once its header, and with verify its checksum,
// have been checked. The mapping is given back once the table is
// unreachable: everything that reads the index reaches it through the table.
func mapTable(path, name string, stamp dataStamp, verify bool) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// The header first, so that a stale file is not read whole.
	var h indexHeader
	if _, err := f.ReadAt(unsafe.Slice((*byte)(unsafe.Pointer(&h)), headerSize), 0); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadIndex, err)
	}
	if err := checkHeader(h, stamp); err != nil {
		return nil, err
	}
	if verify {
		if err := checkSum(f, fi.Size()); err != nil {
			return nil, err
		}
	}
	b, err := mapFile(f, fi.Size())
	if err != nil {
		return nil, err
	}
	t := &table{name: name, mapped: true}
	if err := readIndex(b, t, stamp); err != nil {
		_ = unmap(b) // the mapping was never used: nothing to do if it stays
		return nil, err
	}
	// A mapping that cannot be given back only costs address space.
	runtime.AddCleanup(t, func(b []byte) { _ = unmap(b) }, b)
	return t, nil
}

// buildTable reads and indexes the JSONL file f, at path.
func buildTable(ctx context.Context, f *os.File, name, path string) (*table, error) {
	b := newTableBuilder(name)
	lr := lineReader{r: f, buf: make([]byte, 4<<20)}
	for {
		line, off, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, lr.lineNo, err)
		}
		if lr.lineNo%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		// The record is the line without surrounding whitespace (and \r).
		start := len(line) - len(bytes.TrimLeft(line, " \t\r"))
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if err := b.add(line, off+int64(start), lr.lineNo); err != nil {
			return nil, &LineError{File: path, Line: lr.lineNo, Err: err}
		}
	}
	t, dup := b.build()
	if dup != nil {
		dup.File = path
		return nil, dup
	}
	return t, nil
}

// lineReader splits a file into lines, keeping their offsets.
type lineReader struct {
	r      io.Reader
	buf    []byte
	start  int // unread data is buf[start:end]
	end    int
	off    int64 // file offset of buf[start]
	eof    bool
	lineNo int
}

// next returns the next line without its '\n' (valid until the next call),
// and its offset in the file.
func (lr *lineReader) next() ([]byte, int64, error) {
	for {
		if i := bytes.IndexByte(lr.buf[lr.start:lr.end], '\n'); i >= 0 {
			line := lr.buf[lr.start : lr.start+i]
			off := lr.off
			lr.start += i + 1
			lr.off += int64(i + 1)
			lr.lineNo++
			return line, off, nil
		}
		if lr.eof {
			if lr.start == lr.end {
				return nil, 0, io.EOF
			}
			line := lr.buf[lr.start:lr.end]
			off := lr.off
			lr.off += int64(len(line))
			lr.start = lr.end
			lr.lineNo++
			return line, off, nil
		}
		if lr.start > 0 {
			lr.end = copy(lr.buf, lr.buf[lr.start:lr.end])
			lr.start = 0
		}
		if lr.end == len(lr.buf) {
			if len(lr.buf) >= maxLine {
				lr.lineNo++
				return nil, 0, fmt.Errorf("a line longer than %d MiB", maxLine>>20)
			}
			lr.buf = append(lr.buf, make([]byte, len(lr.buf))...)
		}
		n, err := lr.r.Read(lr.buf[lr.end:])
		lr.end += n
		if err == io.EOF {
			lr.eof = true
		} else if err != nil {
			return nil, 0, err
		}
	}
}

// tableBuilder indexes records as they are read, in order.
type tableBuilder struct {
	t      *table
	lines  []uint32 // line of each record, to name both lines of a duplicate
	fields map[string]*fieldBuilder
	nulls  map[string]shape // shapes of paths seen holding null

	// exemplars are the records that first showed a path in a shape, in
	// order: together they have every column of the data type (see Fields).
	exemplars []uint32

	// per-record scratch
	id      []byte
	idCount int
	idKind  jsonscan.Kind
	ord     uint32
	str     []byte
	tok     []byte
}

type fieldBuilder struct {
	tokens dictBuilder
	nums   numBuilder
	shapes shape
}

// shape is how a path holds leaves: outside arrays, inside one, or both.
type shape uint8

const (
	plainLeaf shape = 1 << iota
	arrayLeaf
)

// noteShape records that the current record shows a path in shape s, and
// keeps the record as an exemplar when no record did before.
func (b *tableBuilder) noteShape(seen *shape, inArray bool) {
	s := plainLeaf
	if inArray {
		s = arrayLeaf
	}
	if *seen&s != 0 {
		return
	}
	*seen |= s
	if n := len(b.exemplars); n == 0 || b.exemplars[n-1] != b.ord {
		b.exemplars = append(b.exemplars, b.ord)
	}
}

func newTableBuilder(name string) *tableBuilder {
	return &tableBuilder{t: &table{name: name}, fields: make(map[string]*fieldBuilder)}
}

// add indexes one record: line is its JSON, at offset off of the file.
func (b *tableBuilder) add(line []byte, off int64, lineNo int) error {
	t := b.t
	if t.n == math.MaxUint32-1 {
		return errors.New("too many records in one file")
	}
	b.ord = uint32(t.n)
	b.idCount = 0
	if err := jsonscan.Walk(line, b.leaf); err != nil {
		se, ok := errors.AsType[*jsonscan.SyntaxError](err)
		switch {
		case !ok:
			return fmt.Errorf("%w: %w", ErrBadJSON, err)
		case se.Msg == "not an object":
			return fmt.Errorf("%w: the line is not a JSON object", ErrBadJSON)
		}
		return fmt.Errorf("%w: at byte %d of the record: %s", ErrBadJSON, se.Offset, se.Msg)
	}
	switch {
	case b.idCount == 0:
		return ErrMissingID
	case b.idCount > 1 || b.idKind != jsonscan.String || len(b.id) == 0:
		return ErrBadID
	}
	if len(line) > math.MaxUint32 || len(t.ids)+len(b.id) > math.MaxUint32 {
		return errors.New("the file is too large to index")
	}
	t.off = append(t.off, off)
	t.size = append(t.size, uint32(len(line)))
	t.ids = append(t.ids, b.id...)
	t.idEnd = append(t.idEnd, uint32(len(t.ids)))
	b.lines = append(b.lines, uint32(lineNo))
	t.n++
	return nil
}

// leaf indexes one scalar of the current record. The id is indexed by the
// table's id order, not as a field.
func (b *tableBuilder) leaf(path []byte, kind jsonscan.Kind, val []byte, escaped, inArray bool) {
	if string(path) == "id" {
		b.idCount++
		if inArray {
			b.idCount++ // not one string
		}
		b.idKind = kind
		b.id = append(b.id[:0], val...)
		if escaped {
			b.id = jsonscan.AppendUnquote(b.id[:0], val)
		}
		return
	}
	if kind == jsonscan.Null {
		seen := b.nulls[string(path)]
		b.noteShape(&seen, inArray)
		if b.nulls == nil {
			b.nulls = make(map[string]shape)
		}
		b.nulls[string(path)] = seen
		return
	}
	fb := b.fields[string(path)]
	if fb == nil {
		fb = new(fieldBuilder)
		b.fields[string(path)] = fb
	}
	if fb.shapes != plainLeaf|arrayLeaf {
		b.noteShape(&fb.shapes, inArray)
	}
	ord := b.ord
	switch kind {
	case jsonscan.String:
		if escaped {
			b.str = jsonscan.AppendUnquote(b.str[:0], val)
			val = b.str
		}
		if text.IsDecimal(val) {
			if v, err := strconv.ParseFloat(string(val), 64); err == nil && !math.IsInf(v, 0) {
				fb.nums.add(v, ord)
			}
		}
	case jsonscan.Number:
		// A number is one word, its shortest decimal form ("41.5" is not "41"
		// and "5"), and compares by value.
		if v, err := strconv.ParseFloat(string(val), 64); err == nil && !math.IsInf(v, 0) {
			fb.nums.add(v, ord)
			b.str = strconv.AppendFloat(b.str[:0], v, 'f', -1, 64)
			fb.tokens.add(b.str, ord)
			return
		}
	}
	b.tok = text.AppendTokens(b.tok, val, func(w []byte) { fb.tokens.add(w, ord) })
}

// build finishes the table; it returns a *LineError when two records share
// an id.
func (b *tableBuilder) build() (*table, *LineError) {
	t := b.t
	t.byID = make([]uint32, t.n)
	sorted := true
	for i := range t.byID {
		t.byID[i] = uint32(i)
		if i > 0 && sorted && bytes.Compare(t.id(uint32(i-1)), t.id(uint32(i))) >= 0 {
			sorted = false
		}
	}
	if !sorted {
		slices.SortStableFunc(t.byID, func(x, y uint32) int { return bytes.Compare(t.id(x), t.id(y)) })
		for k := 1; k < len(t.byID); k++ {
			x, y := t.byID[k-1], t.byID[k]
			if bytes.Equal(t.id(x), t.id(y)) {
				return nil, &LineError{Line: int(b.lines[y]), Err: fmt.Errorf("%w %q, first on line %d", ErrDuplicateID, t.id(y), b.lines[x])}
			}
		}
	}
	b.lines = nil
	t.exemplars, b.exemplars, b.nulls = slices.Clip(b.exemplars), nil, nil
	names := make([]string, 0, len(b.fields))
	for name := range b.fields {
		names = append(names, name)
	}
	slices.Sort(names)
	t.fields = make([]field, len(names))
	for i, name := range names {
		fb := b.fields[name]
		delete(b.fields, name)
		t.fields[i] = field{name: name, tokens: fb.tokens.build(), nums: fb.nums.build()}
	}
	t.off, t.size, t.ids, t.idEnd = shrink(t.off), shrink(t.size), shrink(t.ids), shrink(t.idEnd)
	return t, nil
}

// shrink gives back the spare capacity that appending left, when it is worth
// a copy.
func shrink[S ~[]E, E any](s S) S {
	if cap(s)-len(s) > len(s)/8 {
		return slices.Clone(s)
	}
	return s
}
