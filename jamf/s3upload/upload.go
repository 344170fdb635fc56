// Package s3upload uploads a package file to S3 (JCDS 2.0) as a multipart
// upload with bounded memory, computing the file's digests in the same read
// pass, renewing temporary credentials as they near expiry, and reporting
// progress on standard error.
package s3upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"
)

// Input describes one upload.
type Input struct {
	Bucket, Key, Region string
	Credentials         aws.CredentialsProvider
	// Endpoint "" => AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS's
	// own. A custom endpoint uses path-style addressing.
	Endpoint    string
	FilePath    string
	Hashes      HashSet // computed in the same read pass as the upload
	PartSize    int64   // 0 => PartPlan
	Concurrency int     // 0 => as many parts as fit in 24 MiB (3 x 8 MiB), at most 4
	// MaxAttempts per request (each part retried on its own); 0 => 5.
	MaxAttempts int
	HTTPClient  *http.Client // nil => the SDK's default client
	Progress    *Progress    // nil => none
	Logger      zerolog.Logger
	// BeforeCommit, when set, runs once every byte is in S3 and just before
	// the object is made whole (CompleteMultipartUpload, or the PutObject of
	// a one-part file). An error aborts the upload. The JCDS flow deletes
	// the stale same-name file here, so the window in which neither the old
	// nor the new file exists shrinks from the whole upload to one request.
	BeforeCommit func(ctx context.Context) error
}

// Result describes a finished upload.
type Result struct {
	Size     int64
	Sums     Sums
	Parts    int
	PartSize int64
}

const defaultMaxAttempts = 5

// abortTimeout bounds the clean-up of a failed upload, which runs even when
// the caller's context is already cancelled.
const abortTimeout = time.Minute

// testBackoff shortens retry pauses in tests.
var testBackoff retry.BackoffDelayer

// Upload sends the file at in.FilePath to s3://in.Bucket/in.Key. Files
// larger than one part go as a multipart upload whose parts are each retried
// on their own; on failure the multipart upload is aborted so no parts are
// left behind. The file is read once, sequentially: the digests in in.Hashes
// are computed from the same bytes that are sent.
func Upload(ctx context.Context, in Input) (*Result, error) {
	res, err := upload(ctx, in)
	if err != nil {
		return nil, scrub(fmt.Errorf("upload %s to s3://%s/%s: %w", in.FilePath, in.Bucket, in.Key, err))
	}
	return res, nil
}

func upload(ctx context.Context, in Input) (*Result, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	f, err := os.Open(in.FilePath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	if size > MaxObjectSize {
		return nil, fmt.Errorf("file is %d bytes, larger than S3's limit of %d", size, MaxObjectSize)
	}
	partSize, parts := PartPlan(size)
	if in.PartSize > 0 {
		partSize, parts = in.PartSize, partCount(size, in.PartSize)
		if partSize < manager.MinUploadPartSize || partSize > MaxPartSize {
			return nil, fmt.Errorf("part size %d outside S3's limits %d..%d", partSize, manager.MinUploadPartSize, MaxPartSize)
		}
		if parts > MaxParts {
			return nil, fmt.Errorf("part size %d needs %d parts, more than S3's %d", partSize, parts, MaxParts)
		}
	}
	conc := in.Concurrency
	if conc <= 0 {
		conc = autoConcurrency(partSize)
	}

	// Fail early, before any data moves, when no credentials can be had.
	if _, err := in.Credentials.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("get S3 credentials: %w", err)
	}
	endpoint := resolveEndpoint(in.Endpoint)
	in.Logger.Debug().Int64("size", size).Int64("part_size", partSize).Int("parts", parts).
		Int("concurrency", conc).Str("endpoint", endpoint).Str("hashes", in.Hashes.String()).Msg("S3 upload plan")

	defer limitMemory(partSize, conc)()
	hp := newHashPipeline(in.Hashes)
	defer hp.close()
	src := &sourceReader{ctx: ctx, r: f}
	if len(hp.workers) > 0 {
		src.hash = hp
	}
	tc := &trackingClient{api: newClient(in, endpoint), progress: in.Progress, src: src, size: size,
		beforeCommit: in.BeforeCommit, creds: in.Credentials, log: in.Logger}
	//lint:ignore SA1019 manager is the SDK's multipart uploader in go.mod; its successor (transfermanager) is still v0.
	up := manager.NewUploader(tc, func(u *manager.Uploader) {
		u.PartSize = partSize
		u.Concurrency = conc
		u.LeavePartsOnError = false
	})
	//lint:ignore SA1019 see above.
	out, err := up.Upload(ctx, &s3.PutObjectInput{
		Bucket: aws.String(in.Bucket),
		Key:    aws.String(in.Key),
		// A plain reader (not an io.ReaderAt) makes the uploader read the
		// file once, in order, into its part buffers: that single pass is
		// what feeds the digests.
		Body: src,
	})
	if err != nil {
		if id := tc.uploadID(); id != "" {
			if aerr := tc.abort(ctx, in.Bucket, in.Key, id); aerr != nil {
				in.Logger.Warn().Str("upload_id", id).Err(scrub(aerr)).Msg("could not abort the failed multipart upload")
				err = fmt.Errorf("%w (aborting multipart upload %s also failed: %v)", err, id, aerr)
			} else {
				in.Logger.Debug().Str("upload_id", id).Msg("aborted failed multipart upload")
			}
		}
		return nil, explain(err)
	}
	n := int(len(out.CompletedParts))
	if n == 0 {
		n = 1
	}
	return &Result{Size: size, Sums: hp.Sums(), Parts: n, PartSize: partSize}, nil
}

