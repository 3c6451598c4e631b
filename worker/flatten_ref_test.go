package worker_test

// The result writer as it was before records were flattened in one pass
// (encoding/json into a map, then each object and string again), kept as the
// reference that the differential tests hold the writer to.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
)

type refWriter struct {
	format  jobs.Format
	matches bool // an enrichment's rows

	bw   *bufio.Writer
	csv  *csv.Writer
	rows int64

	columns    []string // a CSV's record columns; nil until known
	headerDone bool
	index      map[string]int // column → position
	cells      []string       // the row being written
	pending    []*string      // an enrichment's unmatched tracking ids, held until the columns are known (CSV without columns)
}

func newRefRecordWriter(w io.Writer, f jobs.Format, columns []string) *refWriter {
	return newRefWriter(w, f, columns, false)
}

func newRefMatchWriter(w io.Writer, f jobs.Format, columns []string) *refWriter {
	return newRefWriter(w, f, columns, true)
}

func newRefWriter(w io.Writer, f jobs.Format, columns []string, matches bool) *refWriter {
	rw := &refWriter{format: f, matches: matches, bw: bufio.NewWriterSize(w, 64<<10)}
	if f == jobs.CSV {
		rw.csv = csv.NewWriter(rw.bw)
		if columns != nil {
			rw.setColumns(columns)
		}
	}
	return rw
}

// Rows returns the rows written so far.
func (rw *refWriter) Rows() int64 { return rw.rows }

// WriteRecord writes one record.
func (rw *refWriter) WriteRecord(rec source.Record) error {
	if rw.format != jobs.CSV {
		return rw.writeJSON(rec.Raw)
	}
	if rw.columns == nil {
		cols, err := refRecordColumns(rec)
		if err != nil {
			return err
		}
		rw.setColumns(cols)
	}
	if err := rw.fillCells(rec, 0); err != nil {
		return err
	}
	return rw.writeCells()
}

// WriteMatch writes an enrichment's row for one item.
func (rw *refWriter) WriteMatch(m source.Match) error {
	tid := refTrackingID(m.Item)
	if rw.format != jobs.CSV {
		var b bytes.Buffer
		b.WriteString(`{"tracking_id":`)
		if tid == nil {
			b.WriteString("null")
		} else {
			refWriteJSONString(&b, *tid)
		}
		if m.Matched {
			b.WriteString(`,"matched":true,"record":`)
			b.Write(bytes.TrimSpace(m.Record.Raw))
		} else {
			b.WriteString(`,"matched":false,"record":null`)
		}
		b.WriteByte('}')
		return rw.writeJSON(b.Bytes())
	}
	if rw.columns == nil {
		if !m.Matched {
			rw.pending = append(rw.pending, tid)
			return nil
		}
		cols, err := refRecordColumns(m.Record)
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

func (rw *refWriter) writeMatchRow(tid *string, m source.Match) error {
	clear(rw.cells)
	if tid != nil {
		rw.cells[0] = *tid
	}
	rw.cells[1] = "false"
	if m.Matched {
		rw.cells[1] = "true"
		if err := rw.fillCells(m.Record, 2); err != nil {
			return err
		}
	}
	return rw.writeCells()
}

// setColumns fixes a CSV's columns; the header is written with the first
// row.
func (rw *refWriter) setColumns(columns []string) {
	rw.columns = slices.Clone(columns)
	off := 0
	if rw.matches {
		off = 2
	}
	rw.index = make(map[string]int, len(rw.columns))
	for i, c := range rw.columns {
		rw.index[c] = off + i
	}
	rw.cells = make([]string, off+len(rw.columns))
}

// writeHeader writes a CSV's header, then the rows that waited for it.
func (rw *refWriter) writeHeader() error {
	rw.headerDone = true
	header := rw.columns
	if rw.matches {
		header = append([]string{"tracking_id", "matched"}, rw.columns...)
	}
	if err := rw.csv.Write(header); err != nil {
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
func (rw *refWriter) Close() error {
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
		rw.csv.Flush()
		if err := rw.csv.Error(); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	}
	if err := rw.bw.Flush(); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// writeJSON writes one element of a JSON array or one JSONL line.
func (rw *refWriter) writeJSON(obj []byte) error {
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

func (rw *refWriter) writeCells() error {
	if !rw.headerDone {
		if err := rw.writeHeader(); err != nil {
			return err
		}
	}
	if err := rw.csv.Write(rw.cells); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	rw.rows++
	return nil
}

// fillCells clears the record columns from position from on and fills them
// with the record's flattened fields.
func (rw *refWriter) fillCells(rec source.Record, from int) error {
	clear(rw.cells[from:])
	return refFlatten(rec.Raw, "", func(path, cell string) {
		if i, ok := rw.index[path]; ok {
			rw.cells[i] = cell
		}
	})
}

// recordColumns are a record's flattened paths, id first, then sorted.
func refRecordColumns(rec source.Record) ([]string, error) {
	var cols []string
	err := refFlatten(rec.Raw, "", func(path, _ string) {
		if path != "id" {
			cols = append(cols, path)
		}
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(cols)
	return append([]string{"id"}, cols...), nil
}

// flatten calls fn with the dotted path and the CSV cell of every field of
// a JSON object: objects are followed, an array is its JSON, null is empty,
// a string its text, a number or a boolean as written.
func refFlatten(raw json.RawMessage, prefix string, fn func(path, cell string)) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fmt.Errorf("flatten record: %w", err)
	}
	for k, v := range obj {
		path := prefix + k
		switch v[0] {
		case '{':
			if err := refFlatten(v, path+".", fn); err != nil {
				return err
			}
		case '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("flatten record: %s: %w", path, err)
			}
			fn(path, s)
		case 'n':
			fn(path, "")
		default: // an array, a number, true or false: as written
			fn(path, string(v))
		}
	}
	return nil
}

// trackingID is an item's tracking_id, nil when it has none.
func refTrackingID(it source.Item) *string {
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

func refWriteJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode's newline
}
