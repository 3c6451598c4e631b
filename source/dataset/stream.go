package dataset

import (
	"context"
	"fmt"

	"github.com/creditrun/creditrun/source"
)

// Reading: the records of a result are read from the file in file order,
// several per read when they lie close together, so a full scan costs a read
// per block and a sparse result a small read per record.
const (
	batchSize = 1024     // ordinals planned at a time
	blockSize = 1 << 20  // the most one read asks for, unless a record is longer
	maxGap    = 16 << 10 // the most unused bytes a read may span between two records
	ctxEvery  = 64       // records between two looks at ctx
)

// reader reads records of one table.
type reader struct {
	t      *table
	buf    []byte
	bufOff int64 // file offset of buf[0]
}

// record returns record ord with a fresh copy of its bytes, reading what the
// following ordinals (next, ascending) need as well when they lie close by.
func (r *reader) record(ord uint32, next []uint32) (source.Record, error) {
	b, err := r.raw(ord, next)
	if err != nil {
		return source.Record{}, err
	}
	return source.Record{ID: string(r.t.id(ord)), Raw: append([]byte(nil), b...)}, nil
}

// fill reads record ord into buf, with the records of next that lie close
// after it.
func (r *reader) fill(ord uint32, next []uint32) error {
	t := r.t
	off := t.off[ord]
	end := off + int64(t.size[ord])
	for _, o := range next {
		oEnd := t.off[o] + int64(t.size[o])
		if t.off[o]-end > maxGap || oEnd-off > blockSize {
			break
		}
		end = oEnd
	}
	n := int(end - off)
	if cap(r.buf) < n {
		r.buf = make([]byte, max(n, 64<<10))
	}
	r.buf = r.buf[:n]
	if _, err := t.file.ReadAt(r.buf, off); err != nil {
		r.buf = r.buf[:0]
		return fmt.Errorf("read %s record %d: %w", t.name, ord, err)
	}
	r.bufOff = off
	return nil
}

// stream yields the records of set in order, at most limit.
func (t *table) stream(ctx context.Context, set *docSet, limit int) source.RecordStream {
	return func(yield func(source.Record, error) bool) {
		if limit <= 0 {
			return
		}
		r := reader{t: t}
		c := cursor{s: set}
		batch := make([]uint32, 0, min(batchSize, limit))
		sent := 0
		for sent < limit {
			batch = c.fill(batch[:0], min(batchSize, limit-sent))
			if len(batch) == 0 {
				return
			}
			for i, ord := range batch {
				if sent%ctxEvery == 0 {
					if err := ctx.Err(); err != nil {
						yield(source.Record{}, err)
						return
					}
				}
				rec, err := r.record(ord, batch[i+1:])
				if err != nil {
					yield(source.Record{}, err)
					return
				}
				if !yield(rec, nil) {
					return
				}
				sent++
			}
		}
	}
}

// raw is record without the copy: the bytes are only valid until the next
// call.
func (r *reader) raw(ord uint32, next []uint32) ([]byte, error) {
	t := r.t
	off, size := t.off[ord], int64(t.size[ord])
	if off < r.bufOff || off+size > r.bufOff+int64(len(r.buf)) {
		if err := r.fill(ord, next); err != nil {
			return nil, err
		}
	}
	return r.buf[off-r.bufOff : off-r.bufOff+size], nil
}
