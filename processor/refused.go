package processor

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// FileSharesElsewhere is the input that says another step keeps the file
// share distribution points updated, so their settings do not stop the run.
const FileSharesElsewhere = "file_shares_updated_elsewhere"

// smbNURL matches the numbered file share keys JamfPackageUploader reads
// after SMB_URL (SMB2_URL, SMB3_URL, ...).
var smbNURL = regexp.MustCompile(`^SMB[0-9]+_URL$`)

// present reports whether a setting carries a value someone meant: AutoPkg
// hands every processor the whole environment, including preferences set
// once for all recipes, and JamfUploader processors earlier in the same
// recipe add their empty defaults ("" for SMB_URL, False for CLOUD_DP). So
// empty text, False, 0 and empty arrays or dictionaries count as not set.
func present(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(x) != ""
	case bool:
		return x
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	case float64:
		return x != 0
	case int:
		return x != 0
	case int64:
		return x != 0
	case uint64:
		return x != 0
	}
	return true
}

// RefusedError is a setting this processor cannot honour (file share
// distribution points, aws_cdp_mode, jamf-cli, the Platform API gateway):
// the run stops before any request.
type RefusedError struct {
	Setting string // the key (or keys) set
	Err     error  // what it meant and what to do
}

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// refusals checks the settings this processor cannot honour. Each one meant
// JamfPackageUploader did something this processor does not do; ignoring
// it would leave a distribution point stale or send requests somewhere
// other than the user expects, without a word. The run stops instead,
// before anything is read from or sent to Jamf Pro.
func refusals(env plistio.Env) []error {
	var errs []error

	// File share distribution points. JamfPackageUploader copied the
	// package to every share; with CLOUD_DP true it uploaded to the cloud
	// distribution point as well.
	elsewhere, err := boolInput(env, FileSharesElsewhere)
	if err != nil {
		errs = append(errs, err)
	}
	var shares []string
	for key, v := range env {
		if (key == "SMB_URL" || key == "SMB_SHARES" || smbNURL.MatchString(key)) && present(v) {
			shares = append(shares, key)
		}
	}
	// SMB_URL first, then SMB2_URL, SMB3_URL ..., then SMB_SHARES, as the
	// reference reads them.
	rank := func(k string) (int, int) {
		switch k {
		case "SMB_URL":
			return 0, 0
		case "SMB_SHARES":
			return 2, 0
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(k, "SMB"), "_URL"))
		return 1, n
	}
	sort.Slice(shares, func(i, j int) bool {
		a1, a2 := rank(shares[i])
		b1, b2 := rank(shares[j])
		return a1 < b1 || (a1 == b1 && a2 < b2)
	})
	cloudDP, err := boolInput(env, "CLOUD_DP")
	if err != nil {
		errs = append(errs, err)
	}
	if len(shares) > 0 && !elsewhere {
		verb := "is"
		if len(shares) > 1 {
			verb = "are"
		}
		both := ""
		if cloudDP {
			both = " (with CLOUD_DP True it also uploaded to the cloud distribution point; that part this processor does)"
		}
		// The values are not quoted: a share URL may carry its password.
		errs = append(errs, &RefusedError{Setting: strings.Join(shares, ", "), Err: fmt.Errorf("%s %s set (in AutoPkg's preferences, the recipe or the override): "+
			"JamfPackageUploader copied the package to those file share distribution points%s, but %s uploads only to "+
			"Jamf Pro's cloud distribution point, so the shares would silently stop being updated. "+
			"To keep them updated, add a JamfPackageUploader step after this one (with CLOUD_DP False, so it "+
			"does not upload to the cloud distribution point again) and set %s: True on this step. "+
			"If the shares are no longer used, remove the settings (e.g. defaults delete com.github.autopkg SMB_URL)",
			strings.Join(shares, ", "), verb, both, Name, FileSharesElsewhere)})
	}

	// An Amazon S3 bucket of one's own as the cloud distribution point.
	aws, err := boolInput(env, "aws_cdp_mode")
	if err != nil {
		errs = append(errs, err)
	}
	if aws {
		errs = append(errs, &RefusedError{Setting: "aws_cdp_mode", Err: fmt.Errorf("aws_cdp_mode is True: JamfPackageUploader then copied the package to your "+
			"own S3 bucket (S3_BUCKET_NAME) serving as an AWS cloud distribution point, but %s uploads only to "+
			"Jamf's cloud distribution service (JCDS), so that bucket would silently stop being updated. "+
			"Keep JamfPackageUploader with aws_cdp_mode for that bucket; use this processor only with the "+
			"Jamf Cloud Distribution Service, and then remove aws_cdp_mode or set it False", Name)})
	}

	// Newer JamfUploader ways to authenticate.
	if present(env["JAMF_CLI_PROFILE"]) {
		errs = append(errs, &RefusedError{Setting: "JAMF_CLI_PROFILE", Err: fmt.Errorf("JAMF_CLI_PROFILE is set, but %s does not run jamf-cli to get a token. "+
			"Give the profile's credentials instead: JSS_URL and CLIENT_ID (jamf-cli config show lists both) "+
			"with CLIENT_SECRET, or with the secret in the login keychain (security add-internet-password "+
			"-s JSS_URL -a CLIENT_ID -w), or a token from jamf-cli as BEARER_TOKEN; then remove JAMF_CLI_PROFILE", Name)})
	}
	var platform []string
	for _, key := range []string{"PLATFORM_API_REGION", "PLATFORM_API_TENANT_ID"} {
		if present(env[key]) {
			platform = append(platform, key)
		}
	}
	if len(platform) > 0 {
		errs = append(errs, &RefusedError{Setting: strings.Join(platform, ", "), Err: fmt.Errorf("%s set, but %s does not use the Jamf Platform API gateway "+
			"(REGION.apigw.jamf.com); it talks to Jamf Pro at JSS_URL directly. Remove PLATFORM_API_REGION and "+
			"PLATFORM_API_TENANT_ID and authenticate with a Jamf Pro API client (CLIENT_ID and CLIENT_SECRET, made "+
			"in Jamf Pro under Settings > API roles and clients) or a Jamf Pro account (API_USERNAME and API_PASSWORD)",
			strings.Join(platform, " and ")+map[bool]string{true: " is", false: " are"}[len(platform) == 1], Name)})
	}
	return errs
}
