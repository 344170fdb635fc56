// Package s3upload uploads a package file to S3 (JCDS 2.0) as a multipart
// upload whose parts are read straight from the file as they are sent, so
// memory does not depend on part size or parts in flight; it computes the
// file's digests in one sequential read beside the upload, renews temporary
// credentials as they near expiry, and reports progress on standard error.
package s3upload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
	"github.com/rs/zerolog"
)

// Input describes one upload.
type Input struct {
	Bucket, Key, Region string
	Credentials         aws.CredentialsProvider
	// Endpoint "" => AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS's
	// own. A custom endpoint uses path-style addressing.
	Endpoint string
	FilePath string
	Hashes   HashSet // computed in one read of the file beside the upload
	// PartSize in bytes (0 => PartPlan) and Concurrency, the parts in
	// flight (0 => DefaultConcurrency); NewPlan says which values S3 takes.
	PartSize    int64
	Concurrency int
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
	// ClientOptions adjust the S3 client (benchmarks use it to compare
	// payload signing over plain HTTP); nil for normal use.
	ClientOptions []func(*s3.Options)
	// MemoryLimit is a soft Go memory limit for the process during the
	// upload, where it has none (SoftMemoryLimit suits a program that is
	// mostly this upload); 0 leaves the runtime alone.
	MemoryLimit int64
	// Backoff paces the retries of a request; nil is the SDK's exponential
	// backoff with jitter (tests shorten it).
	Backoff retry.BackoffDelayer
}

// Result describes a finished upload.
type Result struct {
	Size        int64
	Sums        Sums
	Parts       int
	PartSize    int64
	Concurrency int
}

const defaultMaxAttempts = 5

// abortTimeout bounds the clean-up of a failed upload, which runs even when
// the caller's context is already cancelled.
const abortTimeout = time.Minute

