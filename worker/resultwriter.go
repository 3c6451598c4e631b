package worker

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
)

// ResultWriter streams the rows of one result file in one format, holding
// one row at a time: a download's records, or an enrichment's rows, one per
// item, {"tracking_id", "matched", "record"} in JSON and JSONL, and
// tracking_id, matched and the record's columns in CSV.
//
// CSV rows are the record's fields flattened with dotted names
// ("address.city"); an array is one cell holding its JSON, null an empty
// cell. The header comes first, so the columns are given up front (see
// Fields); without them, they are the first record's, and fields that later
// records add are left out. A record is flattened in one pass over its bytes
// (see flattener), and its row written from the cells' text as
// encoding/csv's Writer writes it (see appendCSVField), with no allocation.
type ResultWriter struct {
	format  jobs.Format
	matches bool // an enrichment's rows

	bw   *bufio.Writer
	rows int64

	columns    []string // a CSV's record columns; nil until known
	headerDone bool
	pending    []*string // an enrichment's unmatched tracking ids, held until the columns are known (CSV without columns)

	flat flattener
	row  rowCells // the cells of the row being written
	obj  []byte   // an enrichment's JSON row
}

// FieldSource is what a source may offer to give the columns of a data type
// up front, for a CSV's header; *dataset.Dataset does.
type FieldSource interface {
	// Fields returns the flattened columns of dataType, "id" first.
	Fields(dataType string) ([]string, error)
}

// NewRecordWriter returns a writer of records to w in format f. columns are
// a CSV's columns; nil takes the first record's.
func NewRecordWriter(w io.Writer, f jobs.Format, columns []string) *ResultWriter {
	return newResultWriter(w, f, columns, false)
}

// NewMatchWriter returns a writer of an enrichment's rows to w in format f.
// columns are the record columns of a CSV, after tracking_id and matched; nil
// takes the first matched record's.
func NewMatchWriter(w io.Writer, f jobs.Format, columns []string) *ResultWriter {
	return newResultWriter(w, f, columns, true)
}

func newResultWriter(w io.Writer, f jobs.Format, columns []string, matches bool) *ResultWriter {
	rw := &ResultWriter{format: f, matches: matches, bw: bufio.NewWriterSize(w, 64<<10)}
	if f == jobs.CSV && columns != nil {
		rw.setColumns(columns)
	}
	return rw
}

// ContentType is the media type of a format's files.
func ContentType(f jobs.Format) string {
	switch f {
	case jobs.CSV:
		return "text/csv; charset=utf-8"
	case jobs.JSONL:
		return "application/x-ndjson"
	}
	return "application/json"
}

// Rows returns the rows written so far.
func (rw *ResultWriter) Rows() int64 { return rw.rows }

// WriteRecord writes one record.
func (rw *ResultWriter) WriteRecord(rec source.Record) error {
	if rw.format != jobs.CSV {
		return rw.writeJSON(rec.Raw)
	}
	if rw.columns == nil {
		cols, err := rw.recordColumns(rec)
		if err != nil {
			return err
		}
		rw.setColumns(cols)
	}
	if err := rw.fillCells(rec); err != nil {
		return err
	}
	return rw.writeCells()
}

// WriteMatch writes an enrichment's row for one item.
func (rw *ResultWriter) WriteMatch(m source.Match) error {
	tid := trackingID(m.Item)
	if rw.format != jobs.CSV {
		b := rw.obj[:0]
		b = append(b, `{"tracking_id":`...)
		if tid == nil {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, *tid)
		}
		if m.Matched {
			b = append(b, `,"matched":true,"record":`...)
			b = append(b, bytes.TrimSpace(m.Record.Raw)...)
		} else {
			b = append(b, `,"matched":false,"record":null`...)
		}
		b = append(b, '}')
		rw.obj = b
		return rw.writeJSON(b)
	}
	if rw.columns == nil {
		if !m.Matched {
			rw.pending = append(rw.pending, tid)
			return nil
		}
		cols, err := rw.recordColumns(m.Record)
		if err != nil {
			return err
		}
		rw.setColumns(cols)
		if err := rw.writeHeader(); err != nil {
			return err
		}
	}
	return rw.writeMatchRow(tid, m)
}

func (rw *ResultWriter) writeMatchRow(tid *string, m source.Match) error {
	r := &rw.row
	r.reset()
	if tid != nil {
		r.set(0, *tid)
	}
	if !m.Matched {
		r.set(1, "false")
		return rw.writeCells()
	}
	r.set(1, "true")
	if err := rw.fillCells(m.Record); err != nil {
		return err
	}
	return rw.writeCells()
}

// setColumns fixes a CSV's columns; the header is written with the first
// row.
func (rw *ResultWriter) setColumns(columns []string) {
	rw.columns = slices.Clone(columns)
	off := 0
	if rw.matches {
		off = 2
	}
	rw.row = rowCells{columns: rw.columns, from: off, index: make(map[string]int, len(rw.columns))}
	for i, c := range rw.columns {
		rw.row.index[c] = off + i
	}
	rw.row.spans = make([]span, off+len(rw.columns))
}

// writeHeader writes a CSV's header, then the rows that waited for it.
func (rw *ResultWriter) writeHeader() error {
	rw.headerDone = true
	header := rw.columns
	if rw.matches {
		header = append([]string{"tracking_id", "matched"}, rw.columns...)
	}
	line := rw.bw.AvailableBuffer()
	for i, h := range header {
		if i > 0 {
			line = append(line, ',')
		}
		line = appendCSVField(line, []byte(h))
	}
	if _, err := rw.bw.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	pending := rw.pending
	rw.pending = nil
	for _, tid := range pending {
		if err := rw.writeMatchRow(tid, source.Match{}); err != nil {
			return err
		}
	}
	return nil
}

