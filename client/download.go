package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrNoResultFiles is returned by DownloadResults for a job whose results
// are not files: a search, whose records GetResults returns, or a job
// whose files were deleted past their retention.
var ErrNoResultFiles = errors.New("creditrun client: the job has no result files")

// ErrSizeMismatch is returned by DownloadResults when a file's bytes are
// not the size the API gave for it.
var ErrSizeMismatch = errors.New("creditrun client: result file size mismatch")

// maxCuts bounds how often one file's fetch resumes after a cut, however
// much each try got.
const maxCuts = 64

// DownloadedFile is a result file DownloadResults wrote.
type DownloadedFile struct {
	// Path is where it was written: the directory and the file's name.
	Path string
	// Result is the file as the API listed it.
	Result Result
	// Resumed counts the fetches that went on from where a cut one stopped
	// (a Range request), this call and a .part file from an earlier call.
	Resumed int
}

// DownloadOption configures DownloadResults.
type DownloadOption func(*downloadConfig)

type downloadConfig struct {
	progress func(name string, written, total int64)
}

// WithDownloadProgress calls f as bytes of each file are written: its
// name, the bytes written so far (a resumed file starts where it was) and
// its size.
func WithDownloadProgress(f func(name string, written, total int64)) DownloadOption {
	return func(d *downloadConfig) { d.progress = f }
}

