package processor

import (
	"encoding/json"
	"sort"
	"strconv"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// Name is the processor's class name: the shim's class, the prefix of log
// lines, and what recipes list.
const Name = "JCDS2PackageUploader"

// SummaryKey is the reference processor's summary result key, kept so
// reporting processors that read it keep working.
const SummaryKey = "jamfpackageuploader_summary_result"

// Input describes one input variable, in AutoPkg's input_variables shape.
type Input struct {
	Name        string `json:"-"`
	Required    bool   `json:"required"`
	Default     string `json:"default,omitempty"`
	Description string `json:"description"`
}

// Output describes one output variable.
type Output struct {
	Name        string `json:"-"`
	Description string `json:"description"`
}

// Manifest is what -describe prints; the shim's input_variables and
// output_variables and the README's tables are checked against it.
type Manifest struct {
	Description string
	Inputs      []Input
	Outputs     []Output
}

// MarshalJSON renders the manifest as AutoPkg's processor dictionaries.
func (m Manifest) MarshalJSON() ([]byte, error) {
	in := make(map[string]Input, len(m.Inputs))
	for _, i := range m.Inputs {
		in[i.Name] = i
	}
	out := make(map[string]Output, len(m.Outputs))
	for _, o := range m.Outputs {
		out[o.Name] = o
	}
	return json.Marshal(struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		Inputs      map[string]Input  `json:"input_variables"`
		Outputs     map[string]Output `json:"output_variables"`
	}{Name, m.Description, in, out})
}

// Input returns the named input's entry.
func (m Manifest) Input(name string) (Input, bool) {
	for _, i := range m.Inputs {
		if i.Name == name {
			return i, true
		}
	}
	return Input{}, false
}

// SortedInputs returns the inputs in name order, for stable documentation.
func (m Manifest) SortedInputs() []Input {
	s := append([]Input(nil), m.Inputs...)
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	return s
}

