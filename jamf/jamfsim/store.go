package jamfsim

//lint:file-ignore SA1019 go.mod pins feature/s3/manager (team choice); its successor transfermanager is not a project dependency.

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Region is the AWS region the simulated JCDS reports.
const Region = "us-east-1"

const (
	defaultBucket = "jcds-sim"
	tmpPrefix     = "tmp/"
	maxCopyObject = 5 << 30   // a single CopyObject stops at 5 GiB
	copyPartSize  = 512 << 20 // UploadPartCopy size for bigger objects
	minSTSSeconds = 900       // MinIO (and AWS) refuse shorter AssumeRole sessions
)

// allowedExt are the file types JCDS accepts.
var allowedExt = map[string]bool{".pkg": true, ".mpkg": true, ".dmg": true, ".zip": true}

func extensionAllowed(name string) bool {
	return allowedExt[strings.ToLower(path.Ext(name))]
}

type uploadSession struct {
	uuid  string
	creds *issuedCreds
}

type issuedCreds struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	uuid                                       string
	expires                                    time.Time // what the client is told, and what the proxy enforces
}

func (s *Server) startS3(ctx context.Context) error {
	if s.opts.S3 == nil {
		s.inProcess = true
		s.bucket = defaultBucket
		s.rootKey = "SIMROOT" + strings.ToUpper(randHex(7))
		s.rootSecret = randHex(20)
		faker := gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog()))
		if s.opts.network != nil {
			s.backendURL = s.memoryServe(memoryBackendHost, faker.Server())
		} else {
			s.backend = httptest.NewServer(faker.Server())
			s.backendURL = s.backend.URL
		}
	} else {
		c := s.opts.S3
		if c.Endpoint == "" || c.AccessKey == "" || c.SecretKey == "" {
			return errors.New("S3 config needs endpoint, access key and secret key")
		}
		s.backendURL = strings.TrimRight(c.Endpoint, "/")
		s.rootKey, s.rootSecret = c.AccessKey, c.SecretKey
		s.bucket = c.Bucket
		if s.bucket == "" {
			s.bucket = defaultBucket
		}
	}
	root := credentials.NewStaticCredentialsProvider(s.rootKey, s.rootSecret, "")
	httpClient := &http.Client{Transport: s.inMemory(&http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second})}
	s.s3 = s3.New(s3.Options{
		Region:                     Region,
		BaseEndpoint:               aws.String(s.backendURL),
		UsePathStyle:               true,
		Credentials:                root,
		HTTPClient:                 httpClient,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	if _, err := s.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		if _, err := s.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
			return fmt.Errorf("create bucket %q at %s: %w", s.bucket, s.backendURL, err)
		}
	}
	if !s.inProcess {
		s.sts = sts.New(sts.Options{
			Region:       Region,
			BaseEndpoint: aws.String(s.backendURL),
			Credentials:  root,
			HTTPClient:   httpClient,
		})
	}
	l, err := s.listenS3Proxy()
	if err != nil {
		return fmt.Errorf("listen for the S3 proxy: %w", err)
	}
	s.proxyURL = "http://" + l.Addr().String()
	s.proxy = &http.Server{Handler: s.s3ProxyHandler(), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = s.proxy.Serve(l) }()
	return s.shapeS3(l.Addr().String())
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// mintCredentials issues temporary credentials allowed to write only under
// tmp/<uuid>/. With MinIO they come from STS AssumeRole with a session
// policy, so MinIO itself enforces signature and scope; in-process the
// proxy checks key, session token and scope.
func (s *Server) mintCredentials(ctx context.Context, uuid string) (*issuedCreds, error) {
	ttl := s.opts.CredentialsTTL
	ic := &issuedCreds{uuid: uuid, expires: time.Now().Add(ttl)}
	if s.inProcess {
		ic.AccessKeyID = "ASIA" + strings.ToUpper(randHex(8))
		ic.SecretAccessKey = randToken("", 30)
		ic.SessionToken = randToken("FwoGZXIvYXdzEJSIM", 96)
	} else {
		secs := int32(ttl / time.Second)
		if secs < minSTSSeconds {
			secs = minSTSSeconds
		}
		policy, err := json.Marshal(map[string]any{
			"Version": "2012-10-17",
			"Statement": []map[string]any{{
				"Effect":   "Allow",
				"Action":   []string{"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"},
				"Resource": []string{"arn:aws:s3:::" + s.bucket + "/" + tmpPrefix + uuid + "/*"},
			}},
		})
		if err != nil {
			return nil, err
		}
		out, err := s.sts.AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn:         aws.String("arn:aws:iam::123456789012:role/jcds-upload"),
			RoleSessionName: aws.String("jcds-" + uuid[:8]),
			DurationSeconds: aws.Int32(secs),
			Policy:          aws.String(string(policy)),
		})
		if err != nil {
			return nil, fmt.Errorf("STS AssumeRole at %s: %w", s.backendURL, err)
		}
		c := out.Credentials
		ic.AccessKeyID, ic.SecretAccessKey, ic.SessionToken = aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)
		if c.Expiration != nil && c.Expiration.Before(ic.expires) {
			ic.expires = *c.Expiration
		}
	}
	s.mu.Lock()
	s.creds[ic.AccessKeyID] = ic
	s.mu.Unlock()
	return ic, nil
}

