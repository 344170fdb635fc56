package processor

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// Boolean inputs are read so that a recipe written for JamfPackageUploader
// runs as it does there. Upstream's to_bool (JamfUploaderBase.py) counts a
// string as true only when it is "true" (any case, spaces trimmed) and
// every other string as false; that includes a %NAME% the recipe never
// defined, which AutoPkg leaves as literal text. This processor reads such
// a placeholder as false too, with a warning, and keeps its own explicit
// reading of the other words (yes/no, 1/0 …), warning where upstream would
// read the value differently. Any other text is an error that names the
// input, as before.

// unresolved matches a value that is nothing but one recipe variable
// AutoPkg could not substitute.
var unresolved = regexp.MustCompile(`^%([A-Za-z0-9_]+)%$`)

// boolInput reads a boolean input: a plist boolean, a string, or the
// integers 0 and 1; missing or empty is false.
func boolInput(env plistio.Env, key string) (bool, error) {
	b, _, err := readBool(env, key)
	return b, err
}

// readBool is boolInput with the warning the value deserves, if any: a
// placeholder read as false, or a value upstream reads otherwise.
func readBool(env plistio.Env, key string) (value bool, warning string, err error) {
	v := env[key]
	if s, ok := v.(string); ok {
		if m := unresolved.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
			return false, fmt.Sprintf("input %s is %q: the recipe variable %s is not defined, so it reads as False, as JamfPackageUploader reads it; "+
				"define %s in the recipe's Input or the override (or give --key %s=True) if you meant True", key, s, m[1], m[1], m[1]), nil
		}
	}
	b, err := env.Bool(key)
	if err != nil {
		return false, "", err
	}
	switch x := v.(type) {
	case string:
		if b && strings.ToLower(strings.TrimSpace(x)) != "true" {
			return b, fmt.Sprintf("input %s is %q, read as True here, but JamfPackageUploader reads every text but \"true\" as False; "+
				"write True (or False) so that both read it the same", key, x), nil
		}
	case bool, nil:
	default:
		// An integer 0 or 1: upstream's to_bool refuses anything that is
		// neither text nor a boolean.
		return b, fmt.Sprintf("input %s is the number %v, read as %s here, but JamfPackageUploader stops with an error on a number; "+
			"write True or False", key, x, pyBool(b)), nil
	}
	return b, "", nil
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// booleanInputs are the inputs read as booleans, JamfPackageUploader's and
// this processor's.
var booleanInputs = []string{
	"reboot_required", "send_notification", "replace_pkg", "replace_pkg_metadata",
	"skip_metadata_upload", "recalculate", "md5", "insecure_mode", "dry_run",
	"jcds2_mode", "CLOUD_DP", "aws_cdp_mode", FileSharesElsewhere, SkipAndProceed,
}

// boolWarnings returns one warning for each boolean input whose value
// deserves one, in booleanInputs order.
func boolWarnings(env plistio.Env) []string {
	var out []string
	for _, key := range booleanInputs {
		if _, w, err := readBool(env, key); err == nil && w != "" {
			out = append(out, w)
		}
	}
	return out
}
