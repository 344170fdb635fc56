package processor

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// Upload modes.
const (
	ModeJCDS2 = "jcds2"
	ModeV1    = "v1"
	// ModeAuto, the default, follows the server: jcds2 while the JCDS
	// endpoints answer, else v1.
	ModeAuto = "auto"
)

// Config is the environment read into typed inputs, with the reference
// processor's defaults and coercions applied.
type Config struct {
	URL                    string
	Username, Password     string
	ClientID, ClientSecret string
	BearerToken            string

	PkgPath     string // as given (pkg_path, or pathname)
	PkgName     string // "" means the base name of the resolved file
	DisplayName string // "" means PkgName
	Version     string
	Category    string // placeholders already replaced
	Name        string // the env's NAME, for the summary

	Info, Notes       string
	Priority          int
	RebootRequired    bool
	OSRequirements    string
	RequiredProcessor string
	SendNotification  bool

	ReplacePkg      bool
	ReplaceMetadata bool
	SkipMetadata    bool
	Recalculate     bool
	// RecalculateWait is waited before the first inventory refresh after an
	// upload (recalculate_wait_time).
	RecalculateWait time.Duration
	MD5             bool
	Insecure        bool
	DryRun          bool

	UploadMode string
	MaxTries   int
	// Parts in flight and part size (bytes) for the JCDS 2.0 upload. The
	// part size 0 leaves the choice to package s3upload, which depends on
	// the file.
	UploadConcurrency int
	UploadPartSize    int64
	Sleep             time.Duration
	// VerifyTimeout is the verify budget the user set; VerifyTimeoutSet
	// says one was set. Unset, the budget grows with the file
	// (VerifyBudget).
	VerifyTimeout    time.Duration
	VerifyTimeoutSet bool

	// Where a relative pkg_path is searched for.
	RecipeDir          string
	RecipeOverrideDirs []string
	RecipeSearchDirs   []string
	RecipeCacheDir     string

	// Warnings about inputs read as upstream reads them (boolinput.go),
	// logged once at every verbosity.
	Warnings []string
}

