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

// DeleteJCDSFile deletes a file from the distribution point. A file that is
// not there gives an error matching ErrNotFound.
func (c *Client) DeleteJCDSFile(ctx context.Context, name string) error {
	_, err := c.do(ctx, request{step: fmt.Sprintf("delete JCDS file %q", name), method: http.MethodDelete,
		path: "/api/v1/jcds/files/" + url.PathEscape(name), jcdsAction: "Delete"})
	return err
}

// RefreshInventory asks Jamf Pro to refresh the cloud distribution
// point's inventory, for one file where the server supports that: the
// refresh fills a package record's size and digests again (any metadata
// write blanks size) and moves cloudTransferStatus on. By version:
// cloud-distribution-point/refresh-inventory?file-name= from 11.24 (Jamf's
// changelog, "11.24.0 Additions"; absent from the 11.23.2 schema),
// jcds/refresh-inventory?file-name= from 11.14, a full jcds refresh from
// 11.11 (at most once every 15 s; a 429 is waited out by do). v is the
// server's version (zero: the one Version read, else it is read now). perFile
// reports whether only fileName was refreshed. Older servers give
// ErrUnsupported.
func (c *Client) RefreshInventory(ctx context.Context, fileName string, v Version) (perFile bool, err error) {
	if v.Raw == "" {
		if kv := c.knownVersion(); kv != nil {
			v = *kv
		} else if v, err = c.Version(ctx); err != nil {
			return false, err
		}
	}
	if !v.AtLeast(11, 11) {
		return false, fmt.Errorf("refresh the distribution point inventory: Jamf Pro %s is older than 11.11: %w", v.Raw, ErrUnsupported)
	}
	cdp := request{step: "refresh cloud distribution point inventory", method: http.MethodPost,
		path: "/api/v1/cloud-distribution-point/refresh-inventory", privilege: "Read Cloud Distribution Point"}
	jcds := request{step: "refresh JCDS inventory", method: http.MethodPost,
		path: "/api/v1/jcds/refresh-inventory", jcdsAction: "Read", statusHint: map[int]string{http.StatusNotFound: noJCDS}}
	r := jcds
	if v.AtLeast(11, 24) {
		r = cdp
	}
	perFile = fileName != "" && v.AtLeast(11, 14)
	if perFile {
		r.query = url.Values{"file-name": {fileName}}
	}
	_, err = c.do(ctx, r)
	return perFile, err
}

// UploadCapability is GET /api/v1/cloud-distribution-point/upload-capability
// (11.23+): whether the configured cloud distribution point takes uploads
// through /api/v1/packages/{id}/upload.
type UploadCapability struct {
	DirectUploadCapable bool
	// Principal is principalDistributionTechnology: the cloud distribution
	// point is the principal one.
	Principal bool
}

// CloudUploadCapability reads the cloud distribution point's upload
// capability (Jamf Pro 11.23+).
func (c *Client) CloudUploadCapability(ctx context.Context) (*UploadCapability, error) {
	var out struct {
		DirectUploadCapable bool `json:"directUploadCapable"`
		Principal           bool `json:"principalDistributionTechnology"`
	}
	if err := c.doJSON(ctx, request{step: "read cloud distribution point upload capability", method: http.MethodGet,
		path: "/api/v1/cloud-distribution-point/upload-capability", privilege: "Read Cloud Distribution Point"}, &out); err != nil {
		return nil, err
	}
	return &UploadCapability{DirectUploadCapable: out.DirectUploadCapable, Principal: out.Principal}, nil
}

// JCDSGone reports whether err is the answer of a server whose JCDS
// endpoints do not exist: a 404 that is not the "no JCDS 2.0 here" answer
// of an instance without it ("JCDS Settings record not found", "Cloud
// distribution point not found or is null"). Jamf deprecated every
// /api/v1/jcds/* operation on 2025-08-28 and may remove them in any release
// a year after.
func JCDSGone(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		return false
	}
	return !NoJCDS(err)
}

// NoJCDS reports whether err is a server's answer that it has no JCDS 2.0
// distribution point configured.
func NoJCDS(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		return false
	}
	m := strings.ToLower(ae.Message)
	return strings.Contains(m, "jcds settings") || strings.Contains(m, "distribution point not found")
}

// CloudFile is one entry of the cloud distribution point's inventory
// (GET /api/v1/cloud-distribution-point/files, 11.23+): it says a file is
// there and its status, not its size or digests.
type CloudFile struct {
	FileName string
	Status   string // READY, PENDING, ERROR
}

// CloudFiles lists the inventory entries named fileName (compared without
// case, as Jamf Pro compares names). It serves where the JCDS list is gone.
func (c *Client) CloudFiles(ctx context.Context, fileName string) ([]CloudFile, error) {
	const pageSize = 100
	step := fmt.Sprintf("list cloud distribution point file %q", fileName)
	var out []CloudFile
	for page := 0; ; page++ {
		q := url.Values{}
		q.Set("page", fmt.Sprint(page))
		q.Set("page-size", fmt.Sprint(pageSize))
		q.Set("filter", "fileName=="+rsqlQuote(fileName))
		var res struct {
			TotalCount int `json:"totalCount"`
			Results    []struct {
				FileName string `json:"fileName"`
				Status   string `json:"status"`
			} `json:"results"`
		}
		if err := c.doJSON(ctx, request{step: step, method: http.MethodGet, path: "/api/v1/cloud-distribution-point/files",
			query: q, privilege: "Read Cloud Distribution Point"}, &res); err != nil {
			return nil, err
		}
		for _, f := range res.Results {
			if strings.EqualFold(f.FileName, fileName) {
				out = append(out, CloudFile{FileName: f.FileName, Status: f.Status})
			}
		}
		if len(res.Results) < pageSize || (page+1)*pageSize >= res.TotalCount {
			return out, nil
		}
	}
}