// ExpireCredentials makes every issued upload credential expired now: the
// S3 proxy answers requests signed with them 400 ExpiredToken.
func (s *Server) ExpireCredentials() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, c := range s.creds {
		c.expires = past
	}
}

// processLoop moves finished uploads from tmp/ into the distribution point.
func (s *Server) processLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.ProcessInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-s.stop:
			case <-ctx.Done():
			}
			cancel()
		}()
		select {
		case s.procSem <- struct{}{}:
			if err := s.processPending(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn().Err(err).Msg("process JCDS uploads")
			}
			<-s.procSem
		case <-s.stop:
		}
		cancel()
	}
}

// corruptObject rewrites the object at key, its first byte flipped, under
// the staging prefix (out of the tmp/ listing) and returns the new key.
func (s *Server) corruptObject(ctx context.Context, key string) (string, error) {
	out, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	defer out.Body.Close()
	moved := stagingPrefix + "corrupt/" + key
	if err := s.putStream(ctx, moved, &corruptReader{r: out.Body}); err != nil {
		return "", err
	}
	return moved, s.deleteKey(ctx, key)
}

// uploadCommitted notes a JCDS upload the S3 side has taken (its commit
// answered 200): its processing time counts from now, and the next refresh
// of its file name on each pod is a first one again.
func (s *Server) uploadCommitted(key string) {
	s.mu.Lock()
	s.committed[key] = time.Now()
	if rest, ok := strings.CutPrefix(key, tmpPrefix); ok {
		if _, name, ok := strings.Cut(rest, "/"); ok {
			s.newUploadLocked(name)
		}
	}
	s.mu.Unlock()
	s.kickProcessor()
}

func (s *Server) kickProcessor() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// syncUploads processes pending uploads now, waiting at most wait for a
// pass that is already running (a multi-GB move takes a while).
func (s *Server) syncUploads(ctx context.Context, wait time.Duration) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case s.procSem <- struct{}{}:
		if err := s.processPending(ctx); err != nil {
			s.log.Warn().Err(err).Msg("process JCDS uploads")
		}
		<-s.procSem
	case <-timer.C:
	case <-ctx.Done():
	}
}

