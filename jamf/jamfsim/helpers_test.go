package jamfsim

//lint:file-ignore SA1019 go.mod pins feature/s3/manager (team choice); its successor transfermanager is not a project dependency.

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// tc is a tiny test client for the simulator.
type tc struct {
	t      *testing.T
	sim    *Server
	token  string
	client *http.Client // with a cookie jar: sticks to one cluster node
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// apiErr decodes the Jamf Pro API error body and returns its first code.
func (r resp) apiCode(t *testing.T) string {
	t.Helper()
	var e apiError
	r.json(t, &e)
	if e.HTTPStatus != r.status {
		t.Fatalf("error body httpStatus %d, response status %d", e.HTTPStatus, r.status)
	}
	if len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

// newTC starts a simulator for a test. Refreshes answer at once unless the
// test sets their times: their pace has its own tests (timing_test.go),
// and the others test what a refresh does, not how long it takes.
func newTC(t *testing.T, opts Options) *tc {
	t.Helper()
	if opts.FirstRefreshTime == 0 {
		opts.FirstRefreshTime = -1
	}
	if opts.LaterRefreshTime == 0 {
		opts.LaterRefreshTime = -1
	}
	jar, _ := cookiejar.New(nil)
	return &tc{t: t, sim: Start(t, opts), client: &http.Client{Jar: jar}}
}

func (c *tc) do(method, path string, body io.Reader, hdr map[string]string) resp {
	c.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, c.sim.URL()+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (c *tc) login() {
	c.t.Helper()
	c.token = c.loginAs("admin", "password")
}

func (c *tc) loginAs(user, pass string) string {
	c.t.Helper()
	saved := c.token
	c.token = ""
	r := c.do("POST", "/api/v1/auth/token", nil, map[string]string{"Authorization": basic(user, pass)})
	c.token = saved
	if r.status != 200 {
		c.t.Fatalf("token for %s: %d %s", user, r.status, r.body)
	}
	var tok struct{ Token, Expires string }
	r.json(c.t, &tok)
	return tok.Token
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

func (c *tc) jsonBody(method, path string, v any) resp {
	c.t.Helper()
	return c.jsonBodyHdr(method, path, v, nil)
}

func (c *tc) jsonBodyHdr(method, path string, v any, hdr map[string]string) resp {
	c.t.Helper()
	b, _ := json.Marshal(v)
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range hdr {
		h[k] = v
	}
	return c.do(method, path, bytes.NewReader(b), h)
}

// pkg is GET /api/v1/packages/{id} as this client's node sees it.
func (c *tc) pkg(id string) map[string]any {
	c.t.Helper()
	r := c.do("GET", "/api/v1/packages/"+id, nil, nil)
	if r.status != 200 {
		c.t.Fatalf("get package %s: %d %s", id, r.status, r.body)
	}
	var m map[string]any
	r.json(c.t, &m)
	return m
}

// waitFor polls cond for up to 10 s (asynchronous processing).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// refresh asks the serving node for an inventory refresh of one file.
func (c *tc) refresh(file string) resp {
	c.t.Helper()
	return c.do("POST", "/api/v1/cloud-distribution-point/refresh-inventory?file-name="+q(file), nil, nil)
}

// refreshUntil refreshes the inventory for one file name on every tick, as
// Jamf's tools do, until cond holds (10 s at most). Before 11.24 it uses the
// JCDS refresh.
func (c *tc) refreshUntil(file string, cond func() bool) {
	c.t.Helper()
	path := "/api/v1/cloud-distribution-point/refresh-inventory?file-name=" + q(file)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := c.do("POST", path, nil, nil)
		if r.status == 404 {
			path = "/api/v1/jcds/refresh-inventory?file-name=" + q(file)
			continue
		}
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: condition not reached in 10s of refreshes", file)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type creds struct {
	AccessKeyID, SecretAccessKey, SessionToken, Region, BucketName, Path, UUID string
	Expiration                                                                 int64
}

func (c *tc) initiate() creds {
	c.t.Helper()
	r := c.do("POST", "/api/v1/jcds/files", nil, nil)
	if r.status != 201 {
		c.t.Fatalf("initiate: %d %s", r.status, r.body)
	}
	var cr creds
	r.json(c.t, &cr)
	return cr
}

func (c *tc) files() []File {
	c.t.Helper()
	r := c.do("GET", "/api/v1/jcds/files", nil, nil)
	if r.status != 200 {
		c.t.Fatalf("list: %d %s", r.status, r.body)
	}
	var fs []File
	r.json(c.t, &fs)
	return fs
}

func fileNamed(fs []File, name string) *File {
	for i := range fs {
		if fs[i].Name == name {
			return &fs[i]
		}
	}
	return nil
}

// s3For is an S3 client using the credentials the simulator handed out,
// against its proxy, as the uploader would.
func s3For(endpoint string, cr creds) *s3.Client {
	return s3.New(s3.Options{
		Region:       cr.Region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken),
	})
}

func upload(ctx context.Context, cl *s3.Client, bucket, key string, data []byte) error {
	up := manager.NewUploader(cl, func(u *manager.Uploader) { u.PartSize = 5 << 20; u.Concurrency = 2 })
	_, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	return err
}

func sums(data []byte) (md5hex, sha3hex string) {
	m := md5.Sum(data)
	h := sha3.Sum512(data)
	return hex.EncodeToString(m[:]), hex.EncodeToString(h[:])
}

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func q(s string) string { return url.QueryEscape(s) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
