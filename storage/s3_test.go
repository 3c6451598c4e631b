package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/internal/s3server"
	"github.com/creditrun/creditrun/storage"
)

// The S3 tests run on a real versitygw (internal/s3server), which checks
// signatures, presigned-URL expiry and tags as S3 does.

const partSize = storage.MinPartSizeBytes

// newS3 returns an S3 backend on bucket of srv, creating the bucket, with
// 5 MiB parts; edit changes the config first.
func newS3(t *testing.T, srv *s3server.Server, bucket string, edit func(*storage.S3Config)) *storage.S3 {
	t.Helper()
	cfg := storage.S3Config{
		Bucket:        bucket,
		Endpoint:      srv.Endpoint(),
		Region:        srv.Region(),
		CreateBucket:  true,
		PartSizeBytes: partSize,
		Credentials:   credentials.NewStaticCredentialsProvider(srv.AccessKey(), srv.SecretKey(), ""),
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := storage.NewS3(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s
}

// payload returns n deterministic bytes that do not compress.
func payload(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	_, _ = r.Read(b)
	return b
}

// stream hides every method of r but Read, so nothing can seek or learn
// its length: the upload must stream.
type stream struct{ r io.Reader }

func (s stream) Read(p []byte) (int, error) { return s.r.Read(p) }

// uploadsOf lists the unfinished multipart uploads of key.
func uploadsOf(t *testing.T, s *storage.S3, key string) []string {
	t.Helper()
	out, err := s.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
		Bucket: aws.String(s.Bucket()), Prefix: aws.String(key),
	})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	var ids []string
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) == key {
			ids = append(ids, aws.ToString(u.UploadId))
		}
	}
	return ids
}

// objectTags reads key's tags with GetObjectTagging, not through S3.Tags.
func objectTags(t *testing.T, s *storage.S3, key string) map[string]string {
	t.Helper()
	out, err := s.Client().GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: aws.String(s.Bucket()), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObjectTagging %s: %v", key, err)
	}
	m := map[string]string{}
	for _, tg := range out.TagSet {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

// objectExists reports whether HeadObject finds key.
func objectExists(t *testing.T, s *storage.S3, key string) bool {
	t.Helper()
	_, err := s.Client().HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String(key)})
	if err == nil {
		return true
	}
	if !strings.Contains(err.Error(), "NotFound") && !strings.Contains(err.Error(), "404") {
		t.Fatalf("HeadObject %s: %v", key, err)
	}
	return false
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestS3PutMultipartAndPresignedGet(t *testing.T) {
	t.Parallel()
	srv := s3server.T(t)
	s := newS3(t, srv, "results", nil)
	ctx := t.Context()

	data := payload(3*partSize+12345, 1) // four parts, the last short
	key := "results/acme/job_1/1.csv"
	n, err := s.Put(ctx, key, stream{bytes.NewReader(data)}, storage.PutOptions{
		ContentType: "text/csv",
		Tags:        map[string]string{storage.HoldTag: storage.HoldNone},
	})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if n != int64(len(data)) {
		t.Fatalf("Put wrote %d bytes, want %d", n, len(data))
	}
	head, err := s.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	// A multipart object's ETag ends in -<parts>.
	if etag := strings.Trim(aws.ToString(head.ETag), `"`); !strings.HasSuffix(etag, "-4") {
		t.Errorf("ETag %q: want a multipart upload of 4 parts", etag)
	}
	if got := objectTags(t, s, key); !cmp.Equal(got, map[string]string{storage.HoldTag: storage.HoldNone}) {
		t.Errorf("tags = %v", got)
	}

	before := time.Now().Truncate(time.Second)
	u, exp, err := s.URL(ctx, key, 15*time.Minute)
	if err != nil {
		t.Fatalf("URL: %v", err)
	}
	if exp.Before(before.Add(15*time.Minute)) || exp.After(time.Now().Add(15*time.Minute)) {
		t.Errorf("expires %v, want 15 minutes from now", exp)
	}
	if !strings.HasPrefix(u, srv.Endpoint()+"/results/results/acme/job_1/1.csv?") {
		t.Errorf("URL %q is not path-style on the endpoint", u)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	got, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET presigned URL: %s", resp.Status)
	}
	if want := sha256.Sum256(data); got != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("GET presigned URL: %d bytes that differ from the %d put", got, len(data))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv" {
		t.Errorf("Content-Type %q", ct)
	}

	// A small object goes in one PutObject, with its tags too.
	small := "results/acme/job_1/2.csv"
	if n, err := s.Put(ctx, small, strings.NewReader("id\n1\n"), storage.PutOptions{Tags: map[string]string{storage.HoldTag: storage.HoldUnpaid}}); err != nil || n != 5 {
		t.Fatalf("Put small = %d, %v", n, err)
	}
	if got := objectTags(t, s, small); got[storage.HoldTag] != storage.HoldUnpaid {
		t.Errorf("tags of the small object = %v", got)
	}

	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if objectExists(t, s, key) {
		t.Fatal("the object is still there after Delete")
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	if code, _, _ := get(t, u); code != http.StatusNotFound {
		t.Errorf("GET of a deleted object = %d, want 404", code)
	}
}

