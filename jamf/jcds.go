package jamf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
)

// ErrUnsupported is returned for a call the server's version does not offer.
var ErrUnsupported = errors.New("not supported by this Jamf Pro version")

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

const noJCDS = "is JCDS 2.0 enabled on this Jamf Pro server? Only Jamf Cloud offers it"

// JCDSFile is one file in the JCDS 2.0 distribution point.
type JCDSFile struct {
	FileName string
	Length   int64
	MD5      string
	SHA3     string // SHA3-512, lowercase hex
	Region   string
}

// JCDSFiles lists the distribution point's files.
func (c *Client) JCDSFiles(ctx context.Context) ([]JCDSFile, error) {
	r := request{step: "list JCDS files", method: http.MethodGet, path: "/api/v1/jcds/files",
		jcdsAction: "Read", statusHint: map[int]string{http.StatusNotFound: noJCDS}}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	type file struct {
		FileName string      `json:"fileName"`
		Length   json.Number `json:"length"`
		MD5      string      `json:"md5"`
		SHA3     string      `json:"sha3"`
		Region   string      `json:"region"`
	}
	var list []file
	if err := json.Unmarshal(resp.body, &list); err != nil {
		// Tolerate a paged wrapper, as most v1 lists have.
		var paged struct {
			Results []file `json:"results"`
		}
		if json.Unmarshal(resp.body, &paged) != nil {
			return nil, fmt.Errorf("%s: unreadable reply: %w", r.step, err)
		}
		list = paged.Results
	}
	out := make([]JCDSFile, 0, len(list))
	for _, f := range list {
		n, _ := f.Length.Int64()
		out = append(out, JCDSFile{FileName: f.FileName, Length: n, MD5: f.MD5, SHA3: f.SHA3, Region: f.Region})
	}
	return out, nil
}

// JCDSProperties reads the JCDS settings: a cheap check that JCDS 2.0 is
// enabled and the account may use it.
func (c *Client) JCDSProperties(ctx context.Context) error {
	_, err := c.do(ctx, request{step: "check JCDS access", method: http.MethodGet, path: "/api/v1/jcds/properties",
		jcdsAction: "Read", statusHint: map[int]string{http.StatusNotFound: noJCDS}})
	return err
}

// UploadCredentials are temporary AWS credentials for one JCDS upload; the
// object key to write is Path + file name.
type UploadCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Region, BucketName, Path, UUID             string
	Expiration                                 time.Time
}

// String shows everything but the secrets.
func (u UploadCredentials) String() string {
	return fmt.Sprintf("UploadCredentials{bucket %s, path %s, region %s, expires %s, keys %s}",
		u.BucketName, u.Path, u.Region, u.Expiration.Format(time.RFC3339), secret.Mask)
}

// GoString keeps %#v from printing the secrets.
func (u UploadCredentials) GoString() string { return u.String() }

func (c *Client) uploadCredentials(ctx context.Context, step, path string) (*UploadCredentials, error) {
	r := request{step: step, method: http.MethodPost, path: path, jcdsAction: "Create",
		statusHint: map[int]string{http.StatusNotFound: noJCDS}}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var out struct {
		AccessKeyID     string          `json:"accessKeyID"`
		SecretAccessKey string          `json:"secretAccessKey"`
		SessionToken    string          `json:"sessionToken"`
		Region          string          `json:"region"`
		Expiration      json.RawMessage `json:"expiration"`
		BucketName      string          `json:"bucketName"`
		Path            string          `json:"path"`
		UUID            string          `json:"uuid"`
	}
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return nil, fmt.Errorf("%s: unreadable reply: %w", step, err)
	}
	secret.Register(out.AccessKeyID, out.SecretAccessKey, out.SessionToken)
	if out.AccessKeyID == "" || out.SecretAccessKey == "" || out.BucketName == "" {
		return nil, fmt.Errorf("%s: reply lacks the access key, secret or bucket name", step)
	}
	if err := checkUploadTarget(out.BucketName, out.Path, out.Region); err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	exp, ok := parseTime(out.Expiration)
	if !ok {
		// Unknown expiry: assume the shortest common STS lifetime so the
		// uploader renews early rather than late.
		exp = c.hooks.now().Add(15 * time.Minute)
		c.log.Debug().Str("step", step).Msg("credentials without a readable expiration; assuming 15 minutes")
	}
	return &UploadCredentials{
		AccessKeyID: out.AccessKeyID, SecretAccessKey: out.SecretAccessKey, SessionToken: out.SessionToken,
		Region: out.Region, BucketName: out.BucketName, Path: out.Path, UUID: out.UUID, Expiration: exp,
	}, nil
}

