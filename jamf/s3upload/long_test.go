package s3upload

import (
	"context"
	"crypto/md5"
	"crypto/sha3"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// A file past S3's 5 GiB single-PUT limit goes up as a multipart upload.
// The file is sparse, so it costs no disk to make; MinIO stores it for real.
// Multi-GB, so it runs only with JCDS2_LONG=1.
func TestUploadOver5GiBMinIO(t *testing.T) {
	if os.Getenv("JCDS2_LONG") != "1" {
		t.Skip("multi-GB upload; set JCDS2_LONG=1")
	}
	env := startMinIO(t)
	size := 5*gib + 3*mib + 17
	path := filepath.Join(t.TempDir(), "big.pkg")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()

	res, err := Upload(context.Background(), Input{
		Backoff: testBackoff,
		Bucket:  testBucket, Key: "big.pkg", Region: "us-east-1", Credentials: env.creds(),
		Endpoint: env.endpoint, FilePath: path, Hashes: SHA3_512 | MD5,
	})
	if err != nil {
		t.Fatal(err)
	}
	wantPS, wantParts := PartPlan(size)
	if res.Size != size || res.PartSize != wantPS || res.Parts != wantParts {
		t.Errorf("result %+v, want %d bytes in %d parts of %d", res, size, wantParts, wantPS)
	}
	s3h, m5 := sha3.New512(), md5.New()
	if _, err := io.Copy(io.MultiWriter(s3h, m5), io.LimitReader(zeroReader{}, size)); err != nil {
		t.Fatal(err)
	}
	if got, want := res.Sums, (Sums{SHA3_512: hex.EncodeToString(s3h.Sum(nil)), MD5: hex.EncodeToString(m5.Sum(nil))}); got != want {
		t.Errorf("sums %+v, want %+v", got, want)
	}
	head, err := env.admin.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("big.pkg")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(head.ContentLength) != size || !strings.HasSuffix(strings.Trim(aws.ToString(head.ETag), `"`), fmt.Sprintf("-%d", wantParts)) {
		t.Errorf("stored %d bytes, ETag %s; want %d bytes in %d parts", aws.ToInt64(head.ContentLength), aws.ToString(head.ETag), size, wantParts)
	}
	if ids := env.pendingUploads(t); len(ids) != 0 {
		t.Errorf("multipart uploads left: %v", ids)
	}
}
