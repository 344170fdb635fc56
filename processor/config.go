package processor

import (
	"errors"
	"fmt"
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
	ModeAuto  = "auto"
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
	MD5             bool
	Insecure        bool
	DryRun          bool

	UploadMode string
	MaxTries   int
	// Parts in flight and part size (bytes) for the JCDS 2.0 upload; 0
	// leaves the choice to package s3upload.
	UploadConcurrency int
	UploadPartSize    int64
	Sleep             time.Duration
	VerifyTimeout     time.Duration

	// Where a relative pkg_path is searched for.
	RecipeDir          string
	RecipeOverrideDirs []string
	RecipeSearchDirs   []string
	RecipeCacheDir     string
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
		b, err := env.Bool(key)
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
	c.Priority = integer("pkg_priority", 10)
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

	c.MaxTries = integer("max_tries", 5)
	if c.MaxTries < 1 || c.MaxTries > 10 {
		c.MaxTries = 5
	}
	sleep := integer("sleep", 0)
	if sleep < 0 {
		errs = append(errs, fmt.Errorf("input sleep: must be 0 or more seconds, got %d", sleep))
	}
	c.Sleep = time.Duration(sleep) * time.Second
	verify := integer("verify_timeout", 300)
	if verify < 0 {
		errs = append(errs, fmt.Errorf("input verify_timeout: must be 0 or more seconds, got %d", verify))
	}
	c.VerifyTimeout = time.Duration(verify) * time.Second
	if env.Has("upload_concurrency") {
		n := integer("upload_concurrency", 0)
		if n < 1 || n > s3upload.MaxConcurrency {
			errs = append(errs, fmt.Errorf("input upload_concurrency: must be 1 to %d parts in flight, got %d; remove it for the default (%d)", s3upload.MaxConcurrency, n, s3upload.DefaultConcurrency))
		}
		c.UploadConcurrency = n
	}
	if env.Has("upload_part_size") {
		n := int64(integer("upload_part_size", 0))
		if lo, hi := s3upload.S3MinPartSize>>20, s3upload.MaxPartSize>>20; n < lo || n > hi {
			errs = append(errs, fmt.Errorf("input upload_part_size: must be %d to %d MiB (S3's limits), got %d; remove it for the default", lo, hi, n))
		}
		c.UploadPartSize = n << 20
	}

	jcds2Mode := boolean("jcds2_mode")
	explicitMode := env.Has("upload_mode") && str("upload_mode", "") != ""
	c.UploadMode = strings.ToLower(strings.TrimSpace(str("upload_mode", ModeJCDS2)))
	if c.UploadMode == "" {
		c.UploadMode = ModeJCDS2
	}
	switch c.UploadMode {
	case ModeJCDS2, ModeV1, ModeAuto:
		if jcds2Mode && explicitMode && c.UploadMode != ModeJCDS2 {
			errs = append(errs, fmt.Errorf("inputs jcds2_mode and upload_mode disagree: jcds2_mode is true but upload_mode is %q; remove one of them", c.UploadMode))
		}
	default:
		errs = append(errs, fmt.Errorf("input upload_mode: %q is not one of jcds2, v1, auto", c.UploadMode))
	}

	c.RecipeDir = str("RECIPE_DIR", "")
	c.RecipeOverrideDirs = list("RECIPE_OVERRIDE_DIRS")
	c.RecipeSearchDirs = list("RECIPE_SEARCH_DIRS")
	c.RecipeCacheDir = str("RECIPE_CACHE_DIR", "")

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
	return c, nil
}

func (c *Config) validate() []error {
	var errs []error
	switch {
	case c.URL == "":
		errs = append(errs, errors.New("input JSS_URL is missing: set it to your Jamf Pro URL, e.g. https://example.jamfcloud.com"))
	case !strings.HasPrefix(c.URL, "https://") && !strings.HasPrefix(c.URL, "http://"):
		errs = append(errs, fmt.Errorf("input JSS_URL %q must start with https://", c.URL))
	}
	if c.PkgPath == "" {
		errs = append(errs, errors.New("input pkg_path is missing (and pathname does not end in .pkg): set pkg_path to the package to upload"))
	}
	return errs
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
