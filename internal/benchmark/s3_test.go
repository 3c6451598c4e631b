package benchmark

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/creditrun/creditrun/internal/s3server"
	"github.com/creditrun/creditrun/storage"
)

// The bare upload sends back exactly the bytes it fetched, in parts, with
// the tags given: the floor the S3 download is compared with moves the same
// object creditrun's worker wrote.
func TestBareUploaderSendsTheSameBytes(t *testing.T) {
	ctx := t.Context()
	srv := s3server.T(t)
	st, err := storage.NewS3(ctx, storage.S3Config{
		Bucket: "bench", Endpoint: srv.Endpoint(), Region: srv.Region(), CreateBucket: true,
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey(), srv.SecretKey(), ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Three parts of 5 MiB and a bit, each byte depending on its offset.
	body := make([]byte, 3*storage.MinPartSizeBytes+12345)
	for i := range body {
		body[i] = byte(i*7 + i>>13)
	}
	if _, err := st.Put(ctx, "results/a/j/1.csv", bytes.NewReader(body), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	u := NewBareUploader(st.Client(), "bench", storage.MinPartSizeBytes, 2)
	path := filepath.Join(t.TempDir(), "obj")
	if err := u.Fetch(ctx, "results/a/j/1.csv", path); err != nil {
		t.Fatal(err)
	}
	tags := url.Values{storage.HoldTag: {storage.HoldNone}}.Encode()
	d, err := u.Upload(ctx, path, "bare/1.csv", tags, "text/csv")
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 {
		t.Errorf("Upload took %v", d)
	}
	got := readObject(ctx, t, st.Client(), "bare/1.csv")
	if !bytes.Equal(got, body) {
		t.Errorf("bare/1.csv has %d bytes unlike the %d fetched", len(got), len(body))
	}
	tout, err := st.Client().GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: new("bench"), Key: new("bare/1.csv")})
	if err != nil {
		t.Fatal(err)
	}
	if len(tout.TagSet) != 1 || *tout.TagSet[0].Key != storage.HoldTag || *tout.TagSet[0].Value != storage.HoldNone {
		t.Errorf("bare/1.csv tags %+v, want %s=%s", tout.TagSet, storage.HoldTag, storage.HoldNone)
	}
	if err := u.Fetch(ctx, "results/none.csv", path); err == nil {
		t.Error("Fetch of a missing object gave no error")
	}
}

func readObject(ctx context.Context, t *testing.T, c *s3.Client, key string) []byte {
	t.Helper()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: new("bench"), Key: &key}, func(o *s3.Options) {
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
