package jamfsim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

func TestJCDSUploadMoveAndDuplicates(t *testing.T) {
	// The list shows a file once processed; processing time has its own
	// test (timing_test.go), this one lists right after each commit.
	c := newTC(t, Options{ProcessingDelay: -1})
	c.login()
	ctx := context.Background()
	data := payload(11<<20+5, 1) // three 5 MiB parts
	md5hex, sha3hex := sums(data)

	cr := c.initiate()
	if !strings.HasPrefix(cr.Path, "tmp/") || cr.Path != "tmp/"+cr.UUID+"/" || cr.BucketName != c.sim.Bucket() || cr.Region != "us-east-1" {
		t.Fatalf("credentials reply %+v", cr)
	}
	if d := time.Until(time.Unix(cr.Expiration, 0)); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("expiration in %v, want about 1h", d)
	}
	cl := s3For(c.sim.S3Endpoint(), cr)
	for i, want := range []string{"My App.pkg", "My App_1.pkg", "My App_2.pkg"} {
		if i > 0 {
			cr = c.initiate()
			cl = s3For(c.sim.S3Endpoint(), cr)
		}
		if err := upload(ctx, cl, cr.BucketName, cr.Path+"My App.pkg", data); err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		f := fileNamed(c.files(), want)
		if f == nil {
			t.Fatalf("after upload %d, no %q in %+v", i, want, c.files())
		}
		if f.Size != int64(len(data)) || f.MD5 != md5hex || f.SHA3 != sha3hex || f.Region != "us-east-1" {
			t.Errorf("%s: %+v", want, f)
		}
	}
	// tmp/ is empty again, the files sit at the bucket root
	out, err := c.sim.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(c.sim.Bucket())})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if strings.Join(keys, "|") != "My App.pkg|My App_1.pkg|My App_2.pkg" {
		t.Errorf("bucket keys %q", keys)
	}

	// get: a download URL that serves the bytes
	r := c.do("GET", "/api/v1/jcds/files/My%20App_1.pkg", nil, nil)
	var got struct{ URI string }
	r.json(t, &got)
	if r.status != 200 || got.URI == "" {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	dl, err := http.Get(got.URI)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(dl.Body)
	dl.Body.Close()
	if dl.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Errorf("download: %d, %d bytes", dl.StatusCode, len(body))
	}

	// delete, then absent
	if r := c.do("DELETE", "/api/v1/jcds/files/My%20App.pkg", nil, nil); r.status != 204 {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	for _, m := range []string{"DELETE", "GET"} {
		if r := c.do(m, "/api/v1/jcds/files/My%20App.pkg", nil, nil); r.status != 404 || r.apiCode(t) != "NOT_FOUND" {
			t.Errorf("%s after delete: %d %s", m, r.status, r.body)
		}
	}
	// the freed name is used again by the next upload
	cr = c.initiate()
	if err := upload(ctx, s3For(c.sim.S3Endpoint(), cr), cr.BucketName, cr.Path+"My App.pkg", []byte("small")); err != nil {
		t.Fatal(err)
	}
	if f := fileNamed(c.files(), "My App.pkg"); f == nil || f.Size != 5 {
		t.Errorf("re-upload after delete: %+v", f)
	}
	st := c.sim.State()
	if st.Counts.Initiates != 4 || len(st.Files) != 3 {
		t.Errorf("state counts %+v files %+v", st.Counts, st.Files)
	}
	var parts int
	for _, call := range st.S3Calls {
		if call.Method == "PUT" && strings.Contains(call.Query, "partNumber") && call.Status == 200 {
			parts++
		}
	}
	if parts != 9 {
		t.Errorf("proxy saw %d successful parts, want 9: %+v", parts, st.S3Calls)
	}
}

func TestJCDSRejectsUnsupportedExtension(t *testing.T) {
	c := newTC(t, Options{})
	c.login()
	cr := c.initiate()
	if err := upload(context.Background(), s3For(c.sim.S3Endpoint(), cr), cr.BucketName, cr.Path+"Tool.app.tar", []byte("data")); err != nil {
		t.Fatal(err)
	}
	if fs := c.files(); len(fs) != 0 {
		t.Errorf("files %+v", fs)
	}
	st := c.sim.State()
	if len(st.Rejected) != 1 || st.Rejected[0].Reason != "Unsupported file extension" {
		t.Errorf("rejected %+v", st.Rejected)
	}
}

