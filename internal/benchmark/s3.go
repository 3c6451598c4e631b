package benchmark

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BareUploader uploads files with the SDK's transfer manager alone, set as
// storage.S3 sets it: the floor under creditrun's S3 downloads.
type BareUploader struct {
	client *s3.Client
	tm     *transfermanager.Client
	bucket string
}

// NewBareUploader returns an uploader to bucket through client, with parts
// of partSizeBytes, concurrency of them in flight, and objects under one
// part sent in one PutObject, as storage.S3 does.
func NewBareUploader(client *s3.Client, bucket string, partSizeBytes int64, concurrency int) *BareUploader {
	tm := transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = partSizeBytes
		o.MultipartUploadThreshold = partSizeBytes
		o.Concurrency = concurrency
	})
	return &BareUploader{client: client, tm: tm, bucket: bucket}
}

// Fetch writes object key to the file path, so that Upload can send the
// same bytes again.
func (u *BareUploader) Fetch(ctx context.Context, key, path string) (err error) {
	out, err := u.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &u.bucket, Key: &key}, func(o *s3.Options) {
		// A multipart object has no whole-object checksum to validate: the
		// SDK would log that it skipped it.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(f, out.Body); err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	return nil
}

// Upload uploads the file path to key with tags (an S3 query string, as
// storage.S3 sends them; empty for none), reading it as a plain stream (no
// Seek or ReadAt, as a creditrun worker feeds its uploads), and returns the
// time the upload took, from the file's opening to the transfer manager's
// return.
func (u *BareUploader) Upload(ctx context.Context, path, key, tags, contentType string) (time.Duration, error) {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	in := &transfermanager.UploadObjectInput{
		Bucket: &u.bucket, Key: &key, ContentType: &contentType,
		Body: struct{ io.Reader }{f}, // hide Seek and ReadAt
	}
	if tags != "" {
		in.Tagging = aws.String(tags)
	}
	if _, err := u.tm.UploadObject(ctx, in); err != nil {
		return 0, fmt.Errorf("bare upload %s: %w", key, err)
	}
	return time.Since(start), nil
}