// DownloadResults fetches every result file of a succeeded download or
// enrichment into dir (made if missing), each under its own name (1.csv,
// 2.csv, … as the API names them), and returns them in order.
//
// Files are streamed to disk, never held in memory. Each is written to
// NAME.JOB.part first and renamed to NAME once its size is the one the API
// gave. A fetch cut mid-way goes on from where it stopped with a Range
// request (If-Range guards that the file did not change); a server that
// ignores the range sends it whole again. A .part file that an earlier
// call for the same job left (cut, or canceled) is resumed the same way. A
// file NAME already there with the size the API gives is taken as complete
// and not fetched again; another is replaced. Links that expired meanwhile
// are asked for anew.
//
// It returns the *Error of GetResults (402 overage_unpaid while the job's
// hold is unpaid, 409 conflict while it has not succeeded),
// ErrNoResultFiles for a search, an error wrapping ErrSizeMismatch, or an
// error wrapping ctx.Err() when ctx ends (the .part file stays to resume).
func (c *Client) DownloadResults(ctx context.Context, jobID, dir string, opts ...DownloadOption) ([]DownloadedFile, error) {
	var cfg downloadConfig
	for _, o := range opts {
		o(&cfg)
	}
	res, err := c.GetResults(ctx, jobID)
	if err != nil {
		return nil, err
	}
	if len(res.Results) == 0 && (len(res.Records) > 0 || res.ResultsExpiredAt != nil) {
		return nil, fmt.Errorf("%w: job %s", ErrNoResultFiles, jobID)
	}
	names := make([]string, len(res.Results))
	seen := map[string]bool{}
	for i, r := range res.Results {
		names[i] = resultName(i, r)
		if seen[names[i]] {
			return nil, fmt.Errorf("creditrun client: job %s names two result files %s", jobID, names[i])
		}
		seen[names[i]] = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creditrun client: results of job %s: %w", jobID, err)
	}
	d := &download{c: c, job: jobID, links: res.Results, cfg: cfg}
	out := make([]DownloadedFile, 0, len(res.Results))
	for i := range res.Results {
		f, err := d.file(ctx, i, filepath.Join(dir, names[i]))
		if err != nil {
			return out, fmt.Errorf("creditrun client: result file %s of job %s: %w", names[i], jobID, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// safeName is a result file name that is safe to write as is.
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$`)

// resultName is the name of the i-th result file: the last segment of its
// link's path (results/<account>/<job>/1.csv), or, when that is not a safe
// file name, its number and its format's extension.
func resultName(i int, r Result) string {
	if u, err := url.Parse(r.URL); err == nil {
		if name := path.Base(u.Path); safeName.MatchString(name) {
			return name
		}
	}
	ext := string(r.Format)
	if !safeName.MatchString(ext) {
		ext = "dat"
	}
	return strconv.Itoa(i+1) + "." + ext
}

// download is one DownloadResults call.
type download struct {
	c     *Client
	job   string
	links []Result
	cfg   downloadConfig
	// refreshed says the links were asked for anew once already.
	refreshed bool
}

// file fetches the i-th result file to final.
func (d *download) file(ctx context.Context, i int, final string) (DownloadedFile, error) {
	want := d.links[i].Bytes
	out := DownloadedFile{Path: final, Result: d.links[i]}
	name := filepath.Base(final)
	if fi, err := os.Stat(final); err == nil && fi.Mode().IsRegular() && fi.Size() == want {
		d.report(name, want, want)
		return out, nil
	}
	// The job's id in the name keeps a part of another job's file of the
	// same name from being resumed.
	tag := d.job
	if !safeName.MatchString(tag) {
		tag = "job"
	}
	part := final + "." + tag + ".part"
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return out, err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return out, err
	}
	if off > want {
		if off, err = restart(f); err != nil {
			return out, err
		}
	}
	var (
		validator string // If-Range: the strong ETag or Last-Modified seen
		fails     int    // consecutive tries that got nothing
		cuts      int
	)
	for off < want {
		t := fetch{url: d.links[i].URL, off: off, want: want, validator: validator, name: name}
		if off > 0 {
			out.Resumed++
		}
		got, err := d.fetch(ctx, f, &t)
		validator = t.validator
		off = t.off
		if err == nil && off < want {
			err = fmt.Errorf("the answer ended at byte %d of %d", off, want)
		}
		if err == nil {
			break
		}
		var fatal *fatalError
		switch {
		case ctx.Err() != nil:
			return out, ctx.Err()
		case errors.As(err, &fatal):
			return out, fatal.err
		}
		if got > 0 {
			fails = 0
			cuts++
		} else {
			fails++
		}
		if fails >= d.c.retry.MaxAttempts || cuts > maxCuts {
			return out, err
		}
		wait := t.retryAfter
		if wait < 0 {
			wait = d.c.retry.backoff(max(fails, 1))
		}
		if err := d.c.retry.sleep(ctx, wait); err != nil {
			return out, err
		}
	}
	if want == 0 {
		if _, err := restart(f); err != nil {
			return out, err
		}
	}
	if err := f.Sync(); err != nil {
		return out, err
	}
	if fi, err := f.Stat(); err != nil {
		return out, err
	} else if fi.Size() != want {
		return out, fmt.Errorf("%w: wrote %d bytes, want %d", ErrSizeMismatch, fi.Size(), want)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return out, err
	}
	if err := os.Rename(part, final); err != nil {
		return out, err
	}
	return out, nil
}

// restart empties f for a fetch from the start.
func restart(f *os.File) (int64, error) {
	if err := f.Truncate(0); err != nil {
		return 0, err
	}
	return f.Seek(0, io.SeekStart)
}

// fetch is one GET of a result file from off; d.fetch moves off and keeps
// the file's validator.
type fetch struct {
	url       string
	name      string
	off, want int64
	validator string
	// retryAfter is the wait a 429 or 503 asked for, -1 for none.
	retryAfter time.Duration
}

// fatalError ends a file's fetch without another try.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }

// fetch GETs t's file from t.off into f at t.off, and returns the bytes it
// wrote. A failure worth another try (a cut, a 429 or 503, a transport
// error) is returned as is; one that is not as a *fatalError.
func (d *download) fetch(ctx context.Context, f *os.File, t *fetch) (int64, error) {
	t.retryAfter = -1
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	if err != nil {
		return 0, &fatalError{err}
	}
	// A result link takes no Authorization: it is presigned.
	if d.c.userAgent != "" {
		req.Header.Set("User-Agent", d.c.userAgent)
	}
	// identity keeps the transport from asking for gzip, so that offsets
	// and sizes are those of the file.
	req.Header.Set("Accept-Encoding", "identity")
	if t.off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(t.off, 10)+"-")
		if t.validator != "" {
			req.Header.Set("If-Range", t.validator)
		}
	}
	resp, err := d.c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, total, ok := contentRange(resp.Header.Get("Content-Range"))
		switch {
		case !ok || start != t.off:
			// Not the range asked for: take it whole next time.
			asked := t.off
			if t.off, err = restart(f); err != nil {
				return 0, &fatalError{err}
			}
			t.validator = ""
			return 0, fmt.Errorf("the server answered range %q for bytes=%d-", resp.Header.Get("Content-Range"), asked)
		case total >= 0 && total != t.want:
			return 0, &fatalError{fmt.Errorf("%w: the server has %d bytes, the API said %d", ErrSizeMismatch, total, t.want)}
		}
	case http.StatusOK:
		// The whole file: the server ignored the range, or the file
		// changed since (If-Range).
		if t.off > 0 {
			if t.off, err = restart(f); err != nil {
				return 0, &fatalError{err}
			}
		}
		if resp.ContentLength >= 0 && resp.ContentLength != t.want {
			return 0, &fatalError{fmt.Errorf("%w: the server sends %d bytes, the API said %d", ErrSizeMismatch, resp.ContentLength, t.want)}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if t.off, err = restart(f); err != nil {
			return 0, &fatalError{err}
		}
		t.validator = ""
		return 0, errors.New("the server refused the range; fetching the file whole")
	case http.StatusForbidden:
		// An expired link: ask for the links anew, once per call.
		apiErr := readError(resp)
		if d.refreshed {
			return 0, &fatalError{apiErr}
		}
		d.refreshed = true
		res, err := d.c.GetResults(ctx, d.job)
		if err != nil {
			return 0, &fatalError{fmt.Errorf("ask for new links after %w: %w", apiErr, err)}
		}
		if len(res.Results) != len(d.links) {
			return 0, &fatalError{fmt.Errorf("the job now has %d result files, not %d", len(res.Results), len(d.links))}
		}
		d.links = res.Results
		for i := range d.links {
			if resultName(i, d.links[i]) == t.name {
				t.url = d.links[i].URL
			}
		}
		return 0, apiErr
	default:
		apiErr := readError(resp)
		if !retryStatus(resp.StatusCode) {
			return 0, &fatalError{apiErr}
		}
		if wait, ok := d.c.retry.wait(1, resp.Header.Get("Retry-After")); ok {
			t.retryAfter = wait
		}
		return 0, apiErr
	}
	if v := resp.Header.Get("ETag"); v != "" && !strings.HasPrefix(v, "W/") {
		t.validator = v
	} else if v := resp.Header.Get("Last-Modified"); v != "" {
		t.validator = v
	}
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return 0, &fatalError{err}
	}
	w := &progressWriter{w: f, done: t.off, total: t.want, name: t.name, report: d.report}
	// Never more than the file's size: a server that sends more is wrong.
	n, err := io.Copy(w, io.LimitReader(resp.Body, t.want-t.off+1))
	t.off += n
	if t.off > t.want {
		return n, &fatalError{fmt.Errorf("%w: the server sends more than %d bytes", ErrSizeMismatch, t.want)}
	}
	if w.err != nil {
		return n, &fatalError{fmt.Errorf("write %s: %w", f.Name(), w.err)}
	}
	if err != nil {
		return n, fmt.Errorf("cut at byte %d of %d: %w", t.off, t.want, err)
	}
	return n, nil
}

// contentRange reads "bytes START-END/TOTAL"; total is -1 for "*".
func contentRange(v string) (start, total int64, ok bool) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, false
	}
	span, size, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, false
	}
	first, _, ok := strings.Cut(span, "-")
	if !ok {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	total = -1
	if size != "*" {
		if total, err = strconv.ParseInt(size, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return start, total, true
}

// report calls the progress callback, if any.
func (d *download) report(name string, written, total int64) {
	if d.cfg.progress != nil {
		d.cfg.progress(name, written, total)
	}
}

// progressWriter writes to w and reports how far the file is.
type progressWriter struct {
	w           io.Writer
	done, total int64
	name        string
	report      func(name string, written, total int64)
	// err is the first error of w, which is the disk's, not the network's.
	err error
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.report(p.name, p.done, p.total)
	if err != nil && p.err == nil {
		p.err = err
	}
	return n, err
}