func s3Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestJCDSCredentialScopeAndExpiry(t *testing.T) {
	t.Parallel() // waits out real delays
	c := newTC(t, Options{CredentialsTTL: 2 * time.Second})
	c.login()
	ctx := context.Background()
	cr := c.initiate()
	if d := time.Until(time.Unix(cr.Expiration, 0)); d > 3*time.Second {
		t.Errorf("expiration %v away, want the short TTL", d)
	}
	cl := s3For(c.sim.S3Endpoint(), cr)
	put := func(cl *s3.Client, key string) error {
		_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(cr.BucketName), Key: aws.String(key), Body: strings.NewReader("x")})
		return err
	}
	tests := []struct {
		name string
		err  func() error
		code string
	}{
		{"inside the session path", func() error { return put(cl, cr.Path+"ok.pkg") }, ""},
		{"outside the session path", func() error { return put(cl, "other.pkg") }, "AccessDenied"},
		{"another session's path", func() error { return put(cl, "tmp/other/x.pkg") }, "AccessDenied"},
		{"read back", func() error {
			_, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(cr.BucketName), Key: aws.String(cr.Path + "ok.pkg")})
			return err
		}, "AccessDenied"},
		{"wrong session token", func() error {
			bad := cr
			bad.SessionToken = "forged"
			return put(s3For(c.sim.S3Endpoint(), bad), cr.Path+"x.pkg")
		}, "InvalidToken"},
		{"unknown key", func() error {
			bad := cr
			bad.AccessKeyID = "ASIAUNKNOWN"
			return put(s3For(c.sim.S3Endpoint(), bad), cr.Path+"x.pkg")
		}, "InvalidAccessKeyId"},
		{"expired now", func() error { c.sim.ExpireCredentials(); return put(cl, cr.Path+"late.pkg") }, "ExpiredToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if got := s3Code(err); got != tt.code {
				t.Errorf("error %v (code %q), want code %q", err, got, tt.code)
			}
		})
	}
	// renewal gives working credentials for the same session path
	r := c.do("POST", "/api/v1/jcds/renew-credentials", nil, nil)
	var nc creds
	r.json(t, &nc)
	if r.status != 200 || nc.UUID != cr.UUID || nc.Path != cr.Path || nc.AccessKeyID == cr.AccessKeyID {
		t.Fatalf("renew: %d %+v", r.status, nc)
	}
	if err := put(s3For(c.sim.S3Endpoint(), nc), nc.Path+"renewed.pkg"); err != nil {
		t.Errorf("put with renewed credentials: %v", err)
	}
	// and expire by TTL on their own
	time.Sleep(2100 * time.Millisecond)
	if err := put(s3For(c.sim.S3Endpoint(), nc), nc.Path+"late.pkg"); s3Code(err) != "ExpiredToken" {
		t.Errorf("after the TTL: %v", err)
	}
	if c.sim.State().Counts.Renewals != 1 {
		t.Error("renewal not counted")
	}
}

