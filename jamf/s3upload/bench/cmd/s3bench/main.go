// Command s3bench uploads one file with package s3upload and reports the
// throughput; bench.sh runs it beside boto3 and the AWS CLI under
// /usr/bin/time to compare speed and peak memory. It also carries the small
// helpers the script needs (MinIO's path, a free port, readiness, a bucket),
// so the script needs nothing but Go and Debian packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/miniotest"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "s3bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		minioPath = flag.Bool("minio-path", false, "print where the pinned MinIO binary is expected and exit")
		freePort  = flag.Bool("free-port", false, "print a free loopback port and exit")
		wait      = flag.String("wait", "", "wait until the MinIO at this URL is ready, then exit")
		mkbucket  = flag.Bool("mkbucket", false, "create -bucket and exit")
		endpoint  = flag.String("endpoint", "", "S3 endpoint URL")
		bucket    = flag.String("bucket", "bench", "bucket")
		key       = flag.String("key", "bench.pkg", "object key")
		file      = flag.String("file", "", "file to upload")
		hashes    = flag.String("hashes", "sha3-512", "digests computed in the upload pass: comma list of sha3-512, sha-512, md5, or none")
		progress  = flag.Bool("progress", false, "report progress on standard error")
		partSize  = flag.Int64("part-size", 0, "part size in bytes (0: the package's plan)")
		conc      = flag.Int("concurrency", 0, "parts in flight (0: the package's choice)")
		unsigned  = flag.Bool("unsigned-payload", false, "sign no payload hash and send no checksum, so each part is read once over plain HTTP too (as the SDK does over HTTPS); to measure what signing costs")
	)
	flag.Parse()
	switch {
	case *minioPath:
		fmt.Println(miniotest.BinaryPath())
		return nil
	case *freePort:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		return nil
	case *wait != "":
		return waitReady(*wait)
	}
	creds := credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), "")
	ctx := context.Background()
	if *mkbucket {
		c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(*endpoint), UsePathStyle: true, Credentials: creds})
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket})
		return err
	}
	which, err := parseHashes(*hashes)
	if err != nil {
		return err
	}
	st, err := os.Stat(*file)
	if err != nil {
		return err
	}
	var p *s3upload.Progress
	if *progress {
		p = s3upload.NewProgress(os.Stderr, "upload "+*key, st.Size())
	}
	var clientOpts []func(*s3.Options)
	if *unsigned {
		clientOpts = append(clientOpts, func(o *s3.Options) {
			o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		})
	}
	start := time.Now()
	res, err := s3upload.Upload(ctx, s3upload.Input{
		Bucket: *bucket, Key: *key, Region: "us-east-1", Credentials: creds, Endpoint: *endpoint,
		FilePath: *file, Hashes: which, Progress: p, PartSize: *partSize, Concurrency: *conc, ClientOptions: clientOpts,
	})
	p.Done()
	if err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Printf("uploaded %d bytes in %.2fs: %.1f MiB/s, %d parts of %d MiB, %d in flight, hashes %s\n",
		res.Size, d.Seconds(), float64(res.Size)/d.Seconds()/(1<<20), res.Parts, res.PartSize>>20, res.Concurrency, which)
	return nil
}

func parseHashes(s string) (s3upload.HashSet, error) {
	var h s3upload.HashSet
	for _, name := range strings.Split(s, ",") {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "sha3-512":
			h |= s3upload.SHA3_512
		case "sha-512", "sha512":
			h |= s3upload.SHA512
		case "md5":
			h |= s3upload.MD5
		case "none", "":
		default:
			return 0, fmt.Errorf("unknown hash %q", name)
		}
	}
	return h, nil
}

func waitReady(url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("MinIO at " + url + " not ready after 60s")
}
