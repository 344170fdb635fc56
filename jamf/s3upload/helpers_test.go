package s3upload

import (
	"context"
	"crypto/md5"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/miniotest"
)

const testBucket = "jcds-test"

// testBackoff makes retries in tests pause briefly; the SDK's real backoff
// would make a failing-part test take tens of seconds.
var testBackoff = fixedBackoff(20 * time.Millisecond)

type fixedBackoff time.Duration

func (b fixedBackoff) BackoffDelay(int, error) (time.Duration, error) { return time.Duration(b), nil }

// writeTestFile writes size pseudo-random bytes (fixed seed) and returns the
// path and the content.
func writeTestFile(t testing.TB, size int, seed uint64) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i+8 <= len(data); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	for i := len(data) &^ 7; i < len(data); i++ {
		data[i] = byte(r.Uint32())
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("pkg-%d.pkg", size))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// directSums computes the digests without the package's pipeline.
func directSums(data []byte) Sums {
	a := sha3.Sum512(data)
	b := sha512.Sum512(data)
	c := md5.Sum(data)
	return Sums{SHA3_512: hex.EncodeToString(a[:]), SHA512: hex.EncodeToString(b[:]), MD5: hex.EncodeToString(c[:])}
}

// s3env is an S3 server the tests upload to.
type s3env struct {
	endpoint       string
	access, secret string
	admin          *s3.Client // for checking results, talks to the server directly
}

func (e *s3env) creds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(e.access, e.secret, "")
}

func newAdminClient(endpoint, access, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(access, secretKey, ""),
	})
}

// startFake serves an in-process gofakes3 on loopback: fast, no MinIO needed.
func startFake(t testing.TB) *s3env {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	e := &s3env{endpoint: srv.URL, access: "fake-access-key", secret: "fake-secret-key"}
	e.admin = newAdminClient(e.endpoint, e.access, e.secret)
	return e
}

// startMinIO starts the pinned MinIO with an empty test bucket.
func startMinIO(t testing.TB) *s3env {
	t.Helper()
	m := miniotest.Start(t)
	e := &s3env{endpoint: m.Endpoint, access: m.AccessKey, secret: m.SecretKey}
	e.admin = newAdminClient(e.endpoint, e.access, e.secret)
	// MinIO reports ready before it finishes initialising and answers 503
	// XMinioServerNotInitialized for a moment; wait that out.
	_, err := e.admin.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(testBucket)})
	for deadline := time.Now().Add(30 * time.Second); err != nil && strings.Contains(err.Error(), "not initialized") && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		_, err = e.admin.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(testBucket)})
	}
	if err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return e
}

func (e *s3env) object(t testing.TB, key string) []byte {
	t.Helper()
	out, err := e.admin.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *s3env) objectExists(t testing.TB, key string) bool {
	t.Helper()
	_, err := e.admin.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err == nil {
		return true
	}
	var nf interface{ ErrorCode() string }
	if errors.As(err, &nf) && (nf.ErrorCode() == "NotFound" || nf.ErrorCode() == "NoSuchKey") {
		return false
	}
	t.Fatalf("head %s: %v", key, err)
	return false
}

func (e *s3env) pendingUploads(t testing.TB) []string {
	t.Helper()
	out, err := e.admin.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(testBucket)})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	var ids []string
	for _, u := range out.Uploads {
		ids = append(ids, aws.ToString(u.Key)+"/"+aws.ToString(u.UploadId))
	}
	return ids
}

// faultProxy forwards to an S3 server and can fail or delay UploadPart
// requests for one part number.
type faultProxy struct {
	*httptest.Server
	mu        sync.Mutex
	failPart  int           // part number to fail, 0 none
	failTimes int           // how many times (-1: always)
	partDelay time.Duration // pause before forwarding each part
	onPart    func(n int)   // runs before part n is forwarded
	hits      map[int]int   // UploadPart requests seen per part number
	failed    int
}

func newFaultProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{hits: map[int]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pn := r.URL.Query().Get("partNumber"); r.Method == http.MethodPut && pn != "" {
			n, _ := strconv.Atoi(pn)
			p.mu.Lock()
			p.hits[n]++
			fail := n == p.failPart && (p.failTimes < 0 || p.failed < p.failTimes)
			if fail {
				p.failed++
			}
			delay, onPart := p.partDelay, p.onPart
			p.mu.Unlock()
			if onPart != nil {
				onPart(n)
			}
			if fail {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected failure</Message></Error>`)
				return
			}
			if delay > 0 {
				time.Sleep(delay)
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *faultProxy) partHits(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[n]
}
