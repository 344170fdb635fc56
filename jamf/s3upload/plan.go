package s3upload

import "fmt"

const (
	mib = int64(1) << 20
	gib = int64(1) << 30

	// MaxParts is S3's limit on parts in one multipart upload.
	MaxParts = 10000
	// PartSize is the part size this package plans unless S3's 10,000-part
	// limit needs more (files over 78 GiB). S3 allows 5 MiB; 8 MiB parts
	// cost no memory (each is read from the file as it is sent), and
	// smaller parts end an upload sooner on a real path: the last parts
	// run alone, each at one connection's speed, so the smaller they are
	// the less of the link sits idle at the end. On the WAN path over HTTPS
	// (bench/RESULTS.md) 1 GiB at 32 in flight took 9.7-10.3 s as 8 MiB
	// parts, 9.8-10.6 s as 12 MiB and 10.5-10.6 s as 16 MiB; a 256 MiB
	// file 3.2 s as 32 parts of 8 MiB and 3.5 s as 16 of 16 MiB; on
	// loopback 8 and 16 MiB were within noise (4.9-5.9 s for 1 GiB). Each
	// part also costs a pause on its connection (a round trip for Expect:
	// 100-continue, one for the answer), which the other connections in
	// flight cover. 8 MiB also stays within the largest chunk MinIO takes
	// in the aws-chunked body the SDK sends over HTTPS (16 MiB,
	// minio/minio#21611), so S3-compatible test servers take the default.
	PartSize = 8 * mib
	// S3MinPartSize is the smallest part S3 accepts (all but the last).
	S3MinPartSize = 5 * mib
	// MaxPartSize is S3's largest part.
	MaxPartSize = 5 * gib
	// MaxObjectSize is S3's largest object.
	MaxObjectSize = 5 * 1024 * gib

	// DefaultConcurrency is how many parts are in flight unless the caller
	// says otherwise. On a real path to S3 each connection is held well
	// below the link (by the path, and by TCP over a long round trip), so
	// throughput grows with the parts in flight. On the WAN profile in
	// bench/RESULTS.md (30 ms each way, 80 Mbit/s per connection, 1 Gbit/s
	// link, HTTPS) 1 GiB took 11.3 s with 16 in flight and 9.8-10.4 s with
	// 32, while 48 and 64 gained nothing more; on loopback 16 and 32 were
	// within noise. Parts are sections of the file, so concurrency costs
	// no part buffers: 32 adds about 2 MB of connection state.
	DefaultConcurrency = 32
	// MaxConcurrency bounds the parts in flight a caller may ask for.
	MaxConcurrency = 64
)

// Plan is how a file is cut into parts and how many are sent at once.
type Plan struct {
	Size        int64
	PartSize    int64
	Parts       int
	Concurrency int
}

// NewPlan checks a caller's part size and concurrency (0 for either means
// this package's choice) against S3's limits for a file of size bytes. It
// sends nothing, so callers can refuse bad settings before any request.
func NewPlan(size, partSize int64, concurrency int) (Plan, error) {
	if size < 0 || size > MaxObjectSize {
		return Plan{}, fmt.Errorf("file is %d bytes; S3 takes 0 to %d", size, MaxObjectSize)
	}
	p := Plan{Size: size, Concurrency: concurrency}
	switch {
	case concurrency == 0:
		p.Concurrency = DefaultConcurrency
	case concurrency < 1 || concurrency > MaxConcurrency:
		return Plan{}, fmt.Errorf("concurrency %d is outside 1..%d", concurrency, MaxConcurrency)
	}
	if partSize == 0 {
		p.PartSize, p.Parts = PartPlan(size)
	} else {
		if partSize < S3MinPartSize || partSize > MaxPartSize {
			return Plan{}, fmt.Errorf("part size %d outside S3's limits %d..%d (5 MiB..5 GiB)", partSize, S3MinPartSize, MaxPartSize)
		}
		p.PartSize, p.Parts = partSize, partCount(size, partSize)
		if p.Parts > MaxParts {
			least := max(S3MinPartSize, ceilDiv(ceilDiv(size, MaxParts), mib)*mib)
			return Plan{}, fmt.Errorf("part size %d MiB would cut this %d-byte file into %d parts, more than S3's %d; use at least %d MiB",
				partSize/mib, size, p.Parts, MaxParts, least/mib)
		}
	}
	// More parts in flight than parts only opens idle connections.
	p.Concurrency = min(p.Concurrency, p.Parts)
	return p, nil
}

// PartPlan returns the part size and part count for a file of size bytes:
// PartSize, or the smallest whole number of MiB above it with which at
// most MaxParts parts cover the file. An empty file is one (empty) part.
func PartPlan(size int64) (partSize int64, parts int) {
	partSize = PartSize
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

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
