package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

var _ Backend = (*S3)(nil)

// Defaults and limits of S3Config.
const (
	// DefaultS3Region is the region when S3Config.Region is empty.
	DefaultS3Region = "us-east-1"
	// MinPartSizeBytes is S3's smallest part of a multipart upload (the last
	// part excepted).
	MinPartSizeBytes = 5 << 20
	// DefaultPartSizeBytes is S3Config.PartSizeBytes when unset.
	DefaultPartSizeBytes = 8 << 20
	// DefaultS3Concurrency is S3Config.Concurrency when unset.
	DefaultS3Concurrency = 3
	// DefaultAbortTimeout is S3Config.AbortTimeout when unset.
	DefaultAbortTimeout = 30 * time.Second
	// maxPresignTTL is the longest a SigV4 presigned URL may live.
	maxPresignTTL = 7 * 24 * time.Hour
)

// S3Config configures NewS3. Bucket is required; every other field has a
// default.
type S3Config struct {
	// Bucket holds the result objects (CREDITRUN_S3_BUCKET). Required.
	Bucket string
	// Endpoint is the base URL of an S3-compatible server, such as
	// http://127.0.0.1:7070 (CREDITRUN_S3_ENDPOINT). Defaults to AWS's
	// endpoint for Region.
	Endpoint string
	// Region is the bucket's region (CREDITRUN_S3_REGION). Defaults to
	// us-east-1.
	Region string
	// UsePathStyle addresses objects as <endpoint>/<bucket>/<key> rather than
	// <bucket>.<endpoint>/<key>. Defaults to false; NewS3 turns it on when
	// Endpoint is set, as local S3-compatible servers need.
	UsePathStyle bool
	// CreateBucket makes NewS3 create Bucket when it is missing. Defaults to
	// false.
	CreateBucket bool
	// PartSizeBytes is the size of one part of a multipart upload, and the
	// size under which an object is sent in one PutObject. At least
	// MinPartSizeBytes (5 MiB). Defaults to 8 MiB.
	PartSizeBytes int64
	// Concurrency is how many parts of one object upload at once. A Put holds
	// at most Concurrency+2 parts in memory. Defaults to 3.
	Concurrency int
	// AbortTimeout bounds how long a failed Put keeps trying to abort its
	// multipart upload while S3 does not answer, with its own backoff, even
	// when the Put's context has ended. Defaults to 30 seconds.
	AbortTimeout time.Duration
	// RetryMaxAttempts is how many times the SDK's standard retryer tries one
	// request (on throttling, 5xx and connection errors, with exponential
	// backoff). Defaults to the SDK's default, 3.
	RetryMaxAttempts int
	// Credentials sign every request. Defaults to the SDK's default chain
	// (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the shared config files,
	// web identity, the container and instance roles).
	Credentials aws.CredentialsProvider
	// NowFunc tells the signing time of presigned URLs, from which they
	// expire. Defaults to time.Now.
	NowFunc func() time.Time
}

func (c S3Config) withDefaults() S3Config {
	if c.Region == "" {
		c.Region = DefaultS3Region
	}
	if c.Endpoint != "" {
		c.UsePathStyle = true
	}
	if c.PartSizeBytes == 0 {
		c.PartSizeBytes = DefaultPartSizeBytes
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultS3Concurrency
	}
	if c.AbortTimeout == 0 {
		c.AbortTimeout = DefaultAbortTimeout
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
	return c
}

func (c S3Config) validate() error {
	switch {
	case c.Bucket == "":
		return errors.New("s3: no bucket")
	case strings.ContainsAny(c.Bucket, "/ \t\n"):
		return fmt.Errorf("s3: bucket %q is not a bucket name", c.Bucket)
	case c.PartSizeBytes < MinPartSizeBytes:
		return fmt.Errorf("s3: part size %d is under S3's minimum of %d bytes", c.PartSizeBytes, MinPartSizeBytes)
	case c.Concurrency < 1:
		return fmt.Errorf("s3: concurrency %d is not positive", c.Concurrency)
	case c.AbortTimeout < 0:
		return fmt.Errorf("s3: abort timeout %v is negative", c.AbortTimeout)
	case c.RetryMaxAttempts < 0:
		return fmt.Errorf("s3: retry max attempts %d is negative", c.RetryMaxAttempts)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("s3: endpoint %q is not an http or https URL", c.Endpoint)
		}
	}
	return nil
}

// S3 is the Backend of a cluster: objects in one bucket of S3 or of any
// S3-compatible server, uploaded as they stream (multipart, through the
// SDK's transfer manager), with presigned GET links.
//
// Every request goes through the SDK's standard retryer. A Put that fails
// aborts its multipart upload, so no orphan parts stay behind; when S3 does
// not answer even that, the next Put of the same key aborts what is left,
// and AbortUploads sweeps a prefix.
type S3 struct {
	cfg     S3Config
	client  *s3.Client
	presign *s3.PresignClient
	tm      *transfermanager.Client

	// abortFailedFunc, when set (by tests), is called after each failed
	// attempt to abort a multipart upload.
	abortFailedFunc func(uploadID string, err error)
}

