package s3upload

import (
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/rs/zerolog"
)

// loggedClient logs each S3 request at trace level (-vvv and more, where
// the README promises every HTTP request; a multipart upload makes one per
// part, too many for -vv, which shows each Jamf Pro request): method,
// host, path, status and time. Never
// the query string (a presigned URL carries its signature there), headers
// (Authorization, the session token) or the body.
type loggedClient struct {
	next aws.HTTPClient
	log  zerolog.Logger
	now  func() time.Time
}

func (c loggedClient) Do(req *http.Request) (*http.Response, error) {
	start := c.now()
	resp, err := c.next.Do(req)
	ev := c.log.Trace().Str("method", req.Method).Str("host", req.URL.Host).Str("path", req.URL.Path)
	if err != nil {
		// The SDK's error text may quote the URL with its query; the
		// request's failure is reported by the upload in full elsewhere.
		ev.Dur("took", c.now().Sub(start)).Msg("s3 request failed")
		return resp, err
	}
	ev.Int("status", resp.StatusCode).Dur("took", c.now().Sub(start)).Msg("s3 request")
	return resp, nil
}
