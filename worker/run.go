package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/storage"
)

// run is one run of one job.
type run struct {
	h   *Handler
	job jobs.Job

	written []string // keys of the result files written, to drop on failure
	tag     string   // the hold tag they were written with
	stage   string   // what the run was doing, for a failure's sentence
	done    int64    // records or items processed, for progress
	dedup   dedupIDs // the ids of the records a dedup job charges
}

func (r *run) run(ctx context.Context) (jobs.Outcome, error) {
	r.tag = storage.HoldNone
	if r.job.Meta.OverageReserved > 0 {
		r.tag = storage.HoldUnpaid
	}
	r.dedup = dedupIDs{r: r, on: r.job.Dedup && !r.job.ChargeAtAcceptance}
	o, err := r.runKind(ctx)
	if err != nil {
		r.dedup.drop(ctx)
	}
	return o, err
}

// runKind runs the job as its kind wants.
func (r *run) runKind(ctx context.Context) (jobs.Outcome, error) {
	switch r.job.Kind {
	case jobs.Search:
		return r.search(ctx)
	case jobs.Download:
		return r.download(ctx)
	case jobs.Enrichment:
		return r.enrich(ctx)
	}
	return jobs.Outcome{}, fmt.Errorf("job %s: unknown kind %q", r.job.ID, r.job.Kind)
}

// search collects the records inline, as one JSON array.
func (r *run) search(ctx context.Context) (jobs.Outcome, error) {
	j := r.job
	r.stage = "searching"
	res, err := r.h.cfg.Source.Search(ctx, j.DataType, j.Query, int(j.NumRecords))
	if err != nil {
		return jobs.Outcome{}, fmt.Errorf("search: %w", err)
	}
	r.stage = "reading records"
	var buf bytes.Buffer
	w := NewRecordWriter(&buf, jobs.JSON, nil)
	o := jobs.Outcome{Found: int64(res.Found)}
	for rec, err := range res.Records {
		if err != nil {
			return jobs.Outcome{}, fmt.Errorf("search: %w", err)
		}
		if err := w.WriteRecord(rec); err != nil {
			return jobs.Outcome{}, err
		}
		if err := r.dedup.add(ctx, rec.ID); err != nil {
			return jobs.Outcome{}, err
		}
		r.step(ctx)
	}
	if err := w.Close(); err != nil {
		return jobs.Outcome{}, err
	}
	if err := r.dedup.finish(ctx, &o); err != nil {
		return jobs.Outcome{}, err
	}
	o.Delivered = w.Rows()
	o.Records = buf.Bytes()
	return o, nil
}

// download streams the records into result files of PartSize records each;
// a download that finds nothing still gets one (empty) file.
func (r *run) download(ctx context.Context) (jobs.Outcome, error) {
	j := r.job
	r.stage = "searching"
	res, err := r.h.cfg.Source.Search(ctx, j.DataType, j.Query, int(j.NumRecords))
	if err != nil {
		return jobs.Outcome{}, fmt.Errorf("search: %w", err)
	}
	cols, err := r.columns()
	if err != nil {
		return jobs.Outcome{}, err
	}
	o := jobs.Outcome{Found: int64(res.Found)}
	var p *part
	defer func() { p.abort() }()
	for rec, err := range res.Records {
		r.stage = "reading records"
		if err != nil {
			return jobs.Outcome{}, fmt.Errorf("search: %w", err)
		}
		if p == nil {
			p = r.openRecordPart(ctx, len(o.Results)+1, cols, min(int64(res.Found), j.NumRecords)-o.Delivered)
		}
		r.stage = "writing results"
		if err := p.w.WriteRecord(rec); err != nil {
			return jobs.Outcome{}, p.fail(err)
		}
		if err := r.dedup.add(ctx, rec.ID); err != nil {
			return jobs.Outcome{}, p.fail(err)
		}
		o.Delivered++
		r.step(ctx)
		if p.w.Rows() == r.h.cfg.PartSize {
			f, err := p.finish()
			if err != nil {
				return jobs.Outcome{}, err
			}
			o.Results = append(o.Results, f)
			p = nil
		}
	}
	if p == nil && len(o.Results) == 0 {
		p = r.openRecordPart(ctx, 1, cols, 0)
	}
	if p != nil {
		r.stage = "writing results"
		f, err := p.finish()
		if err != nil {
			return jobs.Outcome{}, err
		}
		o.Results = append(o.Results, f)
	}
	if err := r.dedup.finish(ctx, &o); err != nil {
		return jobs.Outcome{}, err
	}
	return o, nil
}

