// Command s3bench uploads one file with package s3upload and reports the
// throughput; bench.sh runs it beside boto3 and the AWS CLI under
// /usr/bin/time to compare speed and peak memory. It also carries the small
// helpers the script needs (MinIO's path, a free port, readiness, a bucket),
// so the script needs nothing but Go and Debian packages: among them a
// self-signed certificate for 127.0.0.1, so that MinIO can serve HTTPS as
// real S3 endpoints do and every client is measured on the path it takes
// there (over HTTPS the SDKs sign no payload hash and send checksums as
// trailers, each part read once).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
		genCert   = flag.String("gen-cert", "", "write a self-signed certificate for 127.0.0.1 (public.crt, private.key, as MinIO's -certs-dir wants them) into this folder and exit")
		caFile    = flag.String("ca", "", "trust this PEM certificate for an https -endpoint (as AWS_CA_BUNDLE does for boto3 and the AWS CLI)")
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
	case *genCert != "":
		return writeCert(*genCert)
	case *wait != "":
		return waitReady(*wait, *caFile)
	}
	httpClient, err := clientTrusting(*caFile)
	if err != nil {
		return err
	}
	creds := credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), "")
	ctx := context.Background()
	if *mkbucket {
		o := s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(*endpoint), UsePathStyle: true, Credentials: creds}
		if httpClient != nil {
			o.HTTPClient = httpClient
		}
		_, err := s3.New(o).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket})
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
		HTTPClient: httpClient, MemoryLimit: s3upload.SoftMemoryLimit,
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

func waitReady(url, caFile string) error {
	c, err := clientTrusting(caFile)
	if err != nil {
		return err
	}
	if c == nil {
		c = http.DefaultClient
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := c.Get(url + "/minio/health/ready")
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

// clientTrusting returns an HTTP client that trusts the PEM certificate in
// caFile besides the system's roots, or nil (the SDK's default) for "".
func clientTrusting(caFile string) (*http.Client, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read -ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-ca %s holds no PEM certificate", caFile)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}, nil
}

// writeCert writes a self-signed ECDSA certificate for 127.0.0.1, valid for
// a day, as dir/public.crt and dir/private.key.
func writeCert(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "public.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "private.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}
