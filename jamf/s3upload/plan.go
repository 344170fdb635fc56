package s3upload

const (
	mib = int64(1) << 20
	gib = int64(1) << 30

	// MaxParts is S3's limit on parts in one multipart upload.
	MaxParts = 10000
	// MinPartSize is the smallest part this package plans. S3 allows 5 MiB;
	// 8 MiB halves the request count at no memory cost worth noting.
	MinPartSize = 8 * mib
	// MaxPartSize is S3's largest part.
	MaxPartSize = 5 * gib
	// MaxObjectSize is S3's largest object.
	MaxObjectSize = 5 * 1024 * gib

	// partBudget bounds the part buffers in flight. The SDK's uploader holds
	// concurrency+1 part buffers plus the first part it read, so 3 x 8 MiB
	// keeps peak RSS under 64 MB (measured by bench/bench.sh, also on a
	// 6 GiB file); throughput on loopback MinIO was the same as with 4.
	// Past about 80 GiB parts must grow beyond 8 MiB to stay within 10,000
	// and memory grows with them, one part in flight at least.
	partBudget     = 24 * mib
	maxConcurrency = 4
)

// PartPlan returns the part size and part count for a file of size bytes:
// the smallest whole number of MiB, at least MinPartSize, with which at most
// MaxParts parts cover the file. An empty file is one (empty) part.
func PartPlan(size int64) (partSize int64, parts int) {
	partSize = MinPartSize
	if need := ceilDiv(size, MaxParts); need > partSize {
		partSize = ceilDiv(need, mib) * mib
	}
	return partSize, partCount(size, partSize)
}

func partCount(size, partSize int64) int {
	if size <= 0 {
		return 1
	}
	return int(ceilDiv(size, partSize))
}

// autoConcurrency keeps part buffers within partBudget: the uploader holds
// one buffer per part in flight plus one being filled.
func autoConcurrency(partSize int64) int {
	return int(max(1, min(maxConcurrency, partBudget/partSize)))
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