// ParseConfig reads the inputs from env. Every error names the input and
// says what to fix.
func ParseConfig(env plistio.Env, dryRunFlag bool) (*Config, error) {
	c := &Config{}
	var errs []error
	str := func(key, def string) string {
		s, err := env.String(key, def)
		if err != nil {
			errs = append(errs, err)
		}
		return s
	}
	boolean := func(key string) bool {
		b, err := boolInput(env, key)
		if err != nil {
			errs = append(errs, err)
		}
		return b
	}
	integer := func(key string, def int) int {
		n, err := env.Int(key, def)
		if err != nil {
			errs = append(errs, err)
		}
		return n
	}
	// given: the key holds a value, not nil or blank text (an override's
	// "" or a --key left empty means "use the default").
	given := func(key string) bool {
		s, ok := env[key].(string)
		return env.Has(key) && (!ok || strings.TrimSpace(s) != "")
	}
	list := func(key string) []string {
		l, err := env.StringList(key)
		if err != nil {
			errs = append(errs, err)
		}
		return l
	}

	c.URL = strings.TrimRight(strings.TrimSpace(str("JSS_URL", "")), "/")
	c.Username = str("API_USERNAME", "")
	c.Password = str("API_PASSWORD", "")
	c.ClientID = str("CLIENT_ID", "")
	c.ClientSecret = str("CLIENT_SECRET", "")
	c.BearerToken = str("BEARER_TOKEN", "")
	secret.Register(c.Password, c.ClientSecret, c.BearerToken)

	c.PkgPath = str("pkg_path", "")
	if c.PkgPath == "" {
		if p := str("pathname", ""); strings.HasSuffix(strings.ToLower(p), ".pkg") {
			c.PkgPath = p
		}
	}
	c.PkgName = str("pkg_name", "")
	c.DisplayName = str("pkg_display_name", "")
	c.Version = str("version", "")
	c.Name = str("NAME", "")
	c.Info = str("pkg_info", "")
	c.Notes = str("pkg_notes", "")
	c.Priority = integer("pkg_priority", defaultPriority)
	c.RebootRequired = boolean("reboot_required")
	c.OSRequirements = str("os_requirements", "")
	c.RequiredProcessor = str("required_processor", "None")
	if c.RequiredProcessor == "" {
		c.RequiredProcessor = "None"
	}
	c.SendNotification = boolean("send_notification")

	c.ReplacePkg = boolean("replace_pkg")
	c.ReplaceMetadata = boolean("replace_pkg_metadata")
	c.SkipMetadata = boolean("skip_metadata_upload")
	c.Recalculate = boolean("recalculate")
	c.MD5 = boolean("md5")
	c.Insecure = boolean("insecure_mode")
	c.DryRun = boolean("dry_run") || dryRunFlag

	c.MaxTries = integer("max_tries", defaultMaxTries)
	if c.MaxTries < 1 || c.MaxTries > 10 {
		c.MaxTries = defaultMaxTries
	}
	sleep := integer("sleep", 0)
	if sleep < 0 {
		errs = append(errs, fmt.Errorf("input sleep: must be 0 or more seconds, got %d", sleep))
	}
	if sleep > maxSeconds {
		errs = append(errs, fmt.Errorf("input sleep: must be at most %d seconds (one day), got %d", maxSeconds, sleep))
	}
	c.Sleep = time.Duration(min(max(sleep, 0), maxSeconds)) * time.Second
	// Unset (absent or blank), the budget grows with the file
	// (defaultVerifyBudget); a value the user sets is kept as given.
	c.VerifyTimeoutSet = given("verify_timeout")
	verify := integer("verify_timeout", defaultVerifySeconds)
	if verify < 0 {
		errs = append(errs, fmt.Errorf("input verify_timeout: must be 0 or more seconds, got %d", verify))
	}
	if verify > maxSeconds {
		errs = append(errs, fmt.Errorf("input verify_timeout: must be at most %d seconds (one day), got %d", maxSeconds, verify))
	}
	c.VerifyTimeout = time.Duration(min(max(verify, 0), maxSeconds)) * time.Second
	recalcWait := integer("recalculate_wait_time", 0)
	if recalcWait < 0 || recalcWait > maxSeconds {
		errs = append(errs, fmt.Errorf("input recalculate_wait_time: must be 0 or more and at most %d seconds, got %d", maxSeconds, recalcWait))
	}
	c.RecalculateWait = time.Duration(min(max(recalcWait, 0), maxSeconds)) * time.Second
	// The manifest's default, so that the default given (AutoPkg sets it)
	// and the input left out read the same.
	c.UploadConcurrency = s3upload.DefaultConcurrency
	if given("upload_concurrency") {
		n := integer("upload_concurrency", 0)
		if n < 1 || n > s3upload.MaxConcurrency {
			errs = append(errs, fmt.Errorf("input upload_concurrency: must be 1 to %d parts in flight, got %d; remove it for the default (%d)", s3upload.MaxConcurrency, n, s3upload.DefaultConcurrency))
		}
		c.UploadConcurrency = n
	}
	if given("upload_part_size") {
		n := int64(integer("upload_part_size", 0))
		if lo, hi := s3upload.S3MinPartSize>>20, s3upload.MaxPartSize>>20; n < lo || n > hi {
			errs = append(errs, fmt.Errorf("input upload_part_size: must be %d to %d MiB (S3's limits), got %d; remove it for the default", lo, hi, n))
		}
		c.UploadPartSize = n << 20
	}

	// AutoPkg sets every input's default (Describe) into the environment
	// before a processor runs, so "auto" given and upload_mode left out
	// must mean the same. jcds2_mode True, which every jcds2 recipe
	// carries, is the same as both: follow the server. Only an explicit v1
	// contradicts it.
	jcds2Mode := boolean("jcds2_mode")
	c.UploadMode = strings.ToLower(strings.TrimSpace(str("upload_mode", ModeAuto)))
	if c.UploadMode == "" {
		c.UploadMode = ModeAuto
	}
	switch c.UploadMode {
	case ModeJCDS2, ModeAuto:
	case ModeV1:
		if jcds2Mode {
			errs = append(errs, fmt.Errorf("inputs jcds2_mode and upload_mode disagree: jcds2_mode is true but upload_mode is %q; remove one of them", c.UploadMode))
		}
	default:
		errs = append(errs, fmt.Errorf("input upload_mode: %q is not one of jcds2, v1, auto", c.UploadMode))
	}

	c.RecipeDir = str("RECIPE_DIR", "")
	c.RecipeOverrideDirs = list("RECIPE_OVERRIDE_DIRS")
	c.RecipeSearchDirs = list("RECIPE_SEARCH_DIRS")
	c.RecipeCacheDir = str("RECIPE_CACHE_DIR", "")

	// Settings this processor cannot honour stop the run here, before any
	// request is sent.
	errs = append(errs, refusals(env)...)

	rawCategory := str("pkg_category", "")
	if len(errs) == 0 {
		cat, err := substitute(rawCategory, env)
		if err != nil {
			errs = append(errs, fmt.Errorf("input pkg_category: %w", err))
		}
		c.Category = strings.TrimSpace(cat)
	}

	if len(errs) == 0 {
		errs = append(errs, c.validate()...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.Warnings = boolWarnings(env)
	return c, nil
}

// maxSeconds bounds inputs given in seconds: a day is more than any wait
// needs, and far below where a time.Duration overflows.
const maxSeconds = 24 * 60 * 60

// The defaults of the inputs that have a number; the manifest (-describe,
// README) states the same constants.
const (
	defaultPriority      = 10
	defaultMaxTries      = 5
	defaultVerifySeconds = 600
)

// VerifyBudget is how long a run waits, after the last byte of a file of
// size bytes is sent, for Jamf Pro to show it on every pod: verify_timeout
// when the user set it, else defaultVerifyBudget(size).
func (c *Config) VerifyBudget(size int64) time.Duration {
	if c.VerifyTimeoutSet {
		return c.VerifyTimeout
	}
	return defaultVerifyBudget(size)
}

func (c *Config) validate() []error {
	var errs []error
	switch {
	case c.URL == "":
		errs = append(errs, errors.New("input JSS_URL is missing: set it to your Jamf Pro URL, e.g. https://example.jamfcloud.com"))
	case !strings.HasPrefix(c.URL, "https://") && !strings.HasPrefix(c.URL, "http://"):
		errs = append(errs, fmt.Errorf("input JSS_URL %q must start with https://", secret.RedactURL(c.URL)))
	}
	for _, in := range []struct{ key, v string }{{"pkg_name", c.PkgName}, {"pkg_display_name", c.DisplayName}} {
		if i := strings.IndexFunc(in.v, isControl); i >= 0 {
			errs = append(errs, fmt.Errorf("input %s %q holds a control character at byte %d; package names are shown in Jamf Pro and in logs, so remove it", in.key, in.v, i))
		}
	}
	// Without pkg_name the file's own name becomes the package name.
	if base := filepath.Base(c.PkgPath); c.PkgName == "" && c.PkgPath != "" && strings.IndexFunc(base, isControl) >= 0 {
		errs = append(errs, fmt.Errorf("input pkg_path: the file name %q holds a control character; rename the file or set pkg_name", base))
	}
	if c.PkgPath == "" {
		errs = append(errs, errors.New("input pkg_path is missing (and pathname does not end in .pkg): set pkg_path to the package to upload"))
	}
	return errs
}

// isControl matches what must not be in a package name: C0 and C1 control
// characters (a terminal escape, a line break) and DEL.
func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f)
}

