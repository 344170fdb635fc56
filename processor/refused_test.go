package processor

import (
	"errors"
	"strings"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

func TestRefusedSettings(t *testing.T) {
	tests := []struct {
		name string
		set  plistio.Env
		want []string // each must be in the error; none means the run goes on
	}{
		// What counts as set: what AutoPkg preferences and JamfUploader's
		// own defaults leave behind when nobody meant anything.
		{"empty SMB_URL", plistio.Env{"SMB_URL": ""}, nil},
		{"blank SMB_URL", plistio.Env{"SMB_URL": "  "}, nil},
		{"false SMB_URL", plistio.Env{"SMB_URL": false}, nil},
		{"empty SMB_SHARES", plistio.Env{"SMB_SHARES": []any{}}, nil},
		{"SMB credentials alone", plistio.Env{"SMB_USERNAME": "u", "SMB_PASSWORD": "p", "SMB2_USERNAME": "u"}, nil},
		{"CLOUD_DP true alone", plistio.Env{"CLOUD_DP": true}, nil},
		{"CLOUD_DP string false", plistio.Env{"CLOUD_DP": "False"}, nil},
		{"aws_cdp_mode false", plistio.Env{"aws_cdp_mode": "False", "S3_BUCKET_NAME": "bucket"}, nil},
		{"aws_cdp_mode bool false", plistio.Env{"aws_cdp_mode": false}, nil},
		{"empty JAMF_CLI_PROFILE", plistio.Env{"JAMF_CLI_PROFILE": ""}, nil},
		{"empty platform keys", plistio.Env{"PLATFORM_API_REGION": "", "PLATFORM_API_TENANT_ID": ""}, nil},
		{"shares handled elsewhere", plistio.Env{"SMB_URL": "smb://fs/CasperShare", "SMB2_URL": "smb://fs2/share", FileSharesElsewhere: "True"}, nil},
		{"shares elsewhere with CLOUD_DP", plistio.Env{"SMB_SHARES": []any{map[string]any{"SMB_URL": "smb://fs/x"}}, "CLOUD_DP": true, FileSharesElsewhere: true}, nil},

		{"SMB_URL", plistio.Env{"SMB_URL": "smb://fs.example.com/CasperShare"},
			[]string{"SMB_URL is set", "only to Jamf Pro's cloud distribution point", "JamfPackageUploader step after this one", FileSharesElsewhere + ": True", "defaults delete com.github.autopkg SMB_URL"}},
		{"SMB2_URL alone", plistio.Env{"SMB2_URL": "smb://fs2/share"}, []string{"SMB2_URL is set"}},
		{"SMB_URL and SMB3_URL", plistio.Env{"SMB_URL": "smb://a/b", "SMB10_URL": "smb://c/d", "SMB3_URL": "file:///Volumes/DP", "SMB_SHARES": []any{"x"}}, []string{"SMB_URL, SMB3_URL, SMB10_URL, SMB_SHARES are set"}},
		{"SMB_SHARES", plistio.Env{"SMB_SHARES": []any{map[string]any{"SMB_URL": "smb://fs/x", "SMB_USERNAME": "u", "SMB_PASSWORD": "p"}}}, []string{"SMB_SHARES is set"}},
		{"SMB_URL with CLOUD_DP", plistio.Env{"SMB_URL": "smb://a/b", "CLOUD_DP": "true"}, []string{"with CLOUD_DP True it also uploaded to the cloud distribution point"}},
		{"SMB_URL elsewhere false", plistio.Env{"SMB_URL": "smb://a/b", FileSharesElsewhere: "False"}, []string{"SMB_URL is set"}},
		{"aws_cdp_mode", plistio.Env{"aws_cdp_mode": "True", "S3_BUCKET_NAME": "my-cdp"}, []string{"aws_cdp_mode is True", "S3_BUCKET_NAME", "set it False"}},
		{"JAMF_CLI_PROFILE", plistio.Env{"JAMF_CLI_PROFILE": "prod"}, []string{"JAMF_CLI_PROFILE is set", "does not run jamf-cli", "CLIENT_ID", "BEARER_TOKEN"}},
		{"PLATFORM_API_REGION", plistio.Env{"PLATFORM_API_REGION": "eu"}, []string{"PLATFORM_API_REGION is set", "Platform API gateway", "CLIENT_ID and CLIENT_SECRET"}},
		{"both platform keys", plistio.Env{"PLATFORM_API_REGION": "us", "PLATFORM_API_TENANT_ID": "abc"}, []string{"PLATFORM_API_REGION and PLATFORM_API_TENANT_ID are set"}},
		{"bad boolean", plistio.Env{FileSharesElsewhere: "sometimes"}, []string{FileSharesElsewhere}},
		{"several at once", plistio.Env{"SMB_URL": "smb://a/b", "aws_cdp_mode": true, "JAMF_CLI_PROFILE": "p"},
			[]string{"SMB_URL is set", "aws_cdp_mode is True", "JAMF_CLI_PROFILE is set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv()
			for k, v := range tt.set {
				env[k] = v
			}
			_, err := ParseConfig(env, false)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted, want refused")
			}
			var refused *RefusedError
			if errors.As(err, &refused) != (tt.name != "bad boolean") {
				t.Errorf("err = %v: a RefusedError %v", err, !(tt.name != "bad boolean"))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// A share URL may carry its password (smb://user:pass@server/share); the
// refusal names the key only.
func TestRefusalDoesNotQuoteShareURLs(t *testing.T) {
	env := baseEnv()
	env["SMB_URL"] = "smb://svc:Hunter2-Secret@fs/CasperShare"
	_, err := ParseConfig(env, false)
	if err == nil || strings.Contains(err.Error(), "Hunter2") || strings.Contains(err.Error(), "fs/CasperShare") {
		t.Fatalf("err = %v", err)
	}
}
