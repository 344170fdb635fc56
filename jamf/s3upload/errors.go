package s3upload

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

// signatureHints explains the S3 errors users meet behind proxies, with
// wrong clocks, or with expired temporary credentials; the bare codes say
// little about the cause.
var signatureHints = map[string]string{
	"SignatureDoesNotMatch": "S3 rejected the request signature: a proxy or TLS-inspecting middlebox may have changed or stripped signed headers (Host, X-Amz-Date, X-Amz-Content-Sha256), or the secret key is wrong",
	"RequestTimeTooSkewed":  "this machine's clock differs too much from S3's; synchronise it (NTP) and retry",
	"AccessDenied":          "the temporary credentials may not cover this bucket and key, may have expired, or a proxy may have stripped the X-Amz-Date or Authorization header",
	"ExpiredToken":          "the temporary S3 credentials expired before they were renewed; check the clock and that Jamf Pro renew-credentials works",
	"TokenRefreshRequired":  "the temporary S3 credentials expired before they were renewed; check the clock and that Jamf Pro renew-credentials works",
	"InvalidAccessKeyId":    "S3 does not know this access key: the credentials may be for another account or region, or were altered on the way",
	"InvalidToken":          "the session token is malformed or belongs to other credentials; a proxy may have altered the X-Amz-Security-Token header",
}

// explain adds a hint to S3 errors whose cause is usually outside this tool.
func explain(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if hint, ok := signatureHints[ae.ErrorCode()]; ok {
			return fmt.Errorf("%w (hint: %s)", err, hint)
		}
	}
	return err
}