// SecurityWarnings lists what in env weakens a run's security but is
// allowed: an http:// Jamf Pro URL (credentials and tokens in clear) and
// insecure_mode (any certificate accepted). The caller logs them at every
// verbosity.
func SecurityWarnings(env plistio.Env) []string {
	var out []string
	if u, err := env.String("JSS_URL", ""); err == nil && strings.HasPrefix(strings.ToLower(strings.TrimSpace(u)), "http://") {
		out = append(out, "JSS_URL uses http://: credentials, tokens and the upload's AWS keys cross the network unencrypted; use https://")
	}
	if b, err := env.Bool("insecure_mode"); err == nil && b {
		out = append(out, "insecure_mode is on: the server's TLS certificate is not checked, so anyone in the network path can pose as Jamf Pro and take the credentials; trust its CA with SSL_CERT_FILE instead")
	}
	return out
}

var placeholder = regexp.MustCompile(`%([A-Za-z0-9_]+)%`)

// substitute replaces %KEY% placeholders from env, as the reference does:
// up to five passes, so a value may itself hold a placeholder, and an
// unknown key is an error rather than a literal "%KEY%" category.
func substitute(s string, env plistio.Env) (string, error) {
	for pass := 0; pass < 5 && placeholder.MatchString(s); pass++ {
		var missing []string
		s = placeholder.ReplaceAllStringFunc(s, func(m string) string {
			key := m[1 : len(m)-1]
			v, err := env.String(key, "")
			if !env.Has(key) || err != nil {
				missing = append(missing, key)
				return m
			}
			return v
		})
		if len(missing) > 0 {
			return "", fmt.Errorf("placeholder %%%s%% names no environment key (or one that is not text); define %s in the recipe or override", missing[0], missing[0])
		}
	}
	if placeholder.MatchString(s) {
		return "", fmt.Errorf("placeholders still unresolved after 5 passes in %q; do two keys refer to each other?", s)
	}
	return s, nil
}
