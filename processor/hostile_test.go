package processor

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

func TestHostileInputsRefused(t *testing.T) {
	tests := []struct {
		name string
		set  plistio.Env
		err  string
	}{
		{"pkg_name with an ANSI escape", plistio.Env{"pkg_name": "App\x1b[2K.pkg"}, "pkg_name"},
		{"pkg_name with a line break", plistio.Env{"pkg_name": "App.pkg\nProcessorError: fine"}, "control character"},
		{"pkg_name with CR", plistio.Env{"pkg_name": "App\r.pkg"}, "control character"},
		{"pkg_name with a C1 control", plistio.Env{"pkg_name": "App\u009b2K.pkg"}, "control character"},
		{"pkg_display_name with a tab", plistio.Env{"pkg_display_name": "App\tName"}, "pkg_display_name"},
		{"pkg_display_name with DEL", plistio.Env{"pkg_display_name": "App\x7f"}, "pkg_display_name"},
		{"file name with an escape and no pkg_name", plistio.Env{"pkg_path": "/tmp/App\x1b[2K.pkg"}, "rename the file or set pkg_name"},
		{"verify_timeout past a duration", plistio.Env{"verify_timeout": "9223372037"}, "verify_timeout: must be at most"},
		{"verify_timeout uint64", plistio.Env{"verify_timeout": uint64(1) << 62}, "verify_timeout"},
		{"verify_timeout two days", plistio.Env{"verify_timeout": uint64(172800)}, "verify_timeout"},
		{"sleep past a duration", plistio.Env{"sleep": "99999999999"}, "sleep: must be at most"},
		{"JSS_URL ftp with a password", plistio.Env{"JSS_URL": "ftp://bob:Pw-ftp-secret@jamf.example"}, "REDACTED@jamf.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv()
			for k, v := range tt.set {
				env[k] = v
			}
			_, err := ParseConfig(env, false)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\x1b\r\x7f\u009b") || strings.Contains(msg, "Pw-ftp") {
				t.Errorf("error shows raw input: %q", msg)
			}
		})
	}
	// Names with ordinary characters, accents and spaces stay accepted.
	env := baseEnv()
	env["pkg_name"], env["pkg_display_name"], env["verify_timeout"] = "Grüße App 2.pkg", "Grüße – App", "86400"
	c, err := ParseConfig(env, false)
	if err != nil || c.VerifyTimeout != 24*time.Hour {
		t.Errorf("ordinary names refused: %v %+v", err, c)
	}
}

func TestSecurityWarnings(t *testing.T) {
	tests := []struct {
		set  plistio.Env
		want []string
	}{
		{plistio.Env{}, nil},
		{plistio.Env{"JSS_URL": "http://jamf.example:8080"}, []string{"http://"}},
		{plistio.Env{"JSS_URL": " HTTP://jamf.example"}, []string{"http://"}},
		{plistio.Env{"insecure_mode": true}, []string{"insecure_mode"}},
		{plistio.Env{"insecure_mode": "True", "JSS_URL": "http://x"}, []string{"http://", "insecure_mode"}},
		{plistio.Env{"insecure_mode": false}, nil},
	}
	for _, tt := range tests {
		env := baseEnv()
		for k, v := range tt.set {
			env[k] = v
		}
		got := SecurityWarnings(env)
		if len(got) != len(tt.want) {
			t.Errorf("%v: warnings %q, want ones about %q", tt.set, got, tt.want)
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%v: warning %q does not name %q", tt.set, got[i], w)
			}
		}
	}
}

// A log message carrying server text stays one line with no terminal
// control in it, in the text format at verbosity 0 (warnings).
func TestLogMessagesEscaped(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, 0, "text")
	log.Warn().Str("file", "a\x1b[31mb").Msg("dup of Name\x1b[2K\rProcessorError: forged\nnext \u202eevil")
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Errorf("not one line: %q", out)
	}
	if strings.ContainsAny(out, "\x1b\r\u202e") {
		t.Errorf("control characters reached the log: %q", out)
	}
	if !strings.Contains(out, `\x1b[2K\rProcessorError: forged\nnext`) {
		t.Errorf("the message is not shown escaped: %q", out)
	}
}