// Close writes what ends the file (a JSON array's bracket, a CSV's header
// when no row came) and flushes. It does not close the underlying writer.
func (rw *ResultWriter) Close() error {
	switch rw.format {
	case jobs.JSON:
		end := "\n]\n"
		if rw.rows == 0 {
			end = "[]\n"
		}
		if _, err := rw.bw.WriteString(end); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	case jobs.CSV:
		if rw.columns == nil {
			rw.setColumns([]string{"id"})
		}
		if !rw.headerDone {
			if err := rw.writeHeader(); err != nil {
				return err
			}
		}
	}
	if err := rw.bw.Flush(); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// resume points rw at w for rows that follow rows others wrote (see
// parallelWriter): a JSON array's separator is written as if rows rows came
// before, and a CSV's header only when rows is 0. What rw buffered for its
// previous writer is dropped: flush it first.
func (rw *ResultWriter) resume(w io.Writer, rows int64) {
	rw.bw.Reset(w)
	rw.rows = rows
	rw.headerDone = rows > 0
}

// flush writes out what rw buffered, without ending the file.
func (rw *ResultWriter) flush() error {
	if err := rw.bw.Flush(); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// writeJSON writes one element of a JSON array or one JSONL line.
func (rw *ResultWriter) writeJSON(obj []byte) error {
	var err error
	switch {
	case rw.format == jobs.JSONL:
	case rw.rows == 0:
		_, err = rw.bw.WriteString("[\n")
	default:
		_, err = rw.bw.WriteString(",\n")
	}
	if err == nil {
		_, err = rw.bw.Write(bytes.TrimSpace(obj))
	}
	if err == nil && rw.format == jobs.JSONL {
		err = rw.bw.WriteByte('\n')
	}
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	rw.rows++
	return nil
}

func (rw *ResultWriter) writeCells() error {
	if !rw.headerDone {
		if err := rw.writeHeader(); err != nil {
			return err
		}
	}
	r := &rw.row
	line := rw.bw.AvailableBuffer()
	for i, sp := range r.spans {
		if i > 0 {
			line = append(line, ',')
		}
		line = appendCSVField(line, r.text[sp.start:sp.end])
	}
	if _, err := rw.bw.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	rw.rows++
	return nil
}

// fillCells fills the record columns of the row with the record's flattened
// fields; WriteRecord starts the row, writeMatchRow has started it.
func (rw *ResultWriter) fillCells(rec source.Record) error {
	r := &rw.row
	if !rw.matches {
		r.reset()
	}
	r.nth = 0
	return rw.flat.flatten(rec.Raw, r)
}

// rowCells is the fieldSink that gathers a record's cells: their text one
// after the other, and where each column's is.
type rowCells struct {
	columns []string       // the record columns
	from    int            // position of the first record column in the row
	index   map[string]int // column → position
	text    []byte
	spans   []span // by position; the zero span is an empty cell

	// Records of a data type mostly list their fields in the same order:
	// guess is the position of each field of the last record, by order, -1
	// when not a column; nth counts the fields of this one.
	guess []int
	nth   int
}

// span is a cell's text in rowCells.text.
type span struct{ start, end int }

// reset empties every cell.
func (r *rowCells) reset() {
	r.text = r.text[:0]
	clear(r.spans)
}

// set sets the cell at position i.
func (r *rowCells) set(i int, cell string) {
	start := len(r.text)
	r.text = append(r.text, cell...)
	r.spans[i] = span{start, len(r.text)}
}

func (r *rowCells) field(path, cell []byte) {
	i, ok := -1, false
	if r.nth < len(r.guess) {
		i = r.guess[r.nth]
		ok = i >= 0 && r.columns[i-r.from] == string(path)
	}
	if !ok {
		i, ok = r.index[string(path)]
		if !ok {
			i = -1
		}
		if r.nth < len(r.guess) {
			r.guess[r.nth] = i
		} else {
			r.guess = append(r.guess, i)
		}
	}
	r.nth++
	if ok {
		start := len(r.text)
		r.text = append(r.text, cell...)
		r.spans[i] = span{start, len(r.text)}
	}
}

func (r *rowCells) drop(path []byte) {
	for i, c := range r.columns {
		if underPath(c, path) {
			r.spans[r.from+i] = span{}
		}
	}
}

// underPath reports whether column c is path or under it.
func underPath(c string, path []byte) bool {
	return len(c) >= len(path) && c[:len(path)] == string(path) && (len(c) == len(path) || c[len(path)] == '.')
}

// recordColumns are a record's flattened paths, id first, then sorted.
func (rw *ResultWriter) recordColumns(rec source.Record) ([]string, error) {
	var cols columnList
	if err := rw.flat.flatten(rec.Raw, &cols); err != nil {
		return nil, err
	}
	slices.Sort(cols)
	return append([]string{"id"}, cols...), nil
}

// columnList is the fieldSink that lists a record's paths but "id".
type columnList []string

func (l *columnList) field(path, _ []byte) {
	if string(path) != "id" {
		*l = append(*l, string(path))
	}
}

func (l *columnList) drop(path []byte) {
	*l = slices.DeleteFunc(*l, func(c string) bool { return underPath(c, path) })
}

// trackingID is an item's tracking_id, nil when it has none.
func trackingID(it source.Item) *string {
	switch v := it["tracking_id"].(type) {
	case string:
		return &v
	case nil:
		return nil
	default:
		s := strings.TrimSpace(fmt.Sprint(v))
		return &s
	}
}