// NewS3 returns the S3 backend of cfg, with credentials from
// cfg.Credentials or else the SDK's default chain. With cfg.CreateBucket it
// creates the bucket when missing (see EnsureBucket), and so fails when S3
// cannot be reached; otherwise it makes no request.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	if cfg.RetryMaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(cfg.RetryMaxAttempts))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS config: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.UsePathStyle
	})
	s := &S3{cfg: cfg, client: client}
	s.presign = s3.NewPresignClient(client, func(o *s3.PresignOptions) {
		o.Presigner = clockPresigner{inner: v4.NewSigner(func(so *v4.SignerOptions) {
			so.DisableURIPathEscaping = true // as the S3 client's own presigner
		})}
	})
	s.tm = transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = cfg.PartSizeBytes
		o.MultipartUploadThreshold = cfg.PartSizeBytes
		o.Concurrency = cfg.Concurrency
		// Abort with a fresh context, so a canceled Put still aborts.
		o.FailTimeout = cfg.AbortTimeout
	})
	if cfg.CreateBucket {
		if err := s.EnsureBucket(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Client returns the S3 client, for tests and tools that need more than
// Backend.
func (s *S3) Client() *s3.Client { return s.client }

// Bucket returns the bucket's name.
func (s *S3) Bucket() string { return s.cfg.Bucket }

// EnsureBucket creates the bucket unless it exists. A bucket that another
// process created meanwhile counts as success; one that exists and belongs
// to someone else is an error.
func (s *S3) EnsureBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.cfg.Bucket})
	if err == nil {
		return nil
	}
	if !isNoSuchBucket(err) {
		return fmt.Errorf("s3: bucket %s: %w", s.cfg.Bucket, err)
	}
	in := &s3.CreateBucketInput{Bucket: &s.cfg.Bucket}
	if s.cfg.Region != DefaultS3Region {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(s.cfg.Region),
		}
	}
	if _, err := s.client.CreateBucket(ctx, in); err != nil {
		if _, ok := errors.AsType[*types.BucketAlreadyOwnedByYou](err); ok {
			return nil
		}
		return fmt.Errorf("s3: create bucket %s: %w", s.cfg.Bucket, err)
	}
	return nil
}

// Put implements Backend: a multipart upload through the transfer manager
// (one PutObject for an object under one part), with opts.Tags set at upload.
// First it aborts any unfinished multipart upload of the same key, left by an
// earlier attempt that could not abort its own (a Put of the same key
// running at the same moment, which asynq's at-least-once delivery allows,
// is among them: it fails and its task retries). When the upload fails, Put
// aborts its multipart upload, retrying for up to AbortTimeout, and returns
// the upload's error, joined with the abort's when that failed too.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (int64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	// Best effort: a failure here shows again in the upload.
	_, _ = s.abortUploads(ctx, key, true, time.Time{})

	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	body := &countingReader{r: ctxReader{ctx, r}}
	in := &transfermanager.UploadObjectInput{
		Bucket:      &s.cfg.Bucket,
		Key:         &key,
		Body:        body,
		ContentType: &ct,
	}
	if len(opts.Tags) > 0 {
		in.Tagging = aws.String(encodeTags(opts.Tags))
	}
	if _, err := s.tm.UploadObject(ctx, in); err != nil {
		err = fmt.Errorf("put %s: %w", key, err)
		if mu, ok := errors.AsType[transfermanager.MultipartUploadError](err); ok {
			if aerr := s.abort(ctx, key, mu.UploadID()); aerr != nil {
				err = errors.Join(err, aerr)
			}
		}
		return 0, err
	}
	return body.n, nil
}

