package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/creditrun/creditrun/client"
)

// cutWriter passes a response through until left bytes of its body are
// written, then sends what it has and drops the connection mid-body; with
// stall set, it waits for stall to close before it drops it.
type cutWriter struct {
	http.ResponseWriter
	left  int
	stall <-chan struct{}
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if len(b) <= c.left {
		c.left -= len(b)
		return c.ResponseWriter.Write(b)
	}
	_, _ = c.ResponseWriter.Write(b[:c.left])
	_ = http.NewResponseController(c.ResponseWriter).Flush()
	if c.stall != nil {
		<-c.stall
	}
	panic(http.ErrAbortHandler) // net/http closes the connection
}

// Unwrap lets http.ResponseController reach the connection.
func (c *cutWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// fileLog records the fetches of result files: the Range asked and the
// status answered, by file name.
type fileLog struct {
	mu      sync.Mutex
	fetches []fetchSeen
}

type fetchSeen struct {
	name, rangeHdr string
	status         int
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (l *fileLog) add(f fetchSeen) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fetches = append(l.fetches, f)
}

func (l *fileLog) of(name string) []fetchSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []fetchSeen
	for _, f := range l.fetches {
		if f.name == name {
			out = append(out, f)
		}
	}
	return out
}

// TestDownloadResumes cuts result files mid-way and checks that the client
// resumes them with a Range request, starts over when the server ignores
// the range, and resumes a .part file left by a call that was canceled;
// each file ends byte for byte as the server has it.
func TestDownloadResumes(t *testing.T) {
	s := newStack(t)
	s.queue.start(t)
	account, c, _ := s.account(t, "people-1k-99")
	ctx := t.Context()
	sub, err := c.Download(ctx, client.DownloadRequest{DataType: "people", Query: "*", NumRecords: 25, Format: client.FormatJSONL})
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.WaitJob(ctx, sub.Job.ID)
	if err != nil || job.Status != client.StatusSucceeded || len(job.Results) != 3 {
		t.Fatalf("job %+v, %v", job, err)
	}
	want := map[string][]byte{}
	for _, r := range job.Results {
		resp, err := http.Get(r.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || int64(len(b)) != r.Bytes || r.Bytes < 100 {
			t.Fatalf("%s: %d bytes (%v), the API says %d", r.URL, len(b), err, r.Bytes)
		}
		want[path.Base(strings.SplitN(r.URL, "?", 2)[0])] = b
	}
	same := func(t *testing.T, files []client.DownloadedFile) {
		t.Helper()
		if len(files) != 3 {
			t.Fatalf("%d files", len(files))
		}
		for _, f := range files {
			b, err := os.ReadFile(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, want[filepath.Base(f.Path)]) {
				t.Fatalf("%s differs from the server's file: %d bytes, want %d", f.Path, len(b), len(want[filepath.Base(f.Path)]))
			}
		}
	}

	// front logs each fetch of a result file and, when cut says so, cuts
	// the first fetch of that file at half its size (with stall, it stalls
	// there until the client goes); strip removes the Range of later
	// fetches (a server without ranges).
	front := func(cut string, strip, stall bool) *fileLog {
		log := &fileLog{}
		s.setFront(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if !strings.HasPrefix(r.URL.Path, "/v1/files/") {
				next.ServeHTTP(w, r)
				return
			}
			name := path.Base(r.URL.Path)
			seen := fetchSeen{name: name, rangeHdr: r.Header.Get("Range")}
			first := len(log.of(name)) == 0
			if strip {
				r.Header.Del("Range")
			}
			sw := &statusWriter{ResponseWriter: w}
			defer func() { seen.status = sw.status; log.add(seen) }()
			if name == cut && first {
				cw := &cutWriter{ResponseWriter: sw, left: len(want[name]) / 2}
				if stall {
					cw.stall = r.Context().Done()
				}
				next.ServeHTTP(cw, r)
				return
			}
			next.ServeHTTP(sw, r)
		})
		return log
	}

	t.Run("range", func(t *testing.T) {
		log := front("2.jsonl", false, false)
		files, err := c.DownloadResults(ctx, job.ID, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		same(t, files)
		half := len(want["2.jsonl"]) / 2
		got := log.of("2.jsonl")
		if len(got) != 2 || got[0].rangeHdr != "" || got[1].rangeHdr != "bytes="+strconv.Itoa(half)+"-" || got[1].status != http.StatusPartialContent {
			t.Fatalf("fetches of 2.jsonl: %+v, want a whole one cut and bytes=%d- answered 206", got, half)
		}
		if files[1].Resumed != 1 || files[0].Resumed != 0 || files[2].Resumed != 0 {
			t.Fatalf("resumed %d %d %d, want 0 1 0", files[0].Resumed, files[1].Resumed, files[2].Resumed)
		}
	})

	t.Run("no range support", func(t *testing.T) {
		log := front("3.jsonl", true, false)
		files, err := c.DownloadResults(ctx, job.ID, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		same(t, files)
		got := log.of("3.jsonl")
		if len(got) != 2 || got[1].rangeHdr == "" || got[1].status != http.StatusOK {
			t.Fatalf("fetches of 3.jsonl: %+v, want a range asked and the whole file answered", got)
		}
	})

	t.Run("part file of a canceled call", func(t *testing.T) {
		log := front("1.jsonl", false, true)
		dir := t.TempDir()
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		size := int64(len(want["1.jsonl"]))
		_, err := c.DownloadResults(cctx, job.ID, dir, client.WithDownloadProgress(func(name string, written, total int64) {
			if name == "1.jsonl" && written == size/2 {
				cancel()
			}
		}))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled download: %v", err)
		}
		fi, err := os.Stat(filepath.Join(dir, "1.jsonl."+job.ID+".part"))
		if err != nil || fi.Size() != size/2 {
			t.Fatalf("the canceled call left %v (%v), want half of 1.jsonl", fi, err)
		}
		files, err := c.DownloadResults(ctx, job.ID, dir)
		if err != nil {
			t.Fatal(err)
		}
		same(t, files)
		got := log.of("1.jsonl")
		if last := got[len(got)-1]; last.rangeHdr != "bytes="+strconv.FormatInt(fi.Size(), 10)+"-" || last.status != http.StatusPartialContent || files[0].Resumed != 1 {
			t.Fatalf("fetches of 1.jsonl: %+v, resumed %d; want bytes=%d- answered 206", got, files[0].Resumed, fi.Size())
		}
	})

	t.Run("part file of another job", func(t *testing.T) {
		front("", false, false)
		dir := t.TempDir()
		other := filepath.Join(dir, "1.jsonl.job_other.part")
		if err := os.WriteFile(other, bytes.Repeat([]byte("x"), len(want["1.jsonl"])/2), 0o644); err != nil {
			t.Fatal(err)
		}
		files, err := c.DownloadResults(ctx, job.ID, dir)
		if err != nil {
			t.Fatal(err)
		}
		same(t, files)
		if files[0].Resumed != 0 {
			t.Fatalf("1.jsonl resumed %d times from another job's part", files[0].Resumed)
		}
	})
	s.check(t, account)
}

// TestDownloadNewLinks asks for the links anew when a result link is
// refused as expired, once: a second refusal ends the download.
func TestDownloadNewLinks(t *testing.T) {
	s := newStack(t)
	s.queue.start(t)
	account, c, _ := s.account(t, "people-1k-99")
	sub, err := c.Download(t.Context(), client.DownloadRequest{DataType: "people", Query: "*", NumRecords: 5})
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.WaitJob(t.Context(), sub.Job.ID)
	if err != nil || job.Status != client.StatusSucceeded {
		t.Fatalf("job %+v, %v", job, err)
	}
	var links, refused, expire int
	s.setFront(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/results"):
			links++
		case strings.HasPrefix(r.URL.Path, "/v1/files/") && refused < expire:
			refused++
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":"forbidden","message":"The link has expired."}`)
			return
		}
		next.ServeHTTP(w, r)
	})
	expire = 1
	files, err := c.DownloadResults(t.Context(), job.ID, t.TempDir())
	if err != nil || len(files) != 1 || links != 2 || refused != 1 {
		t.Fatalf("%+v, %v after %d asks for links and %d refusals", files, err, links, refused)
	}

	links, refused, expire = 0, 0, 2
	_, err = c.DownloadResults(t.Context(), job.ID, t.TempDir())
	if !client.IsCode(err, client.CodeForbidden) || links != 2 || refused != 2 {
		t.Fatalf("%v after %d asks for links and %d refusals, want 403 after 2 and 2", err, links, refused)
	}
	s.check(t, account)
}