func TestS3PresignedURLForgedOrExpired(t *testing.T) {
	t.Parallel()
	srv := s3server.T(t)
	clk := &clock{t: time.Now()}
	s := newS3(t, srv, "links", func(c *storage.S3Config) { c.NowFunc = clk.now })
	ctx := t.Context()
	key := "results/acme/job_2/1.jsonl"
	other := "results/acme/job_2/2.jsonl"
	for _, k := range []string{key, other} {
		if _, err := s.Put(ctx, k, strings.NewReader(`{"id":"x"}`+"\n"), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	good, _, err := s.URL(ctx, key, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code, body, _ := get(t, good); code != http.StatusOK || body != `{"id":"x"}`+"\n" {
		t.Fatalf("GET of a good link = %d %q", code, body)
	}

	parsed, err := url.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	forge := func(edit func(u *url.URL, q url.Values)) string {
		u := *parsed
		q := u.Query()
		edit(&u, q)
		u.RawQuery = q.Encode()
		return u.String()
	}
	cases := map[string]string{
		"signature altered": forge(func(_ *url.URL, q url.Values) {
			sig := []byte(q.Get("X-Amz-Signature"))
			if sig[len(sig)-1] == '0' {
				sig[len(sig)-1] = '1'
			} else {
				sig[len(sig)-1] = '0'
			}
			q.Set("X-Amz-Signature", string(sig))
		}),
		"another key":       forge(func(u *url.URL, _ url.Values) { u.Path = strings.Replace(u.Path, "1.jsonl", "2.jsonl", 1) }),
		"expiry lengthened": forge(func(_ *url.URL, q url.Values) { q.Set("X-Amz-Expires", "604800") }),
		"no signature":      forge(func(_ *url.URL, q url.Values) { q.Del("X-Amz-Signature") }),
		"other secret": func() string {
			bad := newS3(t, srv, "links", func(c *storage.S3Config) {
				c.Credentials = credentials.NewStaticCredentialsProvider(srv.AccessKey(), "not-the-secret-0123456789", "")
				c.CreateBucket = false
			})
			u, _, err := bad.URL(ctx, key, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}(),
	}
	// Signed an hour ago for 15 minutes: expired 45 minutes ago.
	clk.add(-time.Hour)
	expired, exp, err := s.URL(ctx, key, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Before(time.Now()) {
		t.Fatalf("expires_at %v of the expired link is not in the past", exp)
	}
	cases["expired"] = expired

	for name, u := range cases {
		t.Run(name, func(t *testing.T) {
			if u == good {
				t.Fatal("the forged link is the good one")
			}
			want := http.StatusForbidden
			if name == "no signature" {
				want = http.StatusBadRequest // AuthorizationQueryParametersError, as on AWS
			}
			code, body, _ := get(t, u)
			if code != want {
				t.Fatalf("GET = %d %q, want %d", code, body, want)
			}
			if strings.Contains(body, `"id":"x"`) {
				t.Fatal("the refusal carries the object")
			}
		})
	}
}

func TestS3Tags(t *testing.T) {
	t.Parallel()
	srv := s3server.T(t)
	s := newS3(t, srv, "tags", nil)
	ctx := t.Context()
	key := "results/acme/job_3/1.csv"
	data := payload(partSize+1, 3) // two parts: tags go with CreateMultipartUpload
	if _, err := s.Put(ctx, key, stream{bytes.NewReader(data)}, storage.PutOptions{Tags: map[string]string{storage.HoldTag: storage.HoldUnpaid}}); err != nil {
		t.Fatal(err)
	}
	if got := objectTags(t, s, key); !cmp.Equal(got, map[string]string{storage.HoldTag: storage.HoldUnpaid}) {
		t.Fatalf("tags after Put = %v", got)
	}
	for _, v := range []string{storage.HoldPaid, storage.HoldWaived, storage.HoldNone} {
		if err := s.SetTags(ctx, key, map[string]string{storage.HoldTag: v}); err != nil {
			t.Fatalf("SetTags %s: %v", v, err)
		}
		if got := objectTags(t, s, key); !cmp.Equal(got, map[string]string{storage.HoldTag: v}) {
			t.Fatalf("tags after SetTags %s = %v", v, got)
		}
		got, err := s.Tags(ctx, key)
		if err != nil || got[storage.HoldTag] != v {
			t.Fatalf("Tags = %v, %v; want %s", got, err, v)
		}
	}
	if err := s.SetTags(ctx, "results/acme/job_3/9.csv", map[string]string{storage.HoldTag: storage.HoldPaid}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("SetTags of a missing object = %v, want ErrNotFound", err)
	}
	if _, err := s.Tags(ctx, "results/acme/job_3/9.csv"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Tags of a missing object = %v, want ErrNotFound", err)
	}
}

func TestS3InvalidKeysAndConfig(t *testing.T) {
	t.Parallel()
	srv := s3server.T(t)
	s := newS3(t, srv, "keys", nil)
	ctx := t.Context()
	for _, key := range []string{"", "/abs", "a//b", "a/../b", "a/.meta/b"} {
		if _, err := s.Put(ctx, key, strings.NewReader("x"), storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v", key, err)
		}
		if _, _, err := s.URL(ctx, key, time.Minute); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("URL(%q) = %v", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v", key, err)
		}
		if err := s.SetTags(ctx, key, nil); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("SetTags(%q) = %v", key, err)
		}
	}
	for _, ttl := range []time.Duration{0, -time.Second, 500 * time.Millisecond, 8 * 24 * time.Hour} {
		if _, _, err := s.URL(ctx, "a/b", ttl); err == nil {
			t.Errorf("URL with ttl %v: no error", ttl)
		}
	}
	for name, cfg := range map[string]storage.S3Config{
		"no bucket":      {},
		"small parts":    {Bucket: "b", PartSizeBytes: 1 << 20},
		"bad endpoint":   {Bucket: "b", Endpoint: "127.0.0.1:9000"},
		"negative retry": {Bucket: "b", RetryMaxAttempts: -1},
	} {
		if _, err := storage.NewS3(ctx, cfg); err == nil {
			t.Errorf("NewS3 with %s: no error", name)
		}
	}
}

func TestS3CheckAndBucketCreation(t *testing.T) {
	t.Parallel()
	srv := s3server.T(t)
	ctx := t.Context()
	s := newS3(t, srv, "later", func(c *storage.S3Config) { c.CreateBucket = false })
	if err := s.Check(ctx); err == nil {
		t.Fatal("Check passes on a missing bucket")
	}
	if _, err := s.Put(ctx, "a/b", strings.NewReader("x"), storage.PutOptions{}); err == nil {
		t.Fatal("Put into a missing bucket succeeded")
	}
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatalf("EnsureBucket: %v", err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check after EnsureBucket: %v", err)
	}
	// Creating at start is idempotent, from any number of processes.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { newS3(t, srv, "later", nil) })
	}
	wg.Wait()
	fresh := newS3(t, srv, "fresh", nil)
	if err := fresh.Check(ctx); err != nil {
		t.Fatalf("Check of a bucket NewS3 created: %v", err)
	}
	out, err := s.Client().ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	if !cmp.Equal(names, []string{"fresh", "later"}) {
		t.Fatalf("buckets = %v", names)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	down := newS3(t, srv, "fresh", func(c *storage.S3Config) { c.CreateBucket = false; c.RetryMaxAttempts = 1 })
	if err := down.Check(ctx); err == nil {
		t.Fatal("Check passes with the server down")
	}
	if _, err := storage.NewS3(ctx, storage.S3Config{
		Bucket: "fresh", Endpoint: srv.Endpoint(), CreateBucket: true, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey(), srv.SecretKey(), ""),
	}); err == nil {
		t.Fatal("NewS3 with CreateBucket succeeds with the server down")
	}
}

// failingReader gives n bytes of data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestS3PutReaderFailsAborts(t *testing.T) {
	t.Parallel()
	srv := s3server.T(t)
	s := newS3(t, srv, "readfail", nil)
	errBoom := errors.New("boom")
	for name, size := range map[string]int{"in the first part": 1000, "after two parts": 2*partSize + 10} {
		t.Run(name, func(t *testing.T) {
			key := "results/acme/job_4/" + strings.ReplaceAll(name, " ", "_") + ".csv"
			_, err := s.Put(t.Context(), key, &failingReader{data: payload(size, 4), err: errBoom}, storage.PutOptions{})
			if !errors.Is(err, errBoom) {
				t.Fatalf("Put = %v, want the reader's error", err)
			}
			if ids := uploadsOf(t, s, key); len(ids) != 0 {
				t.Fatalf("multipart uploads left: %v", ids)
			}
			if objectExists(t, s, key) {
				t.Fatal("an object was stored")
			}
		})
	}
}

func TestS3PutCanceledAborts(t *testing.T) {
	t.Parallel()
	srv := s3server.T(t)
	s := newS3(t, srv, "cancel", nil)
	key := "results/acme/job_5/1.csv"
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, key, pr, storage.PutOptions{})
		_ = pr.CloseWithError(errors.New("put returned"))
		errc <- err
	}()
	data := payload(4*partSize, 5)
	if _, err := pw.Write(data[:partSize+1]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the multipart upload to start", func() bool { return len(uploadsOf(t, s, key)) == 1 })
	cancel()
	_, _ = pw.Write(data[partSize+1:]) // the next read sees the cancel
	_ = pw.Close()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	if ids := uploadsOf(t, s, key); len(ids) != 0 {
		t.Fatalf("multipart uploads left after a canceled Put: %v", ids)
	}
	if objectExists(t, s, key) {
		t.Fatal("a canceled Put stored an object")
	}
}

// putWhileStopped starts a streamed Put of key, stops srv once its
// multipart upload exists, then feeds the rest of the data and returns the
// channel of Put's error.
func putWhileStopped(t *testing.T, srv *s3server.Server, s *storage.S3, key string) <-chan error {
	t.Helper()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		_, err := s.Put(context.Background(), key, stream{pr}, storage.PutOptions{Tags: map[string]string{storage.HoldTag: storage.HoldNone}})
		_ = pr.CloseWithError(errors.New("put returned"))
		errc <- err
	}()
	data := payload(4*partSize, 6)
	if _, err := pw.Write(data[:partSize+1]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the multipart upload to start", func() bool { return len(uploadsOf(t, s, key)) == 1 })
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_, _ = pw.Write(data[partSize+1:])
		_ = pw.Close()
	}()
	return errc
}