// Describe returns the processor's manifest. It lists every input and output
// of the reference JamfPackageUploader, so a recipe switches by changing the
// processor name only, plus this processor's own additions.
func Describe() Manifest {
	return Manifest{
		Description: "Uploads a package to Jamf Pro's cloud distribution point (JCDS 2.0) " +
			"and writes its package metadata. A drop-in replacement for JamfPackageUploader " +
			"in jcds2 mode: same inputs, same outputs, truthful results, multipart uploads " +
			"of any size, no Python modules to install.",
		Inputs: []Input{
			{Name: "JSS_URL", Required: true, Description: "URL of the Jamf Pro server, e.g. https://example.jamfcloud.com. A trailing / is ignored."},
			{Name: "API_USERNAME", Description: "Jamf Pro account name, exchanged with API_PASSWORD for a bearer token. On macOS, when neither API_USERNAME nor CLIENT_ID is given, the account is taken from the login keychain's internet password for JSS_URL (as JamfUploader's set-credentials.sh stores it): a UUID is used as an API client ID, anything else as an account name."},
			{Name: "API_PASSWORD", Description: "Password of API_USERNAME. On macOS it may instead come from the login keychain (an internet password for JSS_URL and the account)."},
			{Name: "CLIENT_ID", Description: "API client ID (OAuth client credentials); preferred over API_USERNAME when both are given."},
			{Name: "CLIENT_SECRET", Description: "Secret of CLIENT_ID. On macOS it may instead come from the login keychain."},
			{Name: "BEARER_TOKEN", Description: "A ready Jamf Pro bearer token, used as is instead of any other credential."},
			{Name: "pkg_path", Description: "Path to the package to upload. When empty, pathname is used if it ends in .pkg. A relative path is searched for beside the recipe (RECIPE_DIR, its siblings, RECIPE_OVERRIDE_DIRS, RECIPE_SEARCH_DIRS). A bundle package (a folder) is zipped first."},
			{Name: "pkg_name", Description: "File name in the distribution point. Defaults to the base name of pkg_path; when it differs, the file is uploaded under this name."},
			{Name: "pkg_display_name", Description: "Display name of the package object. Defaults to pkg_name."},
			{Name: "version", Description: "Version string, only reported in the summary."},
			{Name: "pkg_category", Description: "Category name for the package object; %KEY% placeholders are replaced from the environment. The category must already exist."},
			{Name: "pkg_info", Description: "Package info field."},
			{Name: "pkg_notes", Description: "Package notes field."},
			{Name: "pkg_priority", Default: strconv.Itoa(defaultPriority), Description: "Package priority."},
			{Name: "reboot_required", Description: "Whether the package requires a reboot (boolean)."},
			{Name: "os_requirements", Description: "OS requirements, e.g. 14.x, 15.x."},
			{Name: "required_processor", Default: "None", Description: "Required processor: None, x86 or ppc."},
			{Name: "send_notification", Description: "Whether to send a notification when installed (boolean)."},
			{Name: "replace_pkg", Default: "False", Description: "Upload even if a package object of that name exists (boolean)."},
			{Name: "replace_pkg_metadata", Default: "False", Description: "Rewrite the package metadata even when the file is not uploaded again (boolean)."},
			{Name: "skip_metadata_upload", Default: "False", Description: "Never amend an existing package object (boolean). A new package still gets its object, as JamfPackageUploader does."},
			{Name: "jcds2_mode", Default: "False", Description: "Accepted for compatibility with JamfPackageUploader; the same as leaving upload_mode unset (the JCDS 2.0 flow while the server offers it)."},
			{Name: "upload_mode", Default: "auto", Description: "auto (the default): the JCDS 2.0 S3 flow while the server's JCDS endpoints answer (deprecated by Jamf since 2025-08-28), else /api/v1/packages/{id}/upload with one warning; jcds2: the JCDS flow only (on 11.5+ a file of the same name is still replaced through {id}/upload, never deleted), failing where the endpoints are gone; v1: /api/v1/packages/{id}/upload (Jamf Pro 11.5+)."},
			{Name: "recalculate", Default: "False", Description: "Ask Jamf Pro (11.11+) for a full inventory refresh after writing metadata, unless this run already refreshed (boolean). Every upload is followed by a refresh of its file anyway; packages_recalculated reports True when either ran."},
			{Name: "recalculate_wait_time", Default: "0", Description: "Seconds to wait before the first inventory refresh of the run, as JamfPackageUploader does before its refresh. Rarely needed: every upload and metadata write is followed by a refresh and a check that Jamf Pro shows the package ready."},
			{Name: "md5", Default: "False", Description: "Before Jamf Pro 11.11 (no inventory refresh), write an MD5 hash in the package metadata instead of SHA-512 (boolean). From 11.11 the metadata carries only the server's own hashes, its md5 field included, which the inventory refresh after every upload fills (see recipes/MIGRATING.md, The md5 input)."},
			{Name: "upload_concurrency", Default: strconv.Itoa(s3upload.DefaultConcurrency), Description: "Parts of the JCDS 2.0 upload in flight at once, 1 to " + strconv.Itoa(s3upload.MaxConcurrency) + ". More suit long, fast paths; fewer leave more of a link shared with people at work. Parts are read from the file as they are sent, so memory does not grow with it."},
			{Name: "upload_part_size", Description: "Part size of the JCDS 2.0 upload in MiB, " + strconv.FormatInt(s3upload.S3MinPartSize>>20, 10) + " to " + strconv.FormatInt(s3upload.MaxPartSize>>20, 10) + ". By default " + strconv.FormatInt(s3upload.PartSize>>20, 10) + ", larger when a file needs it to stay within S3's 10,000 parts. A size that would need more than 10,000 parts is refused before the upload starts."},
			{Name: "max_tries", Default: strconv.Itoa(defaultMaxTries), Description: "Tries per request, 1 to 10 (anything else: " + strconv.Itoa(defaultMaxTries) + ")."},
			{Name: "sleep", Default: "0", Description: "Seconds to wait before the first retry of a request; later retries back off exponentially with jitter, and a server's Retry-After is honoured."},
			{Name: "insecure_mode", Default: "False", Description: "Do not verify TLS certificates (boolean). Prefer SSL_CERT_FILE with your CA bundle."},
			{Name: "dry_run", Default: "False", Description: "Look everything up and log the plan, but change nothing (boolean). Outputs say what would have happened."},
			{Name: "verify_timeout", Description: "Seconds to wait for every pod of Jamf Pro to show the file READY with its size and SHA3-512 after an upload or metadata write before failing; -v logs each pod's progress. Unset, the budget grows with the file: " + strconv.Itoa(defaultVerifySeconds) + " s, or the size at 8 MB/s plus 2 minutes where that is longer (25 minutes for 10.85 GB). A value you set is kept."},
			{Name: "jcds2_uploader_path", Description: "Path to the jcds2-uploader binary; used by the shim processor only."},
			{Name: "CLOUD_DP", Description: "JamfPackageUploader's switch to upload to the cloud distribution point as well as to file shares. This processor only ever uploads to the cloud distribution point, so True on its own changes nothing; with a file share set it is refused like SMB_URL."},
			{Name: "SMB_URL", Description: "Refused when set (not empty): JamfPackageUploader copied the package to this file share distribution point, and this processor uploads only to the cloud distribution point. The run stops before contacting Jamf Pro unless file_shares_updated_elsewhere is True. The same holds for SMB2_URL, SMB3_URL and so on."},
			{Name: "SMB_SHARES", Description: "Refused when a non-empty array, like SMB_URL."},
			{Name: "SMB_USERNAME", Description: "Ignored: the account for SMB_URL, which is refused."},
			{Name: "SMB_PASSWORD", Description: "Ignored: the password for SMB_URL, which is refused."},
			{Name: FileSharesElsewhere, Default: "False", Description: "True: another step (e.g. JamfPackageUploader after this one, with CLOUD_DP False) keeps the file share distribution points updated, so SMB_URL, SMBn_URL and SMB_SHARES do not stop the run; this processor leaves the shares alone (boolean)."},
			{Name: "aws_cdp_mode", Description: "Refused when True: JamfPackageUploader then copied the package to your own S3 bucket as the cloud distribution point, and this processor uploads only to Jamf's cloud distribution service (JCDS). The run stops before contacting Jamf Pro."},
			{Name: "S3_BUCKET_NAME", Description: "Ignored: the bucket of aws_cdp_mode, which is refused."},
			{Name: "JAMF_CLI_PROFILE", Description: "Refused when set: jamf-cli is not used. Give JSS_URL and CLIENT_ID with CLIENT_SECRET (or the secret in the login keychain), or a ready BEARER_TOKEN, instead."},
			{Name: "PLATFORM_API_REGION", Description: "Refused when set: the Jamf Platform API gateway is not supported; authenticate to Jamf Pro at JSS_URL with an API client or account instead."},
			{Name: "PLATFORM_API_TENANT_ID", Description: "Refused when set, like PLATFORM_API_REGION."},
			{Name: SkipAndProceed, Default: "False", Description: "If True, skip the upload process and proceed (boolean), as in JamfPackageUploader: no file is read and no request is sent to Jamf Pro, process_skipped is set True and every other output is left as it was. Usually given from a recipe variable (\"%SKIP_PACKAGE%\") or with --key."},
			{Name: "jcds_mode", Description: "Ignored: the JCDS 1 mode no longer exists; a warning is logged when set."},
		},
		Outputs: []Output{
			{Name: "pkg_path", Description: "Path of the uploaded file: pkg_path, or the .zip made from a bundle package."},
			{Name: "pkg_name", Description: "File name in the distribution point."},
			{Name: "pkg_display_name", Description: "Display name of the package object."},
			{Name: "pkg_uploaded", Description: "True only when package bytes were sent in this run."},
			{Name: "pkg_metadata_updated", Description: "True when the package object was created or updated in this run."},
			{Name: "pkg_id", Description: "ID of the package object in Jamf Pro (empty when none exists, e.g. on a dry run of a new package)."},
			{Name: "pkg_upload_status", Description: "What happened to the file: uploaded, unchanged-hash-match, skipped-exists or dry-run."},
			{Name: "pkg_sha3_512", Description: "SHA3-512 of the package file, when it was computed in this run."},
			{Name: "pkg_pods_verified", Description: "How many pods of the Jamf Cloud instance showed the file READY with its size and SHA3-512 in this run: every pod, or the run fails (1 on an instance without a load-balancer cookie; 0 when nothing was waited for). The summary reports it as pods_verified."},
			{Name: "pkg_plan", Description: "On a dry run only: the steps a real run would take, one sentence each."},
			{Name: ProcessSkipped, Description: "True if the process was skipped because skip_and_proceed was True; False on every other run."},
			{Name: SummaryKey, Description: "Summary for AutoPkg's report, present only when something was uploaded or updated."},
		},
	}
}
