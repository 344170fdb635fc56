package processor

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// Boolean inputs are read so that a recipe written for JamfPackageUploader
// runs as it does there. Upstream (grahampugh/jamf-upload e3a733c) reads
// most of its booleans with to_bool (JamfUploaderBase.py): a string is
// true only when it is "true" (any case, spaces trimmed), every other
// string is false, and anything but text or a boolean is an error. That
// includes a %NAME% the recipe never defined, which AutoPkg leaves as
// literal text. This processor reads such a placeholder as false too, with
// a warning, and keeps its own explicit reading of the other words (yes/no,
// 1/0 …), warning where upstream would read the value differently. Any
// other text is an error that names the input, as before.

// unresolved matches a value that is nothing but one recipe variable
// AutoPkg could not substitute.
var unresolved = regexp.MustCompile(`^%([A-Za-z0-9_]+)%$`)

// upstreamReading is how JamfPackageUploader reads one boolean input.
type upstreamReading int

const (
	readToBool   upstreamReading = iota // to_bool: only "true" is True; a number is an error
	readTruthy                          // `if self.env.get(key)`: any non-empty text is True
	readNotFalse                        // `not v or v == "False"` is False, anything else True
	readNotAtAll                        // not read upstream (ours, or no longer functional)
)

// upstreamReads says how upstream reads each boolean input (execute() of
// JamfPackageUploaderBase.py and JamfUploaderBase.py at e3a733c).
var upstreamReads = map[string]upstreamReading{
	"replace_pkg": readToBool, "replace_pkg_metadata": readToBool, "skip_metadata_upload": readToBool,
	"aws_cdp_mode": readToBool, "recalculate": readToBool, "CLOUD_DP": readToBool, SkipAndProceed: readToBool,
	"md5": readTruthy, "insecure_mode": readTruthy,
	"reboot_required": readNotFalse, "send_notification": readNotFalse,
	"jcds2_mode": readNotAtAll, "dry_run": readNotAtAll, FileSharesElsewhere: readNotAtAll,
}

// upstreamBool is what JamfPackageUploader makes of v for key; ok is
// false where it stops with an error, or does not read key.
func upstreamBool(key string, v any) (b, ok bool) {
	switch upstreamReads[key] {
	case readToBool:
		switch x := v.(type) {
		case bool:
			return x, true
		case string:
			return strings.ToLower(strings.TrimSpace(x)) == "true", true
		case nil:
			return false, true // AutoPkg sets the declared default first
		}
		return false, false
	case readTruthy:
		switch x := v.(type) {
		case bool:
			return x, true
		case string:
			return x != "", true
		case nil:
			return false, true
		}
		n, isInt := plistio.Env{key: v}.Int(key, 0)
		return n != 0, isInt == nil
	case readNotFalse:
		switch x := v.(type) {
		case bool:
			return x, true
		case string:
			return x != "" && x != "False", true
		case nil:
			return false, true
		}
		n, isInt := plistio.Env{key: v}.Int(key, 0)
		return n != 0, isInt == nil
	}
	return false, false
}

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
	up, upOK := upstreamBool(key, v)
	if s, ok := v.(string); ok {
		if m := unresolved.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
			w := fmt.Sprintf("input %s is %q: the recipe variable %s is not defined, so it reads as False", key, s, m[1])
			switch {
			case upOK && !up:
				w += ", as JamfPackageUploader reads it"
			case upOK:
				w += " (JamfPackageUploader would read this text as True)"
			}
			return false, w + fmt.Sprintf("; define %s in the recipe's Input or the override (or give --key %s=True) if you meant True", m[1], m[1]), nil
		}
	}
	b, err := env.Bool(key)
	if err != nil || upstreamReads[key] == readNotAtAll {
		return b, "", err
	}
	switch {
	case !upOK:
		return b, fmt.Sprintf("input %s is %v, read as %s here, but JamfPackageUploader stops with an error on it; write True or False", key, quoted(v), pyBool(b)), nil
	case b && !up:
		// The other way round ("False" or "no" where upstream takes any
		// text as True) is left without a word: this processor's own
		// default for md5 and insecure_mode is "False", and reading it as
		// False is what every recipe means.
		return b, fmt.Sprintf("input %s is %v, read as %s here, but JamfPackageUploader reads it as %s; write True or False so that both read it the same", key, quoted(v), pyBool(b), pyBool(up)), nil
	}
	return b, "", nil
}

func quoted(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("the number %v", v)
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