// memOverhead is the heap beyond part buffers: the hash slots, the SDK's
// per-request state, and garbage between collections.
const memOverhead = 12 * mib

// limitMemory sets a soft Go memory limit for the upload when the process
// has none (no GOMEMLIMIT, no debug.SetMemoryLimit), and returns a func that
// restores the previous state. Without it the garbage the SDK makes per part
// piles up to twice the live heap (the part buffers) before the collector
// runs: a 6 GiB upload peaked near 85 MB instead of under 64 MB. Part
// buffers are pointer-free, so the extra collections cost little.
func limitMemory(partSize int64, conc int) (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(-1)
	if prev != math.MaxInt64 {
		return func() {}
	}
	debug.SetMemoryLimit(int64(conc+1)*partSize + memOverhead)
	return func() { debug.SetMemoryLimit(prev) }
}

func (in *Input) validate() error {
	switch {
	case in.Bucket == "":
		return errors.New("no bucket given")
	case in.Key == "":
		return errors.New("no key given")
	case in.Region == "":
		return errors.New("no region given")
	case in.Credentials == nil:
		return errors.New("no credentials given")
	case in.FilePath == "":
		return errors.New("no file given")
	}
	return nil
}

// resolveEndpoint follows the AWS SDKs' service-specific then global
// endpoint variables, which users behind S3-compatible gateways already set.
func resolveEndpoint(explicit string) string {
	for _, v := range []string{explicit, os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL")} {
		if v != "" {
			return v
		}
	}
	return ""
}

func newClient(in Input, endpoint string) *s3.Client {
	attempts := in.MaxAttempts
	if attempts <= 0 {
		attempts = defaultMaxAttempts
	}
	opts := s3.Options{
		Region:      in.Region,
		Credentials: in.Credentials,
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			// Each part retries on its own budget: a long upload over a
			// flaky link must not run out of a shared retry quota.
			o.RateLimiter = ratelimit.None
			if testBackoff != nil {
				o.Backoff = testBackoff
			}
		}),
	}
	if in.HTTPClient != nil {
		opts.HTTPClient = in.HTTPClient
	}
	if endpoint != "" {
		opts.BaseEndpoint = aws.String(endpoint)
		opts.UsePathStyle = true
	}
	return s3.New(opts)
}

// sourceReader is the file as the uploader sees it: read in order, each byte
// passed to the digests, honouring ctx between reads.
type sourceReader struct {
	ctx  context.Context
	r    io.Reader
	hash io.Writer
	n    atomic.Int64
	eof  atomic.Bool
}

func (s *sourceReader) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.r.Read(p)
	if n > 0 {
		if s.hash != nil {
			_, _ = s.hash.Write(p[:n])
		}
		s.n.Add(int64(n))
	}
	if err == io.EOF {
		s.eof.Store(true)
	}
	return n, err
}

// complete reports whether exactly size bytes were read up to end of file,
// i.e. the file did not change while it was sent.
func (s *sourceReader) complete(size int64) error {
	if n := s.n.Load(); n != size || !s.eof.Load() {
		return fmt.Errorf("file changed during upload: read %d bytes, expected %d", n, size)
	}
	return nil
}

// trackingClient sits between the SDK's uploader and S3: it records the
// multipart upload ID (so a failure can always be cleaned up), counts
// finished parts for progress, and refuses to complete an upload whose file
// changed underneath it.
type trackingClient struct {
	api          manager.UploadAPIClient
	progress     *Progress
	src          *sourceReader
	size         int64
	beforeCommit func(ctx context.Context) error
	creds        aws.CredentialsProvider
	log          zerolog.Logger
	mu           sync.Mutex
	id           string
}

// expiredCodes are S3's answers to credentials that stopped working before
// their stated expiry (revoked, or a skewed clock).
var expiredCodes = map[string]bool{"ExpiredToken": true, "TokenRefreshRequired": true, "InvalidToken": true}

// maxEarlyRenewals bounds renew-and-retry rounds for one request.
const maxEarlyRenewals = 2