// processPending moves every complete object under tmp/<uuid>/ to the
// bucket root under its file name (Name_1.ext when taken), after hashing
// it, as the JCDS service does.
func (s *Server) processPending(ctx context.Context) error {
	p := s3.NewListObjectsV2Paginator(s.s3, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(tmpPrefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", tmpPrefix, err)
		}
		for _, obj := range page.Contents {
			if err := s.processOne(ctx, obj); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) processOne(ctx context.Context, obj types.Object) error {
	key := aws.ToString(obj.Key)
	if d := s.processingTime(aws.ToInt64(obj.Size)); d > 0 {
		s.mu.Lock()
		at, ok := s.committed[key]
		s.mu.Unlock()
		if !ok && obj.LastModified != nil {
			at = *obj.LastModified
		}
		if time.Since(at) < d {
			return nil // still being processed by the service
		}
	}
	rest := strings.TrimPrefix(key, tmpPrefix)
	_, name, ok := strings.Cut(rest, "/")
	reason := ""
	switch {
	case !ok || name == "" || strings.Contains(name, "/"):
		reason = "Invalid upload path"
	case !extensionAllowed(name):
		reason = "Unsupported file extension"
	}
	s.mu.Lock()
	lost := s.lost["/"+s.bucket+"/"+key]
	delete(s.lost, "/"+s.bucket+"/"+key)
	s.mu.Unlock()
	if lost && reason == "" {
		// The commit answered success, the file never lands
		// (jamfplatform PR #273; a "never-lands" fault).
		s.log.Info().Str("key", key).Msg("JCDS upload never landed (fault)")
		s.mu.Lock()
		delete(s.committed, key)
		s.mu.Unlock()
		return s.deleteKey(ctx, key)
	}
	if reason != "" {
		if err := s.deleteKey(ctx, key); err != nil {
			return err
		}
		s.mu.Lock()
		delete(s.committed, key)
		s.rejected = append(s.rejected, Rejected{Key: key, Reason: reason})
		s.mu.Unlock()
		s.log.Info().Str("key", key).Str("reason", reason).Msg("JCDS rejected upload")
		return nil
	}
	s.mu.Lock()
	corrupt := s.corrupt["/"+s.bucket+"/"+key]
	delete(s.corrupt, "/"+s.bucket+"/"+key)
	s.mu.Unlock()
	if corrupt {
		// A "corrupt" fault: the service keeps other bytes of the same
		// length than the client committed.
		moved, err := s.corruptObject(ctx, key)
		if err != nil {
			return err
		}
		s.mu.Lock()
		if at, ok := s.committed[key]; ok {
			s.committed[moved] = at
			delete(s.committed, key)
		}
		s.mu.Unlock()
		key = moved
	}
	size, md5hex, sha3hex, sha256hex, err := s.hashObject(ctx, key)
	if err != nil {
		return err
	}
	s.mu.Lock()
	target := s.uniqueNameLocked(name)
	// Reserve the name so a concurrent AddFile or v1 upload sees it taken.
	s.files[target] = &File{Name: target, Size: 0, Region: Region}
	s.mu.Unlock()
	if err := s.copyKey(ctx, key, target, size); err != nil {
		s.mu.Lock()
		delete(s.files, target)
		s.mu.Unlock()
		return err
	}
	if err := s.deleteKey(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.committed, key)
	s.mu.Unlock()
	s.setFile(File{Name: target, Size: size, MD5: md5hex, SHA3: sha3hex, SHA256: sha256hex, Region: Region})
	s.mu.Lock()
	if _, ok := s.deletedSize[target]; ok && s.opts.StaleListings > 0 {
		s.stale[target] = s.opts.StaleListings
	}
	s.mu.Unlock()
	s.log.Info().Str("key", key).Str("file", target).Int64("size", size).Msg("JCDS file processed")
	return nil
}

// setFile records a file in the inventory. Package records do not follow
// until an inventory refresh (or a v1 upload's own processing).
func (s *Server) setFile(f File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[f.Name] = &f
}

func (s *Server) uniqueNameLocked(name string) string {
	if _, taken := s.files[name]; !taken {
		return name
	}
	ext := path.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := 1; ; i++ {
		n := base + "_" + strconv.Itoa(i) + ext
		if _, taken := s.files[n]; !taken {
			return n
		}
	}
}

// hashObject streams an object once through MD5, SHA3-512 and SHA-256.
func (s *Server) hashObject(ctx context.Context, key string) (size int64, md5hex, sha3hex, sha256hex string, err error) {
	out, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return 0, "", "", "", fmt.Errorf("read %s for hashing: %w", key, err)
	}
	defer out.Body.Close()
	m, h3, h2 := md5.New(), sha3.New512(), sha256.New()
	n, err := io.Copy(io.MultiWriter(m, h3, h2), out.Body)
	if err != nil {
		return 0, "", "", "", fmt.Errorf("hash %s: %w", key, err)
	}
	return n, hex.EncodeToString(m.Sum(nil)), hex.EncodeToString(h3.Sum(nil)), hex.EncodeToString(h2.Sum(nil)), nil
}

func copySource(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return bucket + "/" + strings.Join(segs, "/")
}

// copyKey copies server-side: CopyObject up to 5 GiB, UploadPartCopy
// beyond; a backend without either gets a streamed copy.
func (s *Server) copyKey(ctx context.Context, src, dst string, size int64) error {
	var err error
	if size <= s.opts.copyThreshold || s.inProcess {
		_, err = s.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(dst), CopySource: aws.String(copySource(s.bucket, src))})
	} else {
		err = s.multipartCopy(ctx, src, dst, size)
	}
	if err == nil {
		return nil
	}
	s.log.Warn().Err(err).Str("src", src).Msg("server-side copy failed; streaming the copy")
	s.mu.Lock()
	s.streamedCopies++
	s.mu.Unlock()
	out, gerr := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(src)})
	if gerr != nil {
		return fmt.Errorf("copy %s to %s: %w (then read: %v)", src, dst, err, gerr)
	}
	defer out.Body.Close()
	if uerr := s.putStream(ctx, dst, out.Body); uerr != nil {
		return fmt.Errorf("copy %s to %s: %w (then stream: %v)", src, dst, err, uerr)
	}
	return nil
}

