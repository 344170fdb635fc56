package jamfsim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/miniotest"
)

// TestMinIOUploadWithSTSCredentials is the end-to-end check that the
// simulator's claims hold against a real S3 server: credentials minted by
// MinIO's STS, scoped by a session policy, used by aws-sdk-go-v2 for a
// multipart upload, moved out of tmp/ and listed with the right hashes.
func TestMinIOUploadWithSTSCredentials(t *testing.T) {
	m := miniotest.Start(t)
	// No processing time (its own test is timing_test.go): the test lists
	// right after each commit.
	c := newTC(t, Options{S3: &S3Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey}, CredentialsTTL: 3 * time.Second,
		ProcessingDelay: -1})
	c.login()
	ctx := context.Background()
	data := payload(12<<20+3, 9)
	md5hex, sha3hex := sums(data)

	cr := c.initiate()
	if cr.SessionToken == "" || cr.AccessKeyID == m.AccessKey {
		t.Fatalf("want STS session credentials, got key %q with token %t", cr.AccessKeyID, cr.SessionToken != "")
	}
	if d := time.Until(time.Unix(cr.Expiration, 0)); d > 4*time.Second {
		t.Errorf("expiration %v away; the client must be told the short TTL", d)
	}
	cl := s3For(c.sim.S3Endpoint(), cr)
	if err := upload(ctx, cl, cr.BucketName, cr.Path+"Big App.pkg", data); err != nil {
		t.Fatalf("multipart upload with STS credentials: %v", err)
	}
	// Once listed (moved out of tmp/), the same name again becomes _1.
	if f := fileNamed(c.files(), "Big App.pkg"); f == nil {
		t.Fatal("first upload not listed")
	}
	if err := upload(ctx, cl, cr.BucketName, cr.Path+"Big App.pkg", data[:1000]); err != nil {
		t.Fatalf("second upload: %v", err)
	}
	fs := c.files()
	f, f1 := fileNamed(fs, "Big App.pkg"), fileNamed(fs, "Big App_1.pkg")
	if f == nil || f.Size != int64(len(data)) || f.MD5 != md5hex || f.SHA3 != sha3hex {
		t.Fatalf("listed %+v", fs)
	}
	_, sha1000 := sums(data[:1000])
	if f1 == nil || f1.Size != 1000 || f1.SHA3 != sha1000 {
		t.Errorf("duplicate: %+v", fs)
	}
	// MinIO itself enforces the session policy.
	tests := []struct {
		name string
		key  string
		get  bool
		code string
	}{
		{"bucket root", "evil.pkg", false, "AccessDenied"},
		{"other session", "tmp/00000000-0000-4000-8000-000000000000/x.pkg", false, "AccessDenied"},
		{"read a distributed file", "Big App.pkg", true, "AccessDenied"},
		{"own path", cr.Path + "fine.pkg", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.get {
				_, err = cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(cr.BucketName), Key: aws.String(tt.key)})
			} else {
				_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(cr.BucketName), Key: aws.String(tt.key), Body: strings.NewReader("x")})
			}
			if got := s3Code(err); got != tt.code {
				t.Errorf("err %v, want code %q", err, tt.code)
			}
		})
	}
	// Expiry is enforced at the proxy even though MinIO's minimum is 900 s.
	c.sim.ExpireCredentials()
	_, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(cr.BucketName), Key: aws.String(cr.Path + "late.pkg"), Body: strings.NewReader("x")})
	if s3Code(err) != "ExpiredToken" {
		t.Errorf("expired credentials: %v", err)
	}
	r := c.do("POST", "/api/v1/jcds/renew-credentials", nil, nil)
	var nc creds
	r.json(t, &nc)
	if r.status != 200 || nc.Path != cr.Path {
		t.Fatalf("renew: %d %s", r.status, r.body)
	}
	if err := upload(ctx, s3For(c.sim.S3Endpoint(), nc), nc.BucketName, nc.Path+"Renewed.dmg", []byte("renewed")); err != nil {
		t.Fatalf("upload with renewed credentials: %v", err)
	}
	if f := fileNamed(c.files(), "Renewed.dmg"); f == nil || f.Size != 7 {
		t.Errorf("renewed upload not listed: %+v", c.files())
	}
	// Delete removes the object from MinIO too.
	if r := c.do("DELETE", "/api/v1/jcds/files/Big%20App.pkg", nil, nil); r.status != 204 {
		t.Fatalf("delete: %d", r.status)
	}
	if _, err := c.sim.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.sim.Bucket()), Key: aws.String("Big App.pkg")}); err == nil {
		t.Error("deleted file still in the bucket")
	}
}

// TestMinIOMultipartCopy takes the >5 GiB path (UploadPartCopy) with small
// objects by lowering the thresholds.
func TestMinIOMultipartCopy(t *testing.T) {
	m := miniotest.Start(t)
	c := newTC(t, Options{S3: &S3Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey, Bucket: "other-bucket"},
		copyThreshold: 6 << 20, copyPartSize: 5 << 20, ProcessingDelay: -1}) // lists right after the commit
	c.login()
	data := payload(13<<20+1, 5)
	md5hex, sha3hex := sums(data)
	cr := c.initiate()
	if cr.BucketName != "other-bucket" {
		t.Errorf("bucket %q", cr.BucketName)
	}
	if err := upload(context.Background(), s3For(c.sim.S3Endpoint(), cr), cr.BucketName, cr.Path+"Huge.dmg", data); err != nil {
		t.Fatal(err)
	}
	f := fileNamed(c.files(), "Huge.dmg")
	if f == nil || f.Size != int64(len(data)) || f.MD5 != md5hex || f.SHA3 != sha3hex {
		t.Fatalf("listed %+v", f)
	}
	// The moved object holds the same bytes.
	size, md5b, sha3b, _, err := c.sim.hashObject(context.Background(), "Huge.dmg")
	if err != nil || size != int64(len(data)) || md5b != md5hex || sha3b != sha3hex {
		t.Errorf("moved object: %d %s %v", size, md5b, err)
	}
	c.sim.mu.Lock()
	streamed := c.sim.streamedCopies
	c.sim.mu.Unlock()
	if streamed != 0 {
		t.Errorf("fell back to a streamed copy %d times", streamed)
	}
}