var (
	// uploadPathRE is the shape of the folder an upload goes to:
	// "tmp/<uuid>/". Anything else (a "..", a slash too many, no tmp/
	// prefix) would write outside the upload area or fail late and obscurely.
	uploadPathRE = regexp.MustCompile(`^tmp/[A-Za-z0-9][A-Za-z0-9-]{0,63}/$`)
	// bucketRE follows S3's bucket naming rules: 3 to 63 lowercase letters,
	// digits, dots and hyphens, starting and ending with a letter or digit.
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	ipRE     = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)
	regionRE = regexp.MustCompile(`^[a-z0-9-]{1,40}$`)
)

// checkUploadTarget refuses an upload-start answer whose bucket, folder or
// region would send the package somewhere else than a JCDS upload area.
func checkUploadTarget(bucket, path, region string) error {
	if !bucketRE.MatchString(bucket) || strings.Contains(bucket, "..") || ipRE.MatchString(bucket) {
		return fmt.Errorf("the server named bucket %q for the upload, which is not a valid S3 bucket name; refusing to upload", bucket)
	}
	if !uploadPathRE.MatchString(path) {
		return fmt.Errorf("the server named folder %q for the upload, which is not of the form tmp/<uuid>/; refusing to upload", path)
	}
	if region != "" && !regionRE.MatchString(region) {
		return fmt.Errorf("the server named region %q for the upload, which is not an AWS region name; refusing to upload", region)
	}
	return nil
}

// InitiateUpload starts a JCDS upload and returns its temporary AWS
// credentials (registered as secrets).
func (c *Client) InitiateUpload(ctx context.Context) (*UploadCredentials, error) {
	return c.uploadCredentials(ctx, "start JCDS upload", "/api/v1/jcds/files")
}

// RenewCredentials returns fresh credentials for the current JCDS upload.
func (c *Client) RenewCredentials(ctx context.Context) (*UploadCredentials, error) {
	return c.uploadCredentials(ctx, "renew JCDS upload credentials", "/api/v1/jcds/renew-credentials")
}

// GetJCDSFile returns a pre-signed download URL for a file; ErrNotFound
// (errors.Is) when the file is absent.
func (c *Client) GetJCDSFile(ctx context.Context, name string) (string, error) {
	var out struct {
		URI string `json:"uri"`
	}
	if err := c.doJSON(ctx, request{step: fmt.Sprintf("get JCDS file %q", name), method: http.MethodGet,
		path: "/api/v1/jcds/files/" + url.PathEscape(name), jcdsAction: "Read"}, &out); err != nil {
		return "", err
	}
	// A pre-signed URL is a credential until it expires.
	if u, err := url.Parse(out.URI); err == nil {
		q := u.Query()
		secret.Register(q.Get("X-Amz-Signature"), q.Get("X-Amz-Security-Token"), q.Get("Signature"))
	}
	return out.URI, nil
}

// DeleteJCDSFile deletes a file from the distribution point. A file that is
// not there gives an error matching ErrNotFound.
func (c *Client) DeleteJCDSFile(ctx context.Context, name string) error {
	_, err := c.do(ctx, request{step: fmt.Sprintf("delete JCDS file %q", name), method: http.MethodDelete,
		path: "/api/v1/jcds/files/" + url.PathEscape(name), jcdsAction: "Delete"})
	return err
}

// RefreshInventory asks Jamf Pro (11.10+) to refresh the cloud distribution
// point's inventory, for one file where the server supports it. v is the
// server's version (zero: the one Version read, else it is read now). Older
// servers give ErrUnsupported.
func (c *Client) RefreshInventory(ctx context.Context, fileName string, v Version) error {
	if v.Raw == "" {
		if kv := c.knownVersion(); kv != nil {
			v = *kv
		} else {
			var err error
			if v, err = c.Version(ctx); err != nil {
				return err
			}
		}
	}
	if !v.AtLeast(11, 10) {
		return fmt.Errorf("refresh JCDS inventory: Jamf Pro %s is older than 11.10: %w", v.Raw, ErrUnsupported)
	}
	r := request{step: "refresh cloud distribution point inventory", method: http.MethodPost,
		path: "/api/v1/cloud-distribution-point/refresh-inventory", privilege: "Read Cloud Distribution Point"}
	if fileName != "" {
		r.query = url.Values{"file-name": {fileName}}
	}
	_, err := c.do(ctx, r)
	if !isNotFound(err) {
		return err
	}
	c.log.Debug().Msg("no cloud-distribution-point inventory refresh; using the JCDS one")
	_, err = c.do(ctx, request{step: "refresh JCDS inventory", method: http.MethodPost,
		path: "/api/v1/jcds/refresh-inventory", jcdsAction: "Read", statusHint: map[int]string{http.StatusNotFound: noJCDS}})
	return err
}
