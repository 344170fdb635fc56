package e2e

import (
	"strings"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// TestRefusedSettingsStopBeforeContact: every setting this processor
// refuses ends the real binary with a ProcessorError (exit 10) before a
// single request reaches Jamf Pro or S3.
func TestRefusedSettingsStopBeforeContact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  plistio.Env
		want string
	}{
		{"SMB_URL", plistio.Env{"SMB_URL": "smb://svc:Share-Pw-77@fs.example.com/CasperShare", "SMB_USERNAME": "svc", "SMB_PASSWORD": "Share-Pw-77"}, "SMB_URL is set"},
		{"SMB2_URL", plistio.Env{"SMB2_URL": "smb://fs2.example.com/share"}, "SMB2_URL is set"},
		{"SMB_SHARES", plistio.Env{"SMB_SHARES": []any{map[string]any{"SMB_URL": "smb://fs/x", "SMB_USERNAME": "u", "SMB_PASSWORD": "p"}}}, "SMB_SHARES is set"},
		{"CLOUD_DP with a share", plistio.Env{"CLOUD_DP": true, "SMB_URL": "smb://fs/x"}, "with CLOUD_DP True"},
		{"aws_cdp_mode", plistio.Env{"aws_cdp_mode": "True", "S3_BUCKET_NAME": "cdp"}, "aws_cdp_mode is True"},
		{"JAMF_CLI_PROFILE", plistio.Env{"JAMF_CLI_PROFILE": "prod"}, "JAMF_CLI_PROFILE is set"},
		{"PLATFORM_API_REGION", plistio.Env{"PLATFORM_API_REGION": "eu"}, "PLATFORM_API_REGION is set"},
		{"PLATFORM_API_TENANT_ID", plistio.Env{"PLATFORM_API_TENANT_ID": "0f1e2d3c"}, "PLATFORM_API_TENANT_ID is set"},
	}
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, _ := makePkg(t, "Refused.pkg", 4096)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.t = t
			env := r.baseEnv(path)
			for k, v := range tt.set {
				env[k] = v
			}
			res := r.mustFail(env, tt.want)
			st := r.sim.State()
			if n := len(st.Calls) + len(st.S3Calls); n != 0 {
				t.Errorf("%d requests reached the server before the refusal: %+v %+v", n, st.Calls, st.S3Calls)
			}
			if strings.Contains(res.stderr, "Share-Pw-77") {
				t.Errorf("stderr shows the share password: %s", res.stderr)
			}
		})
	}
}

// TestRecalculateWaitTimeIsHonoured: the wait is logged and the refresh
// still follows it.
func TestRecalculateWaitTimeIsHonoured(t *testing.T) {
	t.Parallel()
	// 11.11 is the first version with an inventory refresh to wait for.
	// One server (on premises): the wait is the point, not the pods,
	// which on 11.11 take turns at the full refresh, 16 s each
	// (processor's TestRunsInARow, "recalculate on 11.11").
	r := newRig(t, fakeS3, jamfsim.Options{JamfVersion: "11.11.0", ClusterNodes: 1})
	path, _ := makePkg(t, "Wait.pkg", 3000)
	env := r.baseEnv(path)
	env["recalculate_wait_time"] = "1"
	env["verbose"] = uint64(1)
	res := r.mustSucceed(env)
	if !strings.Contains(res.stderr, "Waiting 1s before asking for a cloud distribution point inventory refresh") {
		t.Errorf("no wait logged:\n%s", res.stderr)
	}
	if r.sim.State().Counts.Refreshes < 1 {
		t.Errorf("no inventory refresh after the wait")
	}
}