// Upload sends the file at in.FilePath to s3://in.Bucket/in.Key. Files
// larger than one part go as a multipart upload whose parts are each retried
// on their own; on failure the multipart upload is aborted so no parts are
// left behind. Each part is a section of the open file, read as it is sent
// (and again on a retry), never copied into a buffer of its own. The digests
// in in.Hashes come from one more sequential read of the file that runs
// beside the upload; the upload is committed only once that read has seen
// exactly the bytes the upload planned for, and the file still has that
// size.
func Upload(ctx context.Context, in Input) (*Result, error) {
	res, err := upload(ctx, in)
	if err != nil {
		return nil, secret.Error(fmt.Errorf("upload %s to s3://%s/%s: %w", in.FilePath, in.Bucket, in.Key, err))
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
	plan, err := NewPlan(size, in.PartSize, in.Concurrency)
	if err != nil {
		return nil, err
	}

	// Fail early, before any data moves, when no credentials can be had.
	if _, err := in.Credentials.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("get S3 credentials: %w", err)
	}
	endpoint := resolveEndpoint(in.Endpoint)
	in.Logger.Debug().Int64("size", size).Int64("part_size", plan.PartSize).Int("parts", plan.Parts).
		Int("concurrency", plan.Concurrency).Str("endpoint", endpoint).Str("hashes", in.Hashes.String()).Msg("S3 upload plan")

	defer limitMemory(in.MemoryLimit)()
	var side *hashPass
	if in.Hashes != 0 {
		side = startHashPass(ctx, f, in.Hashes)
		defer side.stop()
	}
	tc := &trackingClient{api: newClient(in, endpoint, plan.Concurrency, f, size), progress: in.Progress, file: f, side: side, size: size,
		beforeCommit: in.BeforeCommit, creds: in.Credentials, log: in.Logger}
	//lint:ignore SA1019 manager is the SDK's multipart uploader in go.mod; its successor (transfermanager) is still v0.
	up := manager.NewUploader(tc, func(u *manager.Uploader) {
		u.PartSize = plan.PartSize
		u.Concurrency = plan.Concurrency
		u.LeavePartsOnError = false
	})
	//lint:ignore SA1019 see above.
	out, err := up.Upload(ctx, &s3.PutObjectInput{
		Bucket: aws.String(in.Bucket),
		Key:    aws.String(in.Key),
		// An io.ReaderAt makes the uploader send each part as a section of
		// the file instead of reading it into a part buffer; the section
		// is fixed at the size planned, so a file that grows meanwhile is
		// caught before commit rather than half sent.
		Body: io.NewSectionReader(f, 0, size),
	})
	if err != nil {
		if id := tc.uploadID(); id != "" {
			if aerr := tc.abort(ctx, in.Bucket, in.Key, id); aerr != nil {
				in.Logger.Warn().Str("upload_id", id).Err(secret.Error(aerr)).Msg("could not abort the failed multipart upload")
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
	res := &Result{Size: size, Parts: n, PartSize: plan.PartSize, Concurrency: plan.Concurrency}
	if side != nil {
		// Committed only after the pass ended well, so this returns at once.
		if res.Sums, _, err = side.wait(ctx); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// SoftMemoryLimit is the soft Go memory limit a program that is mostly an
// upload sets for it (Input.MemoryLimit). Parts are read from the file, so
// the heap holds only the hash slots, the HTTP transport's buffers and the
// SDK's per-request state, whatever the concurrency.
const SoftMemoryLimit = 40 * mib

// limitMemory sets a soft Go memory limit of limit bytes for the upload when
// the process has none (no GOMEMLIMIT, no debug.SetMemoryLimit), and
// returns a func that restores the previous state. Without it the garbage
// the SDK makes per part (signing, checksums, XML) piles up between
// collections. The limit is the whole process's, so the caller chooses it.
func limitMemory(limit int64) (restore func()) {
	if limit <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(-1)
	if prev != math.MaxInt64 {
		return func() {}
	}
	debug.SetMemoryLimit(limit)
	return func() { debug.SetMemoryLimit(prev) }
}

// hashPass digests the file in one sequential read on its own goroutine,
// beside the upload: on a fast link the parts do not wait for the digests,
// on a slow one the digests do not wait for the parts.
type hashPass struct {
	done   chan struct{}
	cancel context.CancelFunc
	sums   Sums
	n      int64
	err    error
}

func startHashPass(ctx context.Context, f *os.File, which HashSet) *hashPass {
	ctx, cancel := context.WithCancel(ctx)
	h := &hashPass{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(h.done)
		// To end of file, not to the planned size: a file that grew is
		// then seen as changed.
		h.sums, h.n, h.err = hashReader(ctx, io.NewSectionReader(f, 0, math.MaxInt64), which, nil)
	}()
	return h
}

// wait returns the pass's digests and byte count once it has ended.
func (h *hashPass) wait(ctx context.Context) (Sums, int64, error) {
	select {
	case <-h.done:
		if h.err != nil {
			return Sums{}, h.n, fmt.Errorf("read the file for its digests: %w", h.err)
		}
		return h.sums, h.n, nil
	case <-ctx.Done():
		return Sums{}, 0, ctx.Err()
	}
}

// stop ends the pass (if still running) and waits for it, so the file can
// be closed.
func (h *hashPass) stop() {
	h.cancel()
	<-h.done
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

func newClient(in Input, endpoint string, conc int, f *os.File, size int64) *s3.Client {
	attempts := in.MaxAttempts
	if attempts <= 0 {
		attempts = defaultMaxAttempts
	}
	opts := s3.Options{
		Region:      in.Region,
		Credentials: in.Credentials,
		HTTPClient:  loggedClient{next: transportFor(in.HTTPClient, conc), log: in.Logger, now: time.Now},
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			// Each part retries on its own budget: a long upload over a
			// flaky link must not run out of a shared retry quota.
			o.RateLimiter = ratelimit.None
			// A part cut from a file that shrank fails the same way on
			// every try, and so does a request an error marks final (a
			// proxy that refuses the tunnel by policy).
			o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				var final interface{ Permanent() bool }
				if shrunk(f, size) != nil || errors.As(err, &final) && final.Permanent() {
					return aws.FalseTernary
				}
				return aws.UnknownTernary
			})}, o.Retryables...)
			if in.Backoff != nil {
				o.Backoff = in.Backoff
			}
		}),
	}
	if endpoint != "" {
		opts.BaseEndpoint = aws.String(endpoint)
		opts.UsePathStyle = true
	}
	return s3.New(opts, in.ClientOptions...)
}