// enrich matches the job's items and writes one row per item to one file.
func (r *run) enrich(ctx context.Context) (jobs.Outcome, error) {
	j := r.job
	r.stage = "reading the items"
	raw, err := r.h.cfg.Service.Items(ctx, j.Account, j.ID)
	if err != nil {
		return jobs.Outcome{}, fmt.Errorf("items: %w", err)
	}
	items := make([]source.Item, len(raw))
	for i, it := range raw {
		items[i] = it
	}
	r.stage = "matching"
	stream, err := r.h.cfg.Source.Match(ctx, j.DataType, j.MatchOn, items)
	if err != nil {
		return jobs.Outcome{}, fmt.Errorf("match: %w", err)
	}
	cols, err := r.columns()
	if err != nil {
		return jobs.Outcome{}, err
	}
	var mw *ResultWriter
	p := r.openPart(ctx, 1, func(w io.Writer) rowWriter {
		mw = NewMatchWriter(w, j.Format, cols)
		return mw
	})
	defer func() { p.abort() }()
	var o jobs.Outcome
	for m, err := range stream {
		r.stage = "matching"
		if err != nil {
			return jobs.Outcome{}, p.fail(fmt.Errorf("match: %w", err))
		}
		r.stage = "writing results"
		if err := mw.WriteMatch(m); err != nil {
			return jobs.Outcome{}, p.fail(err)
		}
		if m.Matched {
			o.Delivered++
			if err := r.dedup.add(ctx, m.Record.ID); err != nil {
				return jobs.Outcome{}, p.fail(err)
			}
		}
		r.step(ctx)
	}
	f, err := p.finish()
	p = nil
	if err != nil {
		return jobs.Outcome{}, err
	}
	o.Found = o.Delivered
	o.Results = []jobs.ResultFile{f}
	if err := r.dedup.finish(ctx, &o); err != nil {
		return jobs.Outcome{}, err
	}
	return o, nil
}

// columns are a CSV's columns from the source, or nil (the first record's).
func (r *run) columns() ([]string, error) {
	fs, ok := r.h.cfg.Source.(FieldSource)
	if !ok || r.job.Format != jobs.CSV {
		return nil, nil
	}
	cols, err := fs.Fields(r.job.DataType)
	if err != nil {
		return nil, fmt.Errorf("fields of %s: %w", r.job.DataType, err)
	}
	return cols, nil
}

// step counts one record or item and records progress every ProgressEvery.
// A failure to record progress is not the job's: it is logged.
func (r *run) step(ctx context.Context) {
	r.done++
	if r.done%r.h.cfg.ProgressEvery != 0 {
		return
	}
	p := jobs.Progress{Done: r.done, Total: r.job.NumRecords}
	if err := r.h.cfg.Service.Progress(ctx, r.job.Account, r.job.ID, p); err != nil && ctx.Err() == nil {
		r.h.cfg.Logger.Warn("record progress", "job", r.job.ID, "err", err)
	}
}

// part is one result file being written: the writer feeds a pipe that Put
// reads in another goroutine.
type part struct {
	key    string
	format jobs.Format
	pw     *io.PipeWriter
	w      rowWriter
	put    chan putResult
}

type putResult struct {
	n   int64
	err error
}

// openRecordPart opens result file n of a download, expecting left more
// records (or fewer: the search's limit and count bound what is left, the
// part size bounds the file). A file expected to hold parallelMin records
// or more is encoded on EncodeWorkers goroutines.
func (r *run) openRecordPart(ctx context.Context, n int, cols []string, left int64) *part {
	f, workers := r.job.Format, r.h.cfg.EncodeWorkers
	return r.openPart(ctx, n, func(w io.Writer) rowWriter {
		if workers > 1 && min(left, r.h.cfg.PartSize) >= parallelMin {
			return newParallelWriter(w, f, cols, workers, chunkRecords)
		}
		return NewRecordWriter(w, f, cols)
	})
}

// openPart opens result file n, written by the rowWriter that newWriter
// returns on the file's pipe.
func (r *run) openPart(ctx context.Context, n int, newWriter func(io.Writer) rowWriter) *part {
	j := r.job
	key := storage.ResultKey(j.Account, j.ID, n, j.Format)
	r.written = append(r.written, key)
	pr, pw := io.Pipe()
	p := &part{key: key, format: j.Format, pw: pw, put: make(chan putResult, 1)}
	p.w = newWriter(pw)
	opts := storage.PutOptions{ContentType: ContentType(j.Format), Tags: map[string]string{storage.HoldTag: r.tag}}
	go func() {
		n, err := r.h.cfg.Storage.Put(ctx, key, pr, opts)
		// Whatever Put did, the writer must not block on a pipe no one reads.
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.CloseWithError(errStoppedReading)
		}
		p.put <- putResult{n, err}
	}()
	return p
}

// finish ends the file and waits for it to be stored.
func (p *part) finish() (jobs.ResultFile, error) {
	err := p.w.Close()
	p.pw.CloseWithError(err) // nil: EOF, the end of the file
	res := <-p.put
	p.put = nil
	switch {
	case res.err != nil:
		return jobs.ResultFile{}, fmt.Errorf("store %s: %w", p.key, res.err)
	case err != nil:
		return jobs.ResultFile{}, fmt.Errorf("store %s: %w", p.key, err)
	}
	return jobs.ResultFile{Key: p.key, Format: p.format, Records: p.w.Rows(), Bytes: res.n}, nil
}

// fail stops the upload, so that nothing is stored, and returns err.
func (p *part) fail(err error) error {
	p.pw.CloseWithError(err)
	<-p.put
	p.put = nil
	if pw, ok := p.w.(*parallelWriter); ok {
		pw.abort() // its writes fail now, so it ends without waiting on them
	}
	return err
}

// abort stops an upload that is still going; it does nothing on nil or a
// finished part.
func (p *part) abort() {
	if p == nil || p.put == nil {
		return
	}
	_ = p.fail(errAborted)
}

var (
	// errStoppedReading is what writes get when Put returned without
	// reading its input to the end.
	errStoppedReading = errors.New("storage stopped reading before the end")
	errAborted        = errors.New("run aborted")
)