// withFreshCredentials runs call, and when S3 says the credentials expired
// before the cache expected, drops the cached set, renews, rewinds the body
// and tries again. The SDK's retryer cannot do this: it retries with the
// same credentials, which the cache still believes valid.
func (t *trackingClient) withFreshCredentials(ctx context.Context, body any, call func() error) error {
	err := call()
	for i := 0; i < maxEarlyRenewals && err != nil; i++ {
		var ae smithy.APIError
		cache, ok := t.creds.(*aws.CredentialsCache)
		if !errors.As(err, &ae) || !expiredCodes[ae.ErrorCode()] || !ok {
			return err
		}
		if s, ok := body.(io.Seeker); ok {
			if _, serr := s.Seek(0, io.SeekStart); serr != nil {
				return err
			}
		} else if body != nil {
			return err
		}
		t.log.Info().Str("code", ae.ErrorCode()).Msg("S3 credentials stopped working early; renewing them")
		cache.Invalidate()
		if _, rerr := cache.Retrieve(ctx); rerr != nil {
			return fmt.Errorf("%w (renewing the credentials also failed: %v)", err, rerr)
		}
		err = call()
	}
	return err
}

func (t *trackingClient) commit(ctx context.Context) error {
	if err := t.src.complete(t.size); err != nil {
		return err
	}
	if t.beforeCommit != nil {
		if err := t.beforeCommit(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (t *trackingClient) uploadID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.id
}

func (t *trackingClient) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if t.beforeCommit != nil {
		return t.putAsMultipart(ctx, in, opts...)
	}
	if err := t.commit(ctx); err != nil {
		return nil, err
	}
	var out *s3.PutObjectOutput
	err := t.withFreshCredentials(ctx, in.Body, func() (err error) {
		out, err = t.api.PutObject(ctx, in, opts...)
		return err
	})
	if err == nil {
		t.progress.Add(t.size)
	}
	return out, err
}

func (t *trackingClient) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	var out *s3.CreateMultipartUploadOutput
	err := t.withFreshCredentials(ctx, nil, func() (err error) {
		out, err = t.api.CreateMultipartUpload(ctx, in, opts...)
		return err
	})
	if err == nil && out.UploadId != nil {
		t.mu.Lock()
		t.id = *out.UploadId
		t.mu.Unlock()
	}
	return out, err
}

func (t *trackingClient) UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	var out *s3.UploadPartOutput
	err := t.withFreshCredentials(ctx, in.Body, func() (err error) {
		out, err = t.api.UploadPart(ctx, in, opts...)
		return err
	})
	if err == nil {
		if b, ok := in.Body.(interface{ Size() int64 }); ok {
			t.progress.Add(b.Size())
		}
	}
	return out, err
}

func (t *trackingClient) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	if err := t.commit(ctx); err != nil {
		return nil, err
	}
	var out *s3.CompleteMultipartUploadOutput
	err := t.withFreshCredentials(ctx, nil, func() (err error) {
		out, err = t.api.CompleteMultipartUpload(ctx, in, opts...)
		return err
	})
	return out, err
}

func (t *trackingClient) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	return t.api.AbortMultipartUpload(ctx, in, opts...)
}

// abort cleans up a failed multipart upload. The uploader tries this too,
// but with the caller's context, which is already cancelled when the user
// interrupted the upload; a repeat abort of a gone upload is harmless.
func (t *trackingClient) abort(ctx context.Context, bucket, key, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, err := t.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
	})
	var nsu interface{ ErrorCode() string }
	if errors.As(err, &nsu) && nsu.ErrorCode() == "NoSuchUpload" {
		return nil
	}
	return err
}

// putAsMultipart sends a one-part file as a multipart upload of one part,
// so that every byte is in S3 before the commit hook runs: a PutObject
// carries the bytes and the commit in the same request, and the hook (the
// delete of the stale file) would have to run before any byte was sent.
func (t *trackingClient) putAsMultipart(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	created, err := t.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: in.Bucket, Key: in.Key, ContentType: in.ContentType,
	}, opts...)
	if err != nil {
		return nil, err
	}
	part, err := t.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: in.Bucket, Key: in.Key, UploadId: created.UploadId,
		PartNumber: aws.Int32(1), Body: in.Body, ContentLength: in.ContentLength,
	}, opts...)
	if err != nil {
		return nil, err
	}
	if part.ETag == nil {
		return nil, errors.New("S3 answered the part without an ETag")
	}
	if in.ContentLength == nil || *in.ContentLength == t.size {
		// UploadPart counts progress only for bodies that report their size.
		if _, ok := in.Body.(interface{ Size() int64 }); !ok {
			t.progress.Add(t.size)
		}
	}
	if _, err := t.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: in.Bucket, Key: in.Key, UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}},
	}, opts...); err != nil {
		return nil, err
	}
	return &s3.PutObjectOutput{}, nil
}