// abort aborts the multipart upload id of key, retrying with backoff for up
// to AbortTimeout, even after ctx ends. An upload that is gone already
// counts as aborted.
func (s *S3) abort(ctx context.Context, key, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.AbortTimeout)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket: &s.cfg.Bucket, Key: &key, UploadId: &id,
		})
		if err == nil || isNoSuchUpload(err) {
			return nil
		}
		if s.abortFailedFunc != nil {
			s.abortFailedFunc(id, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("abort multipart upload %s of %s: %w", id, key, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// AbortUploads aborts every unfinished multipart upload whose key starts
// with prefix and that S3 says was initiated before initiatedBefore (the
// zero time: all of them), and returns how many it aborted. The scheduler
// can sweep "results/" with a cutoff of a day ago; a bucket lifecycle rule
// (AbortIncompleteMultipartUpload) does the same on AWS.
func (s *S3) AbortUploads(ctx context.Context, prefix string, initiatedBefore time.Time) (int, error) {
	return s.abortUploads(ctx, prefix, false, initiatedBefore)
}

// abortUploads aborts the unfinished uploads under prefix (of exactly that
// key when exact) initiated before cutoff (any time when zero).
func (s *S3) abortUploads(ctx context.Context, prefix string, exact bool, cutoff time.Time) (int, error) {
	n := 0
	in := &s3.ListMultipartUploadsInput{Bucket: &s.cfg.Bucket, Prefix: &prefix}
	for {
		out, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return n, fmt.Errorf("list multipart uploads under %s: %w", prefix, err)
		}
		for _, u := range out.Uploads {
			k, id := aws.ToString(u.Key), aws.ToString(u.UploadId)
			if exact && k != prefix {
				continue
			}
			if !cutoff.IsZero() && (u.Initiated == nil || !u.Initiated.Before(cutoff)) {
				continue
			}
			_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: &s.cfg.Bucket, Key: &k, UploadId: &id,
			})
			if err != nil && !isNoSuchUpload(err) {
				return n, fmt.Errorf("abort multipart upload %s of %s: %w", id, k, err)
			}
			n++
		}
		if !aws.ToBool(out.IsTruncated) {
			return n, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// URL implements Backend: a presigned GET, signed at NowFunc's time and
// valid for ttl (whole seconds, at least 1 s and at most 7 days, the limit
// of SigV4).
func (s *S3) URL(ctx context.Context, key string, ttl time.Duration) (string, time.Time, error) {
	if err := CheckKey(key); err != nil {
		return "", time.Time{}, err
	}
	ttl = ttl.Truncate(time.Second)
	if ttl < time.Second || ttl > maxPresignTTL {
		return "", time.Time{}, fmt.Errorf("link to %s: ttl %v is not between 1s and %v", key, ttl, maxPresignTTL)
	}
	at := s.cfg.NowFunc().UTC().Truncate(time.Second)
	req, err := s.presign.PresignGetObject(context.WithValue(ctx, signingTimeKey{}, at),
		&s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: &key},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("link to %s: %w", key, err)
	}
	return req.URL, at.Add(ttl), nil
}

// signingTimeKey carries URL's signing time to clockPresigner.
type signingTimeKey struct{}

// clockPresigner signs at the time URL chose (from S3Config.NowFunc) rather
// than the SDK's clock, so that a link's expiry and the expires_at the API
// reports agree, and tests control both.
type clockPresigner struct{ inner *v4.Signer }

func (p clockPresigner) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, signingTime time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	if t, ok := ctx.Value(signingTimeKey{}).(time.Time); ok {
		signingTime = t
	}
	return p.inner.PresignHTTP(ctx, creds, r, payloadHash, service, region, signingTime, optFns...)
}

// Delete implements Backend.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: &key}); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// SetTags implements Backend with PutObjectTagging.
func (s *S3) SetTags(ctx context.Context, key string, tags map[string]string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	set := make([]types.Tag, 0, len(tags))
	for k, v := range tags {
		set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	_, err := s.client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: &s.cfg.Bucket, Key: &key, Tagging: &types.Tagging{TagSet: set},
	})
	if isNotFound(err) {
		return fmt.Errorf("set tags of %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set tags of %s: %w", key, err)
	}
	return nil
}

// Tags returns the tags of an object (GetObjectTagging). Returns an error
// wrapping ErrNotFound when there is no object at key.
func (s *S3) Tags(ctx context.Context, key string) (map[string]string, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: &s.cfg.Bucket, Key: &key})
	if isNotFound(err) {
		return nil, fmt.Errorf("tags of %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("tags of %s: %w", key, err)
	}
	tags := make(map[string]string, len(out.TagSet))
	for _, t := range out.TagSet {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}

// Check implements Backend with HeadBucket: the bucket exists and the
// credentials reach it.
func (s *S3) Check(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.cfg.Bucket}); err != nil {
		return fmt.Errorf("s3 bucket %s: %w", s.cfg.Bucket, err)
	}
	return nil
}

// encodeTags is the x-amz-tagging form of tags: a URL query string.
func encodeTags(tags map[string]string) string {
	v := make(url.Values, len(tags))
	for k, val := range tags {
		v.Set(k, val)
	}
	return v.Encode()
}

// isNotFound reports an S3 error that says the object is not there.
func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	ae, ok := errors.AsType[smithy.APIError](err)
	return ok && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound")
}

// isNoSuchBucket reports an S3 error that says the bucket is not there
// (HeadBucket answers a bare 404).
func isNoSuchBucket(err error) bool {
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		switch ae.ErrorCode() {
		case "NoSuchBucket", "NotFound":
			return true
		}
	}
	re, ok := errors.AsType[*awshttp.ResponseError](err)
	return ok && re.HTTPStatusCode() == http.StatusNotFound
}

// isNoSuchUpload reports an S3 error that says a multipart upload is gone.
func isNoSuchUpload(err error) bool {
	if _, ok := errors.AsType[*types.NoSuchUpload](err); ok {
		return true
	}
	ae, ok := errors.AsType[smithy.APIError](err)
	return ok && ae.ErrorCode() == "NoSuchUpload"
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