func (s *Server) multipartCopy(ctx context.Context, src, dst string, size int64) error {
	mp, err := s.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(dst)})
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	ps := s.opts.copyPartSize
	for off, n := int64(0), int32(1); off < size; off, n = off+ps, n+1 {
		end := min(off+ps, size) - 1
		out, err := s.s3.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: aws.String(s.bucket), Key: aws.String(dst), UploadId: mp.UploadId, PartNumber: aws.Int32(n),
			CopySource: aws.String(copySource(s.bucket, src)), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end)),
		})
		if err != nil {
			_, _ = s.s3.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(dst), UploadId: mp.UploadId})
			return err
		}
		parts = append(parts, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = s.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(dst), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return err
}

// putStream writes a stream of unknown length (multipart under the hood).
func (s *Server) putStream(ctx context.Context, key string, r io.Reader) error {
	up := manager.NewUploader(s.s3, func(u *manager.Uploader) { u.PartSize = 16 << 20; u.Concurrency = 2 })
	_, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key), Body: r})
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

func (s *Server) deleteKey(ctx context.Context, key string) error {
	if _, err := s.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// storeFile streams r to the bucket root as name, hashing on the way.
func (s *Server) storeFile(ctx context.Context, name string, r io.Reader) (File, error) {
	f, err := s.stageFile(ctx, name, name, r)
	if err != nil {
		return File{}, err
	}
	s.setFile(f)
	return f, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// AddFile puts a file into the distribution point as it is (no _1
// renaming) and into every node's inventory, as a file that was there
// before the test. It panics when the S3 backend fails: it is a test fixture.
func (s *Server) AddFile(name string, data []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := s.storeFile(ctx, name, strings.NewReader(string(data)))
	if err != nil {
		panic(fmt.Sprintf("jamfsim: AddFile %q: %v", name, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fixtureFileLocked(f)
}

// refreshInventory re-reads the bucket root: new or changed objects are
// hashed, vanished ones dropped. only limits it to one file name. It
// returns the file names of JCDS uploads the service is still processing
// (still under tmp/).
func (s *Server) refreshInventory(ctx context.Context, only string) (busy map[string]bool, err error) {
	s.syncUploads(ctx, s.opts.ListWait)
	busy = map[string]bool{}
	seen := map[string]bool{}
	p := s3.NewListObjectsV2Paginator(s.s3, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list bucket: %w", err)
		}
		for _, obj := range page.Contents {
			key := aws.ToString(obj.Key)
			if rest, ok := strings.CutPrefix(key, tmpPrefix); ok {
				if _, name, ok := strings.Cut(rest, "/"); ok {
					busy[name] = true
				}
			}
			if strings.HasPrefix(key, tmpPrefix) || strings.HasPrefix(key, stagingPrefix) || (only != "" && key != only) {
				continue
			}
			seen[key] = true
			s.mu.Lock()
			f := s.files[key]
			known := f != nil && f.Size == aws.ToInt64(obj.Size) && f.SHA3 != "" && f.SHA256 != ""
			s.mu.Unlock()
			if known {
				continue
			}
			size, md5hex, sha3hex, sha256hex, err := s.hashObject(ctx, key)
			if err != nil {
				return nil, err
			}
			s.setFile(File{Name: key, Size: size, MD5: md5hex, SHA3: sha3hex, SHA256: sha256hex, Region: Region})
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, f := range s.files {
		if (only == "" || name == only) && !seen[name] && f.SHA3 != "" {
			delete(s.files, name)
		}
	}
	return busy, nil
}
