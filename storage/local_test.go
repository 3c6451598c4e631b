package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/storage"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newLocal serves a Local on an httptest server, as the API mounts it.
func newLocal(t *testing.T) (*storage.Local, *clock, string) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	dir := filepath.Join(t.TempDir(), "files")
	var l *storage.Local
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { l.Handler().ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	l = storage.NewLocal(dir, srv.URL+"/", secret, clk.now)
	return l, clk, dir
}

func get(t *testing.T, u string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func TestResultKey(t *testing.T) {
	if got := storage.ResultKey("acme", "job_1", 3, jobs.JSONL); got != "results/acme/job_1/3.jsonl" {
		t.Fatalf("ResultKey = %q", got)
	}
	if err := storage.CheckKey(storage.ResultKey("acme", "job_1", 1, jobs.CSV)); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	l, _, dir := newLocal(t)
	ctx := t.Context()
	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
	key := storage.ResultKey("acme", "job_1", 1, jobs.CSV)
	body := strings.Repeat("id,name\nper_1,Ann\n", 10_000)
	n, err := l.Put(ctx, key, strings.NewReader(body), storage.PutOptions{ContentType: "text/csv", Tags: map[string]string{storage.HoldTag: storage.HoldNone}})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(body)) {
		t.Fatalf("Put wrote %d bytes, want %d", n, len(body))
	}
	u, exp, err := l.URL(ctx, key, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 1, 12, 15, 0, 0, time.UTC); !exp.Equal(want) {
		t.Fatalf("expires %v, want %v", exp, want)
	}
	if pu, err := url.Parse(u); err != nil || !pu.IsAbs() || pu.Path != "/v1/files/"+key {
		t.Fatalf("URL %q is not an absolute link to the key (%v)", u, err)
	}
	code, got, h := get(t, u)
	if code != http.StatusOK || got != body {
		t.Fatalf("GET: %d, %d bytes; want 200 and %d bytes", code, len(got), len(body))
	}
	if ct := h.Get("Content-Type"); ct != "text/csv" {
		t.Fatalf("Content-Type %q", ct)
	}

	// Put replaces the object; the tags are the new ones.
	if _, err := l.Put(ctx, key, strings.NewReader("id\n"), storage.PutOptions{ContentType: "text/csv"}); err != nil {
		t.Fatal(err)
	}
	if code, got, _ := get(t, u); code != http.StatusOK || got != "id\n" {
		t.Fatalf("GET after replace: %d %q", code, got)
	}
	tags, err := l.Tags(ctx, key)
	if err != nil || len(tags) != 0 {
		t.Fatalf("tags after replace: %v %v", tags, err)
	}

	// Nothing but the object and its sidecar is left in the directory.
	var files []string
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{".meta/" + key + ".json", key}, files); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}

	if err := l.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := get(t, u); code != http.StatusNotFound {
		t.Fatalf("GET after delete: %d, want 404", code)
	}
	if err := l.Delete(ctx, key); err != nil {
		t.Fatalf("delete of a missing key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "results")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty directories are left after delete: %v", err)
	}
}

