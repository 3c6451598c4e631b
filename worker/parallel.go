package worker

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
)

// A large download is encoded on every core: its records, in the search's
// order, are cut into chunks of consecutive records; several encoders turn
// chunks into bytes at once, each with its own ResultWriter; and one writer
// writes the encoded chunks to the file in order. The file is byte for byte
// what one ResultWriter writes (the header once, the same rows in the same
// order), and the memory it takes is that of the chunks in flight, a fixed
// number.
const (
	// chunkRecords is how many records one chunk holds: some 150 KB of
	// records and 65 KB of CSV for the generated people, enough to make
	// the handing over of a chunk cheap against its encoding.
	chunkRecords = 512
	// parallelMin is the fewest records a result file must be expected to
	// hold for them to be encoded in parallel; a smaller file is encoded on
	// the run's goroutine, where starting encoders would cost more than it
	// saves.
	parallelMin = 4 * chunkRecords
)

// rowWriter writes the rows of one result file: a *ResultWriter, or a
// *parallelWriter.
type rowWriter interface {
	// WriteRecord writes one record. An error fails the file.
	WriteRecord(rec source.Record) error
	// Close ends the file and flushes it.
	Close() error
	// Rows returns the rows written so far.
	Rows() int64
}

// parallelWriter is the rowWriter of a large download's file: WriteRecord
// gathers records into chunks, which encoders encode at once and a writer
// writes to the file in order. An error from encoding a record or from the
// file comes back from a later WriteRecord or from Close. Its methods are
// called from one goroutine; abort (or Close) must be called to stop the
// goroutines it started.
type parallelWriter struct {
	out     io.Writer
	format  jobs.Format
	columns []string // a CSV's columns: given, or the first record's
	size    int      // records per chunk

	cur  *chunk // the chunk being gathered
	rows int64  // records taken

	work  chan *chunk // to the encoders
	order chan *chunk // to the writer, in the file's order
	free  chan *chunk // back from the writer
	stop  chan struct{}
	done  chan struct{}
	err   error // the writer's first error: read after stop or done is closed
	wg    sync.WaitGroup
	ended bool
}

// chunk is consecutive records of one file and, once encoded, their bytes.
type chunk struct {
	recs  []source.Record
	first int64 // the file's row of recs[0]
	buf   bytes.Buffer
	err   error
	ready chan struct{} // a token when encoded
}

// newParallelWriter returns a parallelWriter of records to w in format f,
// with workers encoders and chunks of size records. columns are a CSV's
// columns; nil takes the first record's, as NewRecordWriter does.
func newParallelWriter(w io.Writer, f jobs.Format, columns []string, workers, size int) *parallelWriter {
	workers, size = max(workers, 1), max(size, 1)
	inFlight := 2*workers + 2
	p := &parallelWriter{
		out: w, format: f, columns: columns, size: size,
		work:  make(chan *chunk, inFlight),
		order: make(chan *chunk, inFlight),
		free:  make(chan *chunk, inFlight),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	for range inFlight {
		p.free <- &chunk{ready: make(chan struct{}, 1)}
	}
	for range workers {
		p.wg.Go(p.encode)
	}
	go p.write()
	return p
}

// Rows returns the records taken so far.
func (p *parallelWriter) Rows() int64 { return p.rows }

// WriteRecord takes one record. It blocks while every chunk is in flight.
func (p *parallelWriter) WriteRecord(rec source.Record) error {
	if p.cur == nil {
		select {
		case <-p.stop:
			return p.err
		default:
		}
		select {
		case p.cur = <-p.free:
		case <-p.stop:
			return p.err
		}
		p.cur.first = p.rows
	}
	if p.rows == 0 && p.format == jobs.CSV && p.columns == nil {
		cols, err := (&ResultWriter{}).recordColumns(rec)
		if err != nil {
			return err
		}
		p.columns = cols
	}
	p.cur.recs = append(p.cur.recs, rec)
	p.rows++
	if len(p.cur.recs) == p.size {
		p.send()
	}
	return nil
}

// send hands the chunk gathered to the encoders and the writer; neither
// channel can be full, as they hold at most the chunks there are.
func (p *parallelWriter) send() {
	c := p.cur
	p.cur = nil
	p.work <- c
	p.order <- c
}

// Close writes what is left, waits for it to be written and ends the file
// as a ResultWriter's Close does. It does not close the underlying writer.
func (p *parallelWriter) Close() error {
	if p.cur != nil && len(p.cur.recs) > 0 {
		p.send()
	}
	p.end()
	if p.err != nil {
		return p.err
	}
	tail := newResultWriter(p.out, p.format, p.columns, false)
	tail.resume(p.out, p.rows)
	return tail.Close()
}

// abort stops the encoders and the writer, leaving the file unfinished. The
// writer may be writing to the underlying writer: make its writes fail
// first (a pipe closed with an error) for abort not to wait on them.
func (p *parallelWriter) abort() { p.end() }

// end closes the channels and waits for every goroutine to return.
func (p *parallelWriter) end() {
	if p.ended {
		return
	}
	p.ended = true
	close(p.work)
	close(p.order)
	p.wg.Wait()
	<-p.done
}

// encode encodes chunks until there are no more, with a ResultWriter of its
// own.
func (p *parallelWriter) encode() {
	var enc *ResultWriter
	for c := range p.work {
		if enc == nil {
			// The first record's columns are known once a chunk is sent.
			enc = newResultWriter(nil, p.format, p.columns, false)
		}
		c.err = encodeChunk(enc, c)
		clear(c.recs) // the records are garbage now
		c.recs = c.recs[:0]
		c.ready <- struct{}{}
	}
}

func encodeChunk(enc *ResultWriter, c *chunk) error {
	c.buf.Reset()
	enc.resume(&c.buf, c.first)
	for _, rec := range c.recs {
		if err := enc.WriteRecord(rec); err != nil {
			return err
		}
	}
	return enc.flush()
}

// write writes the chunks in order as they are encoded; after an error it
// only gives them back.
func (p *parallelWriter) write() {
	defer close(p.done)
	for c := range p.order {
		<-c.ready
		if p.err == nil {
			err := c.err
			if err == nil {
				if _, werr := p.out.Write(c.buf.Bytes()); werr != nil {
					err = fmt.Errorf("write result: %w", werr)
				}
			}
			if err != nil {
				p.err = err
				close(p.stop)
			}
		}
		p.free <- c
	}
}