func TestJCDSFailS3Parts(t *testing.T) {
	c := newTC(t, Options{})
	c.login()
	cr := c.initiate()
	c.sim.FailS3Parts(1)
	data := payload(6<<20, 2)
	// The SDK retries a 500 on its own; the proxy log shows the failure.
	if err := upload(context.Background(), s3For(c.sim.S3Endpoint(), cr), cr.BucketName, cr.Path+"p.pkg", data); err != nil {
		t.Fatalf("upload: %v", err)
	}
	var failed int
	for _, call := range c.sim.State().S3Calls {
		if strings.Contains(call.Query, "partNumber") && call.Status == 500 {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d failed parts, want 1", failed)
	}
	// Credentials that expire mid-upload (at the first part) fail it.
	cr2 := c.initiate()
	c.sim.InjectFault(Fault{S3: true, Method: "PUT", Path: "/" + cr2.BucketName + "/" + cr2.Path + "*", ExpireCredentials: true})
	err := upload(context.Background(), s3For(c.sim.S3Endpoint(), cr2), cr2.BucketName, cr2.Path+"e.pkg", data)
	if s3Code(err) != "ExpiredToken" {
		t.Errorf("upload with credentials expiring mid-way: %v", err)
	}
	// A persistent S3 fault makes the upload fail.
	cr = c.initiate()
	c.sim.InjectFault(Fault{S3: true, Method: "PUT", Path: "/" + cr.BucketName + "/" + cr.Path + "*", Status: 503, Count: -1})
	err = upload(context.Background(), s3For(c.sim.S3Endpoint(), cr), cr.BucketName, cr.Path+"q.pkg", []byte("tiny"))
	if s3Code(err) != "SlowDown" {
		t.Errorf("upload through a failing S3: %v", err)
	}
}

func TestRefreshInventory(t *testing.T) {
	c := newTC(t, Options{FullRefreshInterval: -1})
	c.login()
	c.sim.AddFile("A.pkg", []byte("aaaa"))
	if c.sim.AddPackage(Package{Name: "A", FileName: "A.pkg"}) != "1" {
		t.Fatal("AddPackage id")
	}
	// an object changed behind the inventory's back is re-read on refresh
	if _, err := c.sim.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(c.sim.Bucket()), Key: aws.String("A.pkg"), Body: strings.NewReader("longer content")}); err != nil {
		t.Fatal(err)
	}
	if f := fileNamed(c.files(), "A.pkg"); f == nil || f.Size != 4 {
		t.Fatalf("before refresh %+v", f)
	}
	for _, p := range []string{"/api/v1/jcds/refresh-inventory", "/api/v1/cloud-distribution-point/refresh-inventory?file-name=A.pkg", "/api/v1/cloud-distribution-point/refresh-inventory"} {
		if r := c.do("POST", p, nil, nil); r.status != 204 {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
	}
	_, sha := sums([]byte("longer content"))
	if f := fileNamed(c.files(), "A.pkg"); f == nil || f.Size != 14 || f.SHA3 != sha {
		t.Errorf("after refresh %+v", f)
	}
	if p := c.sim.State().Packages[0]; p.Size != "14" {
		t.Errorf("package size after refresh %q", p.Size)
	}
	if n := c.sim.State().Counts.Refreshes; n != 3 {
		t.Errorf("refreshes %d", n)
	}
	old := newTC(t, Options{JamfVersion: "11.18.0"})
	old.login()
	if r := old.do("GET", "/api/v1/jcds/properties", nil, nil); r.status != 200 || !contains(string(r.body), "jcds2Enabled") {
		t.Errorf("properties before 11.19: %d %s", r.status, r.body)
	}
}

func TestStaleListings(t *testing.T) {
	c := newTC(t, Options{StaleListings: 2})
	c.sim.AddFile("S.pkg", []byte("old content"))
	c.login()
	if r := c.do("DELETE", "/api/v1/jcds/files/S.pkg", nil, nil); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	cr := c.initiate()
	if err := upload(context.Background(), s3For(c.sim.S3Endpoint(), cr), cr.BucketName, cr.Path+"S.pkg", []byte("new")); err != nil {
		t.Fatal(err)
	}
	_, sha := sums([]byte("new"))
	for i, want := range []int64{11, 11, 3} {
		f := fileNamed(c.files(), "S.pkg")
		if f == nil || f.SHA3 != sha || f.Size != want {
			t.Errorf("listing %d: %+v, want new hash with length %d", i, f, want)
		}
	}
}

// With a processing delay, a JCDS upload is not listed until the service
// has processed it.
func TestJCDSProcessingDelay(t *testing.T) {
	t.Parallel() // waits out real delays
	c := newTC(t, Options{ProcessingDelay: 1500 * time.Millisecond, ListWait: 100 * time.Millisecond})
	c.login()
	cr := c.initiate()
	if err := upload(context.Background(), s3For(c.sim.S3Endpoint(), cr), cr.BucketName, cr.Path+"Late.pkg", []byte("late")); err != nil {
		t.Fatal(err)
	}
	if f := fileNamed(c.files(), "Late.pkg"); f != nil {
		t.Errorf("listed before processing: %+v", f)
	}
	waitFor(t, func() bool { return fileNamed(c.files(), "Late.pkg") != nil })
}
