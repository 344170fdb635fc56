package s3upload

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// BenchmarkHashFile measures one hash-only pass per digest set; with the
// digests on their own goroutines a pass should cost about the slowest one.
func BenchmarkHashFile(b *testing.B) {
	path, _ := writeTestFile(b, 64<<20, 1)
	for _, which := range []HashSet{MD5, SHA512, SHA3_512, SHA3_512 | SHA512 | MD5} {
		b.Run(which.String(), func(b *testing.B) {
			b.SetBytes(64 << 20)
			for i := 0; i < b.N; i++ {
				if _, _, err := HashFile(context.Background(), path, which, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUploadMinIO uploads a 256 MiB file to MinIO on loopback with the
// default plan; bench/bench.sh compares the same engine with boto3 and the
// AWS CLI on a larger file.
func BenchmarkUploadMinIO(b *testing.B) {
	env := startMinIO(b)
	const size = 256 << 20
	path, _ := writeTestFile(b, size, 2)
	for _, which := range []HashSet{0, SHA3_512} {
		b.Run("hashes="+which.String(), func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; i < b.N; i++ {
				_, err := Upload(context.Background(), Input{
					Backoff: testBackoff, MemoryLimit: SoftMemoryLimit,
					Bucket: testBucket, Key: fmt.Sprintf("bench-%d.pkg", i), Region: "us-east-1",
					Credentials: env.creds(), Endpoint: env.endpoint, FilePath: path, Hashes: which,
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	_ = os.Remove(path)
}