func TestTags(t *testing.T) {
	l, _, _ := newLocal(t)
	ctx := t.Context()
	key := "results/acme/job_2/1.json"
	if err := l.SetTags(ctx, key, map[string]string{storage.HoldTag: storage.HoldPaid}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SetTags of a missing object: %v, want ErrNotFound", err)
	}
	if _, err := l.Put(ctx, key, strings.NewReader("[]"), storage.PutOptions{Tags: map[string]string{storage.HoldTag: storage.HoldUnpaid}}); err != nil {
		t.Fatal(err)
	}
	u, _, err := l.URL(ctx, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := get(t, u); code != http.StatusForbidden {
		t.Fatalf("GET of an unpaid object: %d, want 403", code)
	}
	if err := l.SetTags(ctx, key, map[string]string{storage.HoldTag: storage.HoldPaid}); err != nil {
		t.Fatal(err)
	}
	tags, err := l.Tags(ctx, key)
	if err != nil || tags[storage.HoldTag] != storage.HoldPaid {
		t.Fatalf("tags %v, %v", tags, err)
	}
	code, body, h := get(t, u)
	if code != http.StatusOK || body != "[]" {
		t.Fatalf("GET of a paid object: %d %q", code, body)
	}
	if ct := h.Get("Content-Type"); ct != "application/octet-stream" {
		t.Fatalf("default Content-Type %q", ct)
	}
}

func TestLinkRejected(t *testing.T) {
	l, clk, _ := newLocal(t)
	ctx := t.Context()
	key := "results/acme/job_3/1.csv"
	if _, err := l.Put(ctx, key, strings.NewReader("id\n"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	u, _, err := l.URL(ctx, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	q := pu.Query()
	sig, exp := q.Get("sig"), q.Get("expires")
	base := pu.Scheme + "://" + pu.Host

	other := storage.NewLocal(t.TempDir(), base, []byte("another secret, long enough"), clk.now)
	otherURL, _, err := other.URL(ctx, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Repeat("0", len(sig))
	for _, tt := range []struct{ name, url string }{
		{"no signature", base + pu.Path + "?expires=" + exp},
		{"no expiry", base + pu.Path + "?sig=" + sig},
		{"forged signature", base + pu.Path + "?expires=" + exp + "&sig=" + forged},
		{"signature of another secret", otherURL},
		{"later expiry", fmt.Sprintf("%s%s?expires=%d&sig=%s", base, pu.Path, clk.now().Add(time.Hour).Unix(), sig)},
		{"another key", base + "/v1/files/results/acme/job_3/2.csv?expires=" + exp + "&sig=" + sig},
		{"not hex", base + pu.Path + "?expires=" + exp + "&sig=zz"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, _ := get(t, tt.url); code != http.StatusForbidden {
				t.Fatalf("GET: %d, want 403", code)
			}
		})
	}
	if code, _, _ := get(t, u); code != http.StatusOK {
		t.Fatalf("the good link: %d", code)
	}
	clk.add(59 * time.Second)
	if code, _, _ := get(t, u); code != http.StatusOK {
		t.Fatalf("the good link a second before it expires: %d", code)
	}
	clk.add(2 * time.Second)
	code, body, _ := get(t, u)
	if code != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Fatalf("an expired link: %d %s", code, body)
	}
}

func TestTraversal(t *testing.T) {
	l, _, dir := newLocal(t)
	ctx := t.Context()
	// A file beside the storage directory, and one inside its sidecar tree.
	secretFile := filepath.Join(filepath.Dir(dir), "secret.txt")
	if err := os.WriteFile(secretFile, []byte("top secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Put(ctx, "results/a/j/1.csv", strings.NewReader("x"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secretFile, filepath.Join(dir, "results", "a", "j", "link.csv")); err != nil {
		t.Fatal(err)
	}

	for _, key := range []string{"", "/etc/passwd", "../secret.txt", "results/../../secret.txt", "results/./a", "results//a", ".meta/results/a/j/1.csv.json", `results\..\x`, "a/\x00"} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			if _, err := l.Put(ctx, key, strings.NewReader("x"), storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Put: %v, want ErrInvalidKey", err)
			}
			if _, _, err := l.URL(ctx, key, time.Minute); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("URL: %v, want ErrInvalidKey", err)
			}
			if err := l.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Delete: %v, want ErrInvalidKey", err)
			}
			if err := l.SetTags(ctx, key, nil); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("SetTags: %v, want ErrInvalidKey", err)
			}
		})
	}

	// Links signed with the right secret for keys that escape, as an
	// attacker who knew the secret would forge them, are still refused.
	pu, _ := url.Parse(mustURL(t, l, "results/a/j/1.csv"))
	base := pu.Scheme + "://" + pu.Host
	for _, raw := range []string{
		"/v1/files/..%2f..%2fsecret.txt",
		"/v1/files/results/%2e%2e/%2e%2e/%2e%2e/secret.txt",
		"/v1/files/.meta/results/a/j/1.csv.json",
		"/v1/files/results/a/j/link.csv",
	} {
		t.Run(raw, func(t *testing.T) {
			u := base + raw + "?" + signedQuery(t, l, raw)
			code, body, _ := get(t, u)
			if code == http.StatusOK || strings.Contains(body, "top secret") {
				t.Fatalf("GET %s: %d %q", raw, code, body)
			}
		})
	}
}

