package processor

import (
	"strings"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// TestBooleanInputsAsUpstreamReadsThem: the README's table of boolean
// values, row by row: what each reads as, and which warn.
func TestBooleanInputsAsUpstreamReadsThem(t *testing.T) {
	tests := []struct {
		v        any
		want     bool
		warn     []string // all in the warning; nil: no warning
		errorHas string
	}{
		{v: nil},
		{v: true, want: true},
		{v: false},
		{v: "True", want: true},
		{v: " TRUE ", want: true},
		{v: "false"},
		{v: ""},
		{v: "%REPLACE_PKG%", warn: []string{"replace_pkg", "REPLACE_PKG", "reads as False", "JamfPackageUploader"}},
		{v: " %SKIP% ", warn: []string{"replace_pkg", "SKIP"}},
		{v: "yes", want: true, warn: []string{"replace_pkg", `"yes"`, "read as True", "JamfPackageUploader reads", "False"}},
		{v: "1", want: true, warn: []string{`"1"`, "read as True"}},
		{v: "On", want: true, warn: []string{`"On"`}},
		{v: "no"},
		{v: "0"},
		{v: "off"},
		{v: uint64(1), want: true, warn: []string{"number 1", "read as True", "error"}},
		{v: uint64(0), warn: []string{"number 0", "read as False"}},
		{v: "maybe", errorHas: `input replace_pkg: expected a boolean`},
		{v: "%NOT CLOSED", errorHas: "input replace_pkg"},
		{v: "True%X%", errorHas: "input replace_pkg"},
		{v: uint64(7), errorHas: "input replace_pkg"},
		{v: []any{}, errorHas: "input replace_pkg"},
	}
	for _, tt := range tests {
		env := plistio.Env{}
		if tt.v != nil {
			env["replace_pkg"] = tt.v
		}
		got, warning, err := readBool(env, "replace_pkg")
		if tt.errorHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errorHas) {
				t.Errorf("%#v: err %v, want one containing %q", tt.v, err, tt.errorHas)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%#v: got %v, %v; want %v", tt.v, got, err, tt.want)
		}
		if (warning != "") != (tt.warn != nil) {
			t.Errorf("%#v: warning %q, want one: %v", tt.v, warning, tt.warn != nil)
		}
		for _, w := range tt.warn {
			if !strings.Contains(warning, w) {
				t.Errorf("%#v: warning %q lacks %q", tt.v, warning, w)
			}
		}
	}
}

// TestUnresolvedBooleanRunsWithAWarning: a template recipe whose boolean
// input is a %NAME% it never defined parses as it does under the
// reference (False), with one warning per input; "yes" keeps today's True
// and warns once; other text is still refused.
func TestUnresolvedBooleanRunsWithAWarning(t *testing.T) {
	env := baseEnv()
	env["replace_pkg"] = "%REPLACE_PKG%"
	env["aws_cdp_mode"] = "%AWS%"
	env["file_shares_updated_elsewhere"] = "%ELSEWHERE%"
	env["recalculate"] = "yes"
	c, err := ParseConfig(env, false)
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if c.ReplacePkg || !c.Recalculate {
		t.Errorf("replace_pkg %v, recalculate %v; want false, true", c.ReplacePkg, c.Recalculate)
	}
	joined := strings.Join(c.Warnings, "\n")
	for _, want := range []string{"%REPLACE_PKG%", "%AWS%", "%ELSEWHERE%", `input recalculate is "yes"`} {
		if strings.Count(joined, want) != 1 {
			t.Errorf("want one warning with %q, got:\n%s", want, joined)
		}
	}
	if len(c.Warnings) != 4 {
		t.Errorf("%d warnings, want 4:\n%s", len(c.Warnings), joined)
	}
	env["replace_pkg"] = "maybe"
	if _, err := ParseConfig(env, false); err == nil || !strings.Contains(err.Error(), `input replace_pkg: expected a boolean (true/false, yes/no, 1/0), got string "maybe"`) {
		t.Errorf("err = %v, want today's error naming replace_pkg", err)
	}
}

// TestBooleanInputsListed: every input the manifest documents as a
// boolean is read (and warned about) by the same rules.
func TestBooleanInputsListed(t *testing.T) {
	for _, in := range Describe().Inputs {
		if !strings.Contains(in.Description, "(boolean)") {
			continue
		}
		found := false
		for _, k := range booleanInputs {
			found = found || k == in.Name
		}
		if !found {
			t.Errorf("input %s is a boolean but not in booleanInputs", in.Name)
		}
	}
}

// TestBooleanWarningsFollowUpstreamPerInput: upstream reads md5 and
// insecure_mode by truth (any text is True), reboot_required and
// send_notification as "anything but False", jcds2_mode not at all; a
// warning comes only where upstream reads False (or fails) and this
// processor True, or for a placeholder.
func TestBooleanWarningsFollowUpstreamPerInput(t *testing.T) {
	tests := []struct {
		key  string
		v    any
		want bool
		warn string // "" for none
	}{
		{"md5", "yes", true, ""},
		{"md5", "False", false, ""},
		{"md5", "%USE_MD5%", false, "JamfPackageUploader would read this text as True"},
		{"insecure_mode", uint64(1), true, ""},
		{"reboot_required", "1", true, ""},
		{"send_notification", "%NOTIFY%", false, "would read this text as True"},
		{"recalculate", "1", true, `reads it as False`},
		{"CLOUD_DP", "%CLOUD%", false, "reads as False, as JamfPackageUploader reads it"},
		{"jcds2_mode", "yes", true, ""},
		{"dry_run", "1", true, ""},
		{"dry_run", "%DRY%", false, "the recipe variable DRY is not defined"},
	}
	for _, tt := range tests {
		got, warning, err := readBool(plistio.Env{tt.key: tt.v}, tt.key)
		if err != nil || got != tt.want {
			t.Errorf("%s=%#v: %v, %v; want %v", tt.key, tt.v, got, err, tt.want)
		}
		if (tt.warn == "") != (warning == "") || !strings.Contains(warning, tt.warn) {
			t.Errorf("%s=%#v: warning %q, want %q", tt.key, tt.v, warning, tt.warn)
		}
	}
}
