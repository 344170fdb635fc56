package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/processor"
)

// runInProcess calls run() directly: the protocol tests need no network.
func runInProcess(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestBadInputIsAProcessorError(t *testing.T) {
	dir := t.TempDir()
	unreadable := filepath.Join(dir, "missing.plist")
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"empty stdin", "", nil, "no input"},
		{"truncated plist", `<?xml version="1.0"?><plist version="1.0"><dict><key>JSS_URL</key><string>https://x`, nil, "not a valid property list"},
		{"root not a dictionary", `<?xml version="1.0"?><plist version="1.0"><array/></plist>`, nil, "root is array, expected a dictionary"},
		{"not a plist", "hello, world", nil, "not an XML or binary property list"},
		{"wrong type", `<?xml version="1.0"?><plist version="1.0"><dict><key>JSS_URL</key><string>https://x</string><key>pkg_path</key><string>/x.pkg</string><key>replace_pkg</key><array/></dict></plist>`, nil, "input replace_pkg: expected a boolean"},
		{"wrong verbose type", `<?xml version="1.0"?><plist version="1.0"><dict><key>verbose</key><string>loud</string></dict></plist>`, nil, "input verbose: expected an integer"},
		{"unreadable -input", "", []string{"-input", unreadable}, "open input plist"},
		{"argument without =", "", []string{"JSS_URL"}, `illegal argument "JSS_URL"`},
		{"missing JSS_URL", "", []string{"pkg_path=/tmp/x.pkg"}, "input JSS_URL is missing"},
		{"missing pkg_path", "", []string{"JSS_URL=https://jamf.example"}, "input pkg_path is missing"},
		{"package not found", "", []string{"JSS_URL=https://jamf.example", "pkg_path=/nonexistent/App.pkg"}, "package not found at pkg_path /nonexistent/App.pkg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runInProcess(t, tt.stdin, tt.args...)
			if code != exitProcessorError {
				t.Errorf("exit %d, want %d", code, exitProcessorError)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.HasPrefix(stderr, "ProcessorError: ") || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want ProcessorError containing %q", stderr, tt.want)
			}
		})
	}
}

func TestCommandLineMisuseExits2(t *testing.T) {
	for _, args := range [][]string{
		{"-no-such-flag"},
		{"-log-format", "xml"},
		{"-input", "x.plist", "a=b"},
	} {
		code, stdout, _ := runInProcess(t, "", args...)
		if code != exitUsage || stdout != "" {
			t.Errorf("%v: exit %d stdout %q, want %d and nothing", args, code, stdout, exitUsage)
		}
	}
	code, stdout, stderr := runInProcess(t, "", "-help")
	if code != exitOK || stdout != "" || !strings.Contains(stderr, "Usage:") {
		t.Errorf("-help: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runInProcess(t, "", "-version")
	if code != 0 || !strings.HasPrefix(stdout, "jcds2-uploader ") {
		t.Errorf("-version: %d %q", code, stdout)
	}
}

func TestDescribeListsEveryReferenceInputAndOutput(t *testing.T) {
	code, stdout, _ := runInProcess(t, "", "-describe")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var m struct {
		Name    string                    `json:"name"`
		Desc    string                    `json:"description"`
		Inputs  map[string]map[string]any `json:"input_variables"`
		Outputs map[string]map[string]any `json:"output_variables"`
	}
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("describe is not JSON: %v", err)
	}
	// Every input and output of the reference JamfPackageUploader.
	reference := []string{"JSS_URL", "API_USERNAME", "API_PASSWORD", "CLIENT_ID", "CLIENT_SECRET", "BEARER_TOKEN",
		"pkg_path", "pkg_name", "pkg_display_name", "version", "pkg_category", "pkg_info", "pkg_notes",
		"pkg_priority", "reboot_required", "os_requirements", "required_processor", "send_notification",
		"replace_pkg", "replace_pkg_metadata", "skip_metadata_upload", "jcds2_mode", "recalculate", "md5",
		"max_tries", "sleep", "insecure_mode", "CLOUD_DP", "SMB_URL", "SMB_USERNAME", "SMB_PASSWORD",
		"SMB_SHARES", "aws_cdp_mode", "S3_BUCKET_NAME", "jcds_mode"}
	for _, k := range reference {
		if _, ok := m.Inputs[k]; !ok {
			t.Errorf("input %s missing from -describe", k)
		}
	}
	if m.Inputs["JSS_URL"]["required"] != true {
		t.Errorf("JSS_URL not required")
	}
	defaults := map[string]string{"pkg_priority": "10", "required_processor": "None", "max_tries": "5", "sleep": "0", "upload_mode": "auto"}
	for k, want := range defaults {
		if got := m.Inputs[k]["default"]; got != want {
			t.Errorf("default of %s = %v, want %s", k, got, want)
		}
	}
	// verify_timeout has no default for AutoPkg to fill in: unset, the
	// budget grows with the file's size.
	if got, ok := m.Inputs["verify_timeout"]["default"]; ok {
		t.Errorf("verify_timeout has a default (%v); unset must mean the budget that grows with the file", got)
	}
	for _, k := range []string{"pkg_path", "pkg_name", "pkg_display_name", "pkg_uploaded", "pkg_metadata_updated", processor.SummaryKey,
		"pkg_id", "pkg_upload_status", "pkg_sha3_512"} {
		if _, ok := m.Outputs[k]; !ok {
			t.Errorf("output %s missing", k)
		}
	}
	for name, in := range m.Inputs {
		if in["description"] == "" {
			t.Errorf("input %s has no description", name)
		}
	}
}