func TestS3ServerStopsMidPut(t *testing.T) {
	t.Parallel()
	srv := s3server.T(t)
	// Two attempts per request keep the test short; the retryer is the SDK's.
	s := newS3(t, srv, "fault", func(c *storage.S3Config) { c.RetryMaxAttempts = 2; c.AbortTimeout = 2 * time.Minute })
	key := "results/acme/job_6/1.csv"

	// Put fails with the server down, keeps trying to abort, and the abort
	// goes through once the server is back.
	abortFailed := make(chan struct{})
	var once sync.Once
	storage.SetAbortFailedFuncForTest(s, func(string, error) { once.Do(func() { close(abortFailed) }) })
	errc := putWhileStopped(t, srv, s, key)
	select {
	case <-abortFailed:
	case err := <-errc:
		t.Fatalf("Put returned before trying to abort: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("no abort was tried")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Fatal("Put succeeded with the server stopped mid-upload")
	} else {
		t.Logf("Put: %v", err)
	}
	if ids := uploadsOf(t, s, key); len(ids) != 0 {
		t.Fatalf("multipart uploads left after the restart: %v", ids)
	}
	if objectExists(t, s, key) {
		t.Fatal("a failed Put stored an object")
	}
}

func TestS3ServerDownThroughAbort(t *testing.T) {
	t.Parallel()
	srv := s3server.T(t)
	// The server stays down past the abort's time limit: versitygw keeps the
	// unfinished upload on disk, and the next Put of the key removes it.
	s := newS3(t, srv, "fault", func(c *storage.S3Config) { c.RetryMaxAttempts = 1; c.AbortTimeout = time.Millisecond })
	key := "results/acme/job_7/1.csv"
	err := <-putWhileStopped(t, srv, s, key)
	if err == nil || !strings.Contains(err.Error(), "abort multipart upload") {
		t.Fatalf("Put = %v, want an upload error joined with the abort's", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	left := uploadsOf(t, s, key)
	if len(left) != 1 {
		t.Fatalf("uploads of %s after the restart = %v, want the one left behind", key, left)
	}
	// Another unfinished upload elsewhere, for AbortUploads.
	if _, err := s.Client().CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String(s.Bucket()), Key: aws.String("results/acme/job_8/1.csv")}); err != nil {
		t.Fatal(err)
	}

	data := payload(partSize+7, 7)
	if n, err := s.Put(t.Context(), key, stream{bytes.NewReader(data)}, storage.PutOptions{}); err != nil || n != int64(len(data)) {
		t.Fatalf("Put again = %d, %v", n, err)
	}
	if ids := uploadsOf(t, s, key); len(ids) != 0 {
		t.Fatalf("uploads of %s after a new Put: %v", key, ids)
	}
	if ids := uploadsOf(t, s, "results/acme/job_8/1.csv"); len(ids) != 1 {
		t.Fatalf("a Put of another key aborted job_8's upload: %v", ids)
	}
	if n, err := s.AbortUploads(t.Context(), "results/", time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("AbortUploads of uploads older than an hour = %d, %v; want 0", n, err)
	}
	if n, err := s.AbortUploads(t.Context(), "results/", time.Time{}); err != nil || n != 1 {
		t.Fatalf("AbortUploads = %d, %v; want 1", n, err)
	}
	if ids := uploadsOf(t, s, "results/acme/job_8/1.csv"); len(ids) != 0 {
		t.Fatalf("uploads left after AbortUploads: %v", ids)
	}
}