// writeBufferSize is the HTTP transport's write buffer per connection. Go's
// default (4 KiB) cuts each part into 4 KiB TLS records and write calls.
const writeBufferSize = 64 << 10

// partReplyTimeout bounds the wait for the answer to one part.
const partReplyTimeout = 5 * time.Minute

// transportFor returns an HTTP client that keeps a connection per part in
// flight. Go's transport keeps only 2 idle connections per host by default
// (the SDK's own client 10): with more parts in flight the rest would be
// closed after each part and re-dialled, paying TCP and TLS handshakes and
// slow start again on every part, which on a long path costs more than the
// part itself. It speaks HTTP/1.1 only: S3 does, but a TLS-inspecting proxy
// may offer HTTP/2, which would carry every part over one TCP connection
// and undo the parallelism.
func transportFor(c *http.Client, conc int) aws.HTTPClient {
	tune := func(t *http.Transport) {
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, conc)
		if t.MaxIdleConns != 0 {
			t.MaxIdleConns = max(t.MaxIdleConns, conc)
		}
		t.WriteBufferSize = max(t.WriteBufferSize, writeBufferSize)
		if t.ResponseHeaderTimeout == 0 {
			// No timeout on a whole multi-GB upload, but a part whose
			// answer never comes must not hang the night: the SDK retries
			// it on its own.
			t.ResponseHeaderTimeout = partReplyTimeout
		}
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP1(true)
		t.ForceAttemptHTTP2 = false
		t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		if t.TLSClientConfig != nil {
			t.TLSClientConfig.NextProtos = slices.DeleteFunc(slices.Clone(t.TLSClientConfig.NextProtos), func(p string) bool { return p == "h2" })
		}
	}
	if c == nil {
		return awshttp.NewBuildableClient().WithTransportOptions(tune)
	}
	t, ok := c.Transport.(*http.Transport)
	if !ok {
		return c // a caller's own RoundTripper: use as given
	}
	t = t.Clone()
	tune(t)
	cc := *c
	cc.Transport = t
	return &cc
}

// trackingClient sits between the SDK's uploader and S3: it records the
// multipart upload ID (so a failure can always be cleaned up), counts
// finished parts for progress, and refuses to complete an upload whose file
// changed underneath it.
type trackingClient struct {
	api          manager.UploadAPIClient
	progress     *Progress
	file         *os.File
	side         *hashPass // nil when no digests were asked for
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

// commit checks, just before the object is made whole, that the file is
// still what the upload planned: the digest pass read exactly size bytes to
// end of file and the file still has that size. A change of content at the
// same size shows as a digest mismatch at verification.
func (t *trackingClient) commit(ctx context.Context) error {
	if t.side != nil {
		_, n, err := t.side.wait(ctx)
		if err != nil {
			return err
		}
		if n != t.size {
			return fmt.Errorf("file changed during upload: read %d bytes, expected %d", n, t.size)
		}
	}
	if err := changedSize(t.file, t.size); err != nil {
		return err
	}
	if t.beforeCommit != nil {
		if err := t.beforeCommit(ctx); err != nil {
			return err
		}
	}
	return nil
}

// changedSize says how the open file's size differs from the size the
// upload planned for, or returns nil when it does not.
func changedSize(f *os.File, size int64) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("check the file's size: %w", err)
	}
	if st.Size() != size {
		return fmt.Errorf("file changed during upload: it has %d bytes, expected %d; make sure nothing rewrites the package while it uploads, then run again", st.Size(), size)
	}
	return nil
}

// shrunk is changedSize for a file that lost bytes: the one change that
// makes a part fail to read, rather than be caught at commit.
func shrunk(f *os.File, size int64) error {
	if st, err := f.Stat(); err == nil && st.Size() >= size {
		return nil
	}
	return changedSize(f, size)
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
	if err != nil {
		if serr := shrunk(t.file, t.size); serr != nil {
			return nil, serr
		}
	}
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
