package s3upload

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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
)

// Part sizes of 5 MiB (S3's minimum) keep multipart tests small.
const smallPart = 5 * mib

func TestUploadFake(t *testing.T) {
	env := startFake(t)
	tests := []struct {
		name      string
		size      int
		partSize  int64
		hashes    HashSet
		wantParts int
	}{
		{"empty file", 0, 0, SHA3_512 | SHA512 | MD5, 1},
		{"small file, one PUT", 1000, 0, SHA3_512, 1},
		{"exactly one part", int(smallPart), smallPart, MD5 | SHA512, 1},
		{"multipart, ragged last part", int(2*smallPart) + 123, smallPart, SHA3_512 | SHA512 | MD5, 3},
		{"multipart, no hashes", int(2 * smallPart), smallPart, 0, 2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, data := writeTestFile(t, tt.size, uint64(i+10))
			key := fmt.Sprintf("Packages/fake-%d.pkg", i)
			var out lockedBuffer
			p := newProgress(&out, "upload", int64(tt.size), false, time.Hour, time.Now)
			res, err := Upload(context.Background(), Input{
				Backoff: testBackoff,
				Bucket:  testBucket, Key: key, Region: "us-east-1", Credentials: env.creds(),
				Endpoint: env.endpoint, FilePath: path, Hashes: tt.hashes, PartSize: tt.partSize, Concurrency: 2, Progress: p,
			})
			p.Done()
			if err != nil {
				t.Fatal(err)
			}
			want := directSums(data)
			if tt.hashes&SHA3_512 == 0 {
				want.SHA3_512 = ""
			}
			if tt.hashes&SHA512 == 0 {
				want.SHA512 = ""
			}
			if tt.hashes&MD5 == 0 {
				want.MD5 = ""
			}
			if res.Sums != want || res.Size != int64(tt.size) || res.Parts != tt.wantParts {
				t.Errorf("result %+v, want sums %+v, size %d, parts %d", res, want, tt.size, tt.wantParts)
			}
			if got := env.object(t, key); !bytes.Equal(got, data) {
				t.Errorf("stored object differs: %d bytes, want %d", len(got), len(data))
			}
			if p.n.Load() != int64(tt.size) {
				t.Errorf("progress counted %d bytes, want %d", p.n.Load(), tt.size)
			}
		})
	}
}

func TestUploadInputErrors(t *testing.T) {
	path, _ := writeTestFile(t, 10, 3)
	good := Input{Backoff: testBackoff, Bucket: "b", Key: "k", Region: "r", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), FilePath: path, Endpoint: "http://127.0.0.1:1"}
	tests := []struct {
		name   string
		change func(*Input)
		want   string
	}{
		{"no bucket", func(in *Input) { in.Bucket = "" }, "no bucket"},
		{"no key", func(in *Input) { in.Key = "" }, "no key"},
		{"no region", func(in *Input) { in.Region = "" }, "no region"},
		{"no credentials", func(in *Input) { in.Credentials = nil }, "no credentials"},
		{"missing file", func(in *Input) { in.FilePath += ".missing" }, "no such file"},
		{"directory", func(in *Input) { in.FilePath = os.TempDir() }, "not a regular file"},
		{"part too small", func(in *Input) { in.PartSize = mib }, "outside S3's limits"},
		{"no credentials available", func(in *Input) {
			in.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{}, errors.New("jamf unreachable")
			})
		}, "get S3 credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good
			tt.change(&in)
			_, err := Upload(context.Background(), in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestResolveEndpoint(t *testing.T) {
	tests := []struct {
		name, explicit, s3env, global, want string
	}{
		{"AWS default", "", "", "", ""},
		{"global variable", "", "", "http://127.0.0.1:9000", "http://127.0.0.1:9000"},
		{"S3 variable wins over global", "", "http://127.0.0.1:9001", "http://127.0.0.1:9000", "http://127.0.0.1:9001"},
		{"input wins over both", "http://127.0.0.1:9002", "http://127.0.0.1:9001", "http://127.0.0.1:9000", "http://127.0.0.1:9002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL_S3", tt.s3env)
			t.Setenv("AWS_ENDPOINT_URL", tt.global)
			if got := resolveEndpoint(tt.explicit); got != tt.want {
				t.Errorf("resolveEndpoint(%q) = %q, want %q", tt.explicit, got, tt.want)
			}
		})
	}
}