// signedQuery signs the key that the handler will see for a raw path, using
// the real secret, so only the key checks stand between it and the disk.
func signedQuery(t *testing.T, l *storage.Local, raw string) string {
	t.Helper()
	p, err := url.PathUnescape(strings.TrimPrefix(raw, "/v1/files/"))
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC).Unix()
	return "expires=" + fmt.Sprint(exp) + "&sig=" + storage.SignForTest(l, p, exp)
}

func mustURL(t *testing.T, l *storage.Local, key string) string {
	t.Helper()
	u, _, err := l.URL(t.Context(), key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestConcurrentPut(t *testing.T) {
	l, _, _ := newLocal(t)
	ctx := t.Context()
	key := "results/acme/job_4/1.jsonl"
	const writers = 8
	bodies := make([]string, writers)
	for i := range bodies {
		bodies[i] = strings.Repeat(fmt.Sprintf("writer %d\n", i), 50_000)
	}
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			tags := map[string]string{"writer": fmt.Sprint(i)}
			if _, err := l.Put(ctx, key, strings.NewReader(bodies[i]), storage.PutOptions{Tags: tags}); err != nil {
				t.Error(err)
			}
		})
	}
	// Read while they write: every read is some writer's whole object.
	u := mustURL(t, l, key)
	for range 20 {
		code, got, _ := get(t, u)
		if code == http.StatusNotFound {
			continue
		}
		if code != http.StatusOK || !isOneOf(got, bodies) {
			t.Fatalf("a read during concurrent Puts: %d, %d bytes, not one writer's object", code, len(got))
		}
	}
	wg.Wait()
	code, got, _ := get(t, u)
	if code != http.StatusOK || !isOneOf(got, bodies) {
		t.Fatalf("after concurrent Puts: %d, %d bytes, not one writer's object", code, len(got))
	}
	tags, err := l.Tags(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("writer %s\n", tags["writer"]); !strings.HasPrefix(got, want) {
		t.Fatalf("the object is %q… but its tags say writer %s", got[:10], tags["writer"])
	}
}

func isOneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func TestPutStopsOnContext(t *testing.T) {
	l, _, dir := newLocal(t)
	ctx, cancel := context.WithCancel(t.Context())
	r := &cancelAfter{n: 3, cancel: cancel}
	if _, err := l.Put(ctx, "results/a/j/1.csv", r, storage.PutOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "results", "a", "j", "1.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a canceled Put left an object: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, ".tmp"))
	if len(entries) != 0 {
		t.Fatalf("a canceled Put left %d temp files", len(entries))
	}
}

// cancelAfter yields bytes forever and cancels after n reads.
type cancelAfter struct {
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	c.n--
	if c.n == 0 {
		c.cancel()
	}
	return copy(p, bytes.Repeat([]byte("x"), len(p))), nil
}

func TestCheck(t *testing.T) {
	l := storage.NewLocal(t.TempDir(), "http://x", []byte("short"), nil)
	if err := l.Check(t.Context()); err == nil {
		t.Fatal("Check passed with a 5-byte secret")
	}
	if _, _, err := l.URL(t.Context(), "a/b", time.Minute); err == nil {
		t.Fatal("URL signed with a 5-byte secret")
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := storage.NewLocal(f, "http://x", secret, nil).Check(t.Context()); err == nil {
		t.Fatal("Check passed on a directory that is a file")
	}
}
