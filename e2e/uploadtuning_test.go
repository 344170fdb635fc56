package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
)

// TestInputUploadTuning: upload_concurrency and upload_part_size shape the
// JCDS 2.0 upload (and the plan is logged at -vv); values S3 cannot take,
// including a part size this file would need more than 10,000 parts of,
// end in a ProcessorError before any upload starts.
func TestInputUploadTuning(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})

	t.Run("tuned upload", func(t *testing.T) {
		path, sum := makePkg(t, "Tuned.pkg", 12<<20)
		env := r.baseEnv(path)
		env["upload_concurrency"] = uint64(2)
		env["upload_part_size"] = "5"
		res := r.mustSucceed(env, "-vv")
		if !strings.Contains(res.stderr, "S3 upload plan") || !strings.Contains(res.stderr, "concurrency=2") || !strings.Contains(res.stderr, "part_size=5242880") {
			t.Errorf("-vv does not log the plan (2 in flight, 5 MiB parts):\n%s", res.stderr)
		}
		parts := 0
		for _, c := range r.sim.State().S3Calls {
			if c.Method == "PUT" && strings.Contains(c.Query, "partNumber=") && strings.Contains(c.Path, "Tuned.pkg") {
				parts++
			}
		}
		if parts != 3 {
			t.Errorf("%d parts sent, want 3 of 5 MiB", parts)
		}
		converged(t, r.sim, "Tuned.pkg", sum)
	})

	// 10,001 parts of 5 MiB; sparse, so it costs no disk.
	huge := filepath.Join(t.TempDir(), "Huge.pkg")
	if err := os.WriteFile(huge, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 5<<20*10000+1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		set        map[string]any
		want       string
	}{
		{"concurrency 0", "", map[string]any{"upload_concurrency": uint64(0)}, "upload_concurrency: must be 1 to 64"},
		{"concurrency 65", "", map[string]any{"upload_concurrency": "65"}, "upload_concurrency: must be 1 to 64"},
		{"part size 4 MiB", "", map[string]any{"upload_part_size": uint64(4)}, "upload_part_size: must be 5 to 5120 MiB"},
		{"more than 10,000 parts", huge, map[string]any{"upload_part_size": uint64(5)}, "10001 parts, more than S3's 10000; use at least 6 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path, _ = makePkg(t, "Bad.pkg", 1000)
			}
			env := r.baseEnv(path)
			for k, v := range tc.set {
				env[k] = v
			}
			before := r.sim.State()
			r.mustFail(env, tc.want)
			after := r.sim.State()
			if len(after.S3Calls) != len(before.S3Calls) {
				t.Errorf("S3 was called: %+v", after.S3Calls[len(before.S3Calls):])
			}
			for _, c := range after.Calls[len(before.Calls):] {
				if c.Method != "GET" {
					t.Errorf("changed something before refusing: %s %s", c.Method, c.Path)
				}
			}
		})
	}
}