// The endpoint from the environment is really used, with path-style
// addressing (a bucket subdomain of 127.0.0.1 would not resolve).
func TestUploadEndpointFromEnvironment(t *testing.T) {
	env := startFake(t)
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", env.endpoint)
	path, data := writeTestFile(t, 4096, 7)
	if _, err := Upload(context.Background(), Input{Backoff: testBackoff, Bucket: testBucket, Key: "env.pkg", Region: "us-east-1", Credentials: env.creds(), FilePath: path}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(env.object(t, "env.pkg"), data) {
		t.Error("object differs")
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		code string
		want string
	}{
		{"SignatureDoesNotMatch", "proxy"},
		{"RequestTimeTooSkewed", "clock"},
		{"AccessDenied", "X-Amz-Date"},
		{"ExpiredToken", "expired"},
		{"InvalidAccessKeyId", "access key"},
		{"NoSuchBucket", ""},
	}
	for _, tt := range tests {
		err := explain(fmt.Errorf("put: %w", &smithy.GenericAPIError{Code: tt.code, Message: "m"}))
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tt.code {
			t.Errorf("%s: chain lost: %v", tt.code, err)
		}
		hasHint := strings.Contains(err.Error(), "hint:")
		if tt.want == "" && hasHint || tt.want != "" && (!hasHint || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %q, want hint mentioning %q", tt.code, err, tt.want)
		}
	}
}

func TestUploadMinIO(t *testing.T) {
	env := startMinIO(t)
	path, data := writeTestFile(t, int(3*smallPart)+999, 21)
	res, err := Upload(context.Background(), Input{
		Backoff: testBackoff,
		Bucket:  testBucket, Key: "Packages/My App (1.0) & more!.pkg", Region: "us-east-1", Credentials: env.creds(),
		Endpoint: env.endpoint, FilePath: path, Hashes: SHA3_512 | SHA512 | MD5, PartSize: smallPart,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := directSums(data); res.Sums != want || res.Parts != 4 || res.PartSize != smallPart {
		t.Errorf("result %+v", res)
	}
	if !bytes.Equal(env.object(t, "Packages/My App (1.0) & more!.pkg"), data) {
		t.Error("stored object differs")
	}
	if ids := env.pendingUploads(t); len(ids) != 0 {
		t.Errorf("multipart uploads left: %v", ids)
	}
}

func TestUploadFaults(t *testing.T) {
	env := startMinIO(t)
	tests := []struct {
		name      string
		failTimes int
		wantErr   bool
		minHits   int
	}{
		{"part fails once, retried alone", 1, false, 2},
		{"part fails every time, upload aborted", -1, true, 3},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := newFaultProxy(t, env.endpoint)
			proxy.failPart, proxy.failTimes = 2, tt.failTimes
			path, data := writeTestFile(t, int(3*smallPart), uint64(30+i))
			key := fmt.Sprintf("fault-%d.pkg", i)
			res, err := Upload(context.Background(), Input{
				Backoff: testBackoff,
				Bucket:  testBucket, Key: key, Region: "us-east-1", Credentials: env.creds(), Endpoint: proxy.URL,
				FilePath: path, Hashes: MD5, PartSize: smallPart, Concurrency: 2, MaxAttempts: 3,
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if hits := proxy.partHits(2); hits < tt.minHits {
				t.Errorf("part 2 sent %d times, want at least %d", hits, tt.minHits)
			}
			for _, n := range []int{1, 3} {
				if hits := proxy.partHits(n); hits > 1 {
					t.Errorf("part %d sent %d times: only the failing part may be retried", n, hits)
				}
			}
			if ids := env.pendingUploads(t); len(ids) != 0 {
				t.Errorf("multipart uploads left behind: %v", ids)
			}
			if tt.wantErr {
				if env.objectExists(t, key) {
					t.Error("object exists after a failed upload")
				}
				if !strings.Contains(err.Error(), "InternalError") {
					t.Errorf("error should carry S3's reason: %v", err)
				}
				return
			}
			if res.Sums.MD5 != directSums(data).MD5 || !bytes.Equal(env.object(t, key), data) {
				t.Error("object or digest differs after retry")
			}
		})
	}
}

// Cancelling mid-upload (the user pressed ^C) still aborts the multipart
// upload, although the context the uploader holds is dead by then.
func TestUploadCancelledAborts(t *testing.T) {
	env := startMinIO(t)
	proxy := newFaultProxy(t, env.endpoint)
	proxy.partDelay = 300 * time.Millisecond
	path, _ := writeTestFile(t, int(4*smallPart), 40)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := Upload(ctx, Input{
		Backoff: testBackoff,
		Bucket:  testBucket, Key: "cancelled.pkg", Region: "us-east-1", Credentials: env.creds(), Endpoint: proxy.URL,
		FilePath: path, PartSize: smallPart, Concurrency: 1,
	})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if ids := env.pendingUploads(t); len(ids) != 0 {
		t.Errorf("multipart uploads left behind: %v", ids)
	}
}

// Wrong keys give S3's code plus a hint, and never the keys themselves.
func TestUploadSignatureErrorExplained(t *testing.T) {
	env := startMinIO(t)
	wrongSecret := "wrong-secret-" + env.secret
	secret.Register(wrongSecret)
	path, _ := writeTestFile(t, 100, 50)
	_, err := Upload(context.Background(), Input{
		Backoff: testBackoff,
		Bucket:  testBucket, Key: "sig.pkg", Region: "us-east-1", Endpoint: env.endpoint, FilePath: path,
		Credentials: credentials.NewStaticCredentialsProvider(env.access, wrongSecret, ""),
	})
	if err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") || !strings.Contains(err.Error(), "hint:") {
		t.Fatalf("err = %v, want SignatureDoesNotMatch with a hint", err)
	}
	if strings.Contains(err.Error(), wrongSecret) {
		t.Errorf("secret leaked: %v", err)
	}
}

// MinIO mints real temporary credentials (STS AssumeRole); their true
// lifetime is at least 15 minutes, so the provider is told they expire in a
// second. Parts are slowed so the upload outlives several "lifetimes": it
// must renew mid-upload, sign later parts with the new set, and finish.
func TestUploadRenewsCredentialsMinIO(t *testing.T) {
	env := startMinIO(t)
	stsClient := sts.New(sts.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(env.endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(env.access, env.secret, ""),
	})
	var renewals atomic.Int32
	var keys []string
	mint := func(ctx context.Context) (aws.Credentials, error) {
		out, err := stsClient.AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String("arn:aws:iam::000000000000:role/jcds"), RoleSessionName: aws.String("jcds2"), DurationSeconds: aws.Int32(900),
		})
		if err != nil {
			return aws.Credentials{}, err
		}
		c := out.Credentials
		keys = append(keys, aws.ToString(c.AccessKeyId))
		return aws.Credentials{
			AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey), SessionToken: aws.ToString(c.SessionToken),
			CanExpire: true, Expires: time.Now().Add(time.Second),
		}, nil
	}
	// MinIO answers ready before its IAM subsystem is up; STS says so.
	initial, err := mint(context.Background())
	for deadline := time.Now().Add(30 * time.Second); err != nil && strings.Contains(err.Error(), "not initialized") && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		initial, err = mint(context.Background())
	}
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	provider := NewRenewingProvider(initial, func(ctx context.Context) (aws.Credentials, error) {
		renewals.Add(1)
		return mint(ctx)
	})
	proxy := newFaultProxy(t, env.endpoint)
	proxy.partDelay = 400 * time.Millisecond
	path, data := writeTestFile(t, int(6*smallPart), 60)
	res, err := Upload(context.Background(), Input{
		Backoff: testBackoff,
		Bucket:  testBucket, Key: "renew.pkg", Region: "us-east-1", Credentials: provider, Endpoint: proxy.URL,
		FilePath: path, Hashes: SHA3_512, PartSize: smallPart, Concurrency: 2, Logger: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if renewals.Load() < 1 {
		t.Errorf("credentials were never renewed during a %d-part upload", res.Parts)
	}
	if res.Sums.SHA3_512 != directSums(data).SHA3_512 || !bytes.Equal(env.object(t, "renew.pkg"), data) {
		t.Error("object or digest differs")
	}
	if len(keys) > 1 && keys[0] == keys[len(keys)-1] {
		t.Error("renewal returned the same access key; the test would not show new credentials being used")
	}
}

// TestBeforeCommit: the hook runs once, after every part is sent (a
// one-part file goes as a multipart upload of one part) and before the
// object exists; its error aborts the upload and leaves nothing behind.
func TestBeforeCommit(t *testing.T) {
	env := startMinIO(t)
	for _, tc := range []struct {
		name string
		size int
		fail bool
	}{
		{"multipart, committed", int(2*smallPart) + 5, false},
		{"multipart, hook fails", int(2*smallPart) + 5, true},
		{"one part, committed", 1000, false},
		{"one part, hook fails", 1000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, data := writeTestFile(t, tc.size, 7)
			key := "tmp/" + strings.ReplaceAll(tc.name, " ", "_") + ".pkg"
			calls := 0
			hookErr := errors.New("stale file could not be deleted")
			_, err := Upload(context.Background(), Input{
				Backoff: testBackoff,
				Bucket:  testBucket, Key: key, Region: "us-east-1", Credentials: env.creds(),
				Endpoint: env.endpoint, FilePath: path, PartSize: smallPart,
				BeforeCommit: func(ctx context.Context) error {
					calls++
					if env.objectExists(t, key) {
						t.Errorf("object visible before the commit hook")
					}
					// Every byte must be in S3 when the hook runs, even for a
					// one-part file: the hook deletes the stale file, and
					// after it only the commit may remain.
					if ids := env.pendingUploads(t); len(ids) != 1 {
						t.Errorf("pending multipart uploads at the hook = %v, want 1 holding the bytes", ids)
					}
					if tc.fail {
						return hookErr
					}
					return nil
				},
			})
			if calls != 1 {
				t.Errorf("hook ran %d times, want 1", calls)
			}
			if tc.fail {
				if !errors.Is(err, hookErr) {
					t.Fatalf("err = %v, want the hook's error", err)
				}
				if env.objectExists(t, key) {
					t.Errorf("object committed although the hook failed")
				}
				if ids := env.pendingUploads(t); len(ids) != 0 {
					t.Errorf("multipart uploads left: %v", ids)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(env.object(t, key), data) {
				t.Errorf("stored object differs")
			}
		})
	}
}

// A file that grows or shrinks while its parts are sent is never committed:
// the size is checked again just before the commit, and parts cut from a
// shrunken file fail on their own.
func TestUploadDetectsChangedFile(t *testing.T) {
	env := startFake(t)
	for i, tc := range []struct {
		name   string
		hashes HashSet
		change func(path string) error
	}{
		{"grows, no digests", 0, func(path string) error { return appendTo(path, 1000) }},
		{"grows, MD5", MD5, func(path string) error { return appendTo(path, 1000) }},
		{"shrinks, MD5", MD5, func(path string) error { return os.Truncate(path, int64(smallPart)) }},
		{"shrinks, no digests", 0, func(path string) error { return os.Truncate(path, int64(smallPart)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := newFaultProxy(t, env.endpoint)
			path, _ := writeTestFile(t, int(3*smallPart), uint64(70+i))
			var once sync.Once
			proxy.onPart = func(n int) {
				once.Do(func() {
					if err := tc.change(path); err != nil {
						t.Error(err)
					}
				})
			}
			key := fmt.Sprintf("changed-%d.pkg", i)
			_, err := Upload(context.Background(), Input{
				Backoff: testBackoff,
				Bucket:  testBucket, Key: key, Region: "us-east-1", Credentials: env.creds(), Endpoint: proxy.URL,
				FilePath: path, Hashes: tc.hashes, PartSize: smallPart, Concurrency: 1,
			})
			if err == nil {
				t.Fatal("a file changed during the upload was reported as uploaded")
			}
			// It says what happened, not that S3 requests ran out of tries.
			if !strings.Contains(err.Error(), "changed during upload") || strings.Contains(err.Error(), "attempts") {
				t.Errorf("err = %v, want it to say the file changed", err)
			}
			if env.objectExists(t, key) {
				t.Error("object committed")
			}
		})
	}
}

func appendTo(path string, n int) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(make([]byte, n)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// The transport keeps one connection per part in flight (Go's default, 2
// per host, would re-dial most parts) and writes in large buffers; the
// caller's client is left as it was.
func TestTransportFor(t *testing.T) {
	orig := &http.Transport{MaxIdleConns: 20}
	c := &http.Client{Transport: orig, Timeout: time.Hour}
	got, ok := transportFor(c, 16).(*http.Client)
	if !ok {
		t.Fatalf("got %T", transportFor(c, 16))
	}
	tr := got.Transport.(*http.Transport)
	if tr.MaxIdleConnsPerHost != 16 || tr.MaxIdleConns != 20 || tr.WriteBufferSize != writeBufferSize || got.Timeout != time.Hour {
		t.Errorf("tuned transport: idle/host %d, idle %d, write buffer %d, timeout %v", tr.MaxIdleConnsPerHost, tr.MaxIdleConns, tr.WriteBufferSize, got.Timeout)
	}
	if tr2 := transportFor(c, 32).(*http.Client).Transport.(*http.Transport); tr2.MaxIdleConns != 32 {
		t.Errorf("idle connections %d, want 32", tr2.MaxIdleConns)
	}
	if orig.MaxIdleConnsPerHost != 0 || orig.WriteBufferSize != 0 {
		t.Error("the caller's transport was changed")
	}
	sdk, ok := transportFor(nil, 24).(*awshttp.BuildableClient)
	if !ok || sdk.GetTransport().MaxIdleConnsPerHost != 24 {
		t.Errorf("SDK client not tuned: %T", transportFor(nil, 24))
	}
}

// Parts in flight must be separate TCP connections: an HTTP/2 offer (from a
// TLS-inspecting proxy, say) is declined, also by a client that forces it.
func TestTransportSpeaksHTTP1(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	base := srv.Client()
	base.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	hc := transportFor(base, 4).(*http.Client)
	resp, err := hc.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "HTTP/1.1" || resp.ProtoMajor != 1 {
		t.Errorf("upload client spoke %s (server saw %s), want HTTP/1.1", resp.Proto, b)
	}
	// The caller's own client still negotiates HTTP/2: only the copy changed.
	resp, err = base.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("caller's client spoke %s, want HTTP/2 (it must not be changed)", resp.Proto)
	}
}

// Over HTTPS, as real JCDS endpoints are, the SDK signs no payload hash and
// sends its checksum as a trailer computed while sending, so each part is
// read from the file once; over plain HTTP (tests, benches) it hashes the
// part first and reads it again to send it.
func TestPayloadSigningByScheme(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen = append(seen, r.Header.Get("X-Amz-Content-Sha256"))
		mu.Unlock()
		w.Header().Set("ETag", `"0"`)
	})
	path, _ := writeTestFile(t, 1000, 9)
	for _, tc := range []struct {
		name string
		tls  bool
		want func(string) bool
	}{
		{"https", true, func(v string) bool {
			return strings.HasPrefix(v, "STREAMING-UNSIGNED-PAYLOAD") || v == "UNSIGNED-PAYLOAD"
		}},
		{"http", false, func(v string) bool { return len(v) == 64 && !strings.Contains(v, "UNSIGNED") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(h)
			if tc.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			mu.Lock()
			seen = nil
			mu.Unlock()
			_, err := Upload(context.Background(), Input{
				Backoff: testBackoff,
				Bucket:  "b", Key: "k.pkg", Region: "us-east-1", Endpoint: srv.URL, FilePath: path,
				Credentials: credentials.NewStaticCredentialsProvider("a", "s", ""), HTTPClient: srv.Client(),
			})
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 1 || !tc.want(seen[0]) {
				t.Errorf("X-Amz-Content-Sha256 = %q", seen)
			}
		})
	}
}

// finalErr is an error its maker marks as final, as jamf.ProxyError does
// for a proxy that refuses the tunnel by policy.
type finalErr struct{}

func (finalErr) Error() string   { return "the proxy refused: HTTP 407" }
func (finalErr) Permanent() bool { return true }

// A request that fails with an error marked final is not retried.
func TestUploadDoesNotRetryFinalErrors(t *testing.T) {
	env := startFake(t)
	var connects atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		connects.Add(1)
		w.WriteHeader(http.StatusProxyAuthRequired)
	}))
	defer proxy.Close()
	tr := &http.Transport{
		Proxy: func(*http.Request) (*url.URL, error) { return url.Parse(proxy.URL) },
		OnProxyConnectResponse: func(context.Context, *url.URL, *http.Request, *http.Response) error {
			return finalErr{}
		},
	}
	path, _ := writeTestFile(t, 1000, 91)
	_, err := Upload(context.Background(), Input{
		Bucket: testBucket, Key: "final.pkg", Region: "us-east-1", Credentials: env.creds(), Endpoint: "https://127.0.0.1:9",
		FilePath: path, HTTPClient: &http.Client{Transport: tr},
	})
	if !errors.As(err, new(finalErr)) {
		t.Fatalf("err = %v, want the final error", err)
	}
	if n := connects.Load(); n != 1 {
		t.Errorf("CONNECT requests = %d, want 1 (no retry)", n)
	}
}
