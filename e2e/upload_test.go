package e2e

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/processor"
)

func TestNewPackageBothBackends(t *testing.T) {
	t.Parallel()
	for _, b := range []backend{fakeS3, minio} {
		t.Run(string(b), func(t *testing.T) {
			r := newRig(t, b, jamfsim.Options{})
			r.sim.AddCategory("Browsers")
			path, sum := makePkg(t, "Firefox-146.0.pkg", 3<<20)
			env := r.baseEnv(path)
			env["pkg_category"] = "%CATEGORY%"
			env["CATEGORY"] = "Browsers"

			res := r.mustSucceed(env)
			out := res.out
			if !boolOut(t, out, "pkg_uploaded") || !boolOut(t, out, "pkg_metadata_updated") {
				t.Errorf("pkg_uploaded/pkg_metadata_updated = %v/%v, want true/true", out["pkg_uploaded"], out["pkg_metadata_updated"])
			}
			if got := stringOut(t, out, "pkg_upload_status"); got != processor.StatusUploaded {
				t.Errorf("pkg_upload_status = %q", got)
			}
			if got := stringOut(t, out, "pkg_sha3_512"); got != sum {
				t.Errorf("pkg_sha3_512 = %q, want %q", got, sum)
			}
			if stringOut(t, out, "pkg_name") != "Firefox-146.0.pkg" || stringOut(t, out, "pkg_display_name") != "Firefox-146.0.pkg" || stringOut(t, out, "pkg_path") != path {
				t.Errorf("names: %v %v %v", out["pkg_name"], out["pkg_display_name"], out["pkg_path"])
			}
			if !reflect.DeepEqual(out["untouched_key"], env["untouched_key"]) || out["CATEGORY"] != "Browsers" {
				t.Errorf("keys the processor does not own changed: %#v", out["untouched_key"])
			}
			summary, ok := out[processor.SummaryKey].(map[string]any)
			if !ok {
				t.Fatalf("no summary result")
			}
			data := summary["data"].(map[string]any)
			if data["category"] != "Browsers" || data["name"] != "Firefox" || data["version"] != "146.0" || data["pkg_name"] != "Firefox-146.0.pkg" {
				t.Errorf("summary data = %v", data)
			}

			f, ok := r.sim.File("Firefox-146.0.pkg")
			if !ok || f.SHA3 != sum || f.Size != 3<<20 {
				t.Fatalf("JCDS file = %+v, %v; want sha3 %s", f, ok, sum)
			}
			st := r.sim.State()
			if len(st.Packages) != 1 {
				t.Fatalf("packages = %+v", st.Packages)
			}
			p := st.Packages[0]
			if p.Name != "Firefox-146.0.pkg" || p.FileName != "Firefox-146.0.pkg" || p.HashType != "SHA3_512" || p.HashValue != sum || p.Priority != 10 {
				t.Errorf("package object = %+v", p)
			}
			if p.CategoryID == "-1" || p.CategoryID == "" {
				t.Errorf("category not set: %+v", p)
			}
			if stringOut(t, out, "pkg_id") != p.ID {
				t.Errorf("pkg_id = %v, want %s", out["pkg_id"], p.ID)
			}
			for _, w := range p.Writes {
				if strings.Contains(w, "size") {
					t.Errorf("metadata write carried size: %v", p.Writes)
				}
			}
			checkConsistent(t, r.sim)
		})
	}
}

// TestVerifiedOnEveryPodPremium: on the simulator's defaults with 4 pods
// (Premium) and the verify budget left to its default, one run of the
// binary ends with every pod's record READY with the file's size and
// SHA3-512, and says so (pkg_pods_verified, the summary).
func TestVerifiedOnEveryPodPremium(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{ClusterNodes: 4})
	path, sum := makePkg(t, "Slack.pkg", 2<<20)
	env := r.baseEnv(path)
	delete(env, "verify_timeout")
	res := r.mustSucceed(env)
	if not := r.sim.State().NotServedBy("Slack.pkg", 2<<20, sum); len(not) > 0 {
		t.Errorf("pods %v do not serve Slack.pkg READY with its size and SHA3-512\n%s", not, res.stderr)
	}
	if n, ok := res.out["pkg_pods_verified"].(uint64); !ok || n != 4 {
		t.Errorf("pkg_pods_verified = %#v, want 4", res.out["pkg_pods_verified"])
	}
	summary, _ := res.out[processor.SummaryKey].(map[string]any)
	if data, _ := summary["data"].(map[string]any); data["pods_verified"] != "4" {
		t.Errorf("summary data %v, want pods_verified 4", summary["data"])
	}
}

func TestIdenticalRerunIsANoOp(t *testing.T) {
	t.Parallel()
	// The nightly rerun comes a day after the upload, long after Jamf
	// Cloud's nodes caught up with each other; a short lag waited out
	// stands for that. (A rerun at once is processor's TestRunsInARow.)
	// A refresh reaches only its own pod: the upload counts as delivered
	// when every pod serves it READY, and the run itself refreshes and
	// verifies every pod, so the nightly run may land on either.
	r := newRig(t, fakeS3, jamfsim.Options{ClusterLag: time.Second})
	path, _ := makePkg(t, "Zoom.pkg", 1<<20)
	env := r.baseEnv(path)
	r.mustSucceed(env) // verified on every pod
	time.Sleep(1500 * time.Millisecond)
	r.sim.ResetCalls()

	res := r.mustSucceed(env)
	if boolOut(t, res.out, "pkg_uploaded") || boolOut(t, res.out, "pkg_metadata_updated") {
		t.Errorf("rerun claims changes: uploaded=%v metadata=%v", res.out["pkg_uploaded"], res.out["pkg_metadata_updated"])
	}
	if got := stringOut(t, res.out, "pkg_upload_status"); got != processor.StatusSkippedExists {
		t.Errorf("pkg_upload_status = %q, want %q", got, processor.StatusSkippedExists)
	}
	if _, ok := res.out[processor.SummaryKey]; ok {
		t.Errorf("summary written although nothing changed")
	}
	if _, ok := res.out["pkg_sha3_512"]; ok {
		t.Errorf("the nightly no-op hashed the file")
	}
	st := r.sim.State()
	if len(st.Calls) > 4 {
		t.Errorf("nightly no-op made %d requests, want at most 4: %+v", len(st.Calls), st.Calls)
	}
	if len(st.S3Calls) != 0 {
		t.Errorf("no-op touched S3: %+v", st.S3Calls)
	}
	if st.Counts.TokenRequests != 1 {
		t.Errorf("token requests over two runs = %d, want 1 (cached)", st.Counts.TokenRequests)
	}
}

func TestV1UploadMode(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{JamfVersion: "11.5.0"})
	path, sum := makePkg(t, "V1.pkg", 5000)
	env := r.baseEnv(path)
	delete(env, "jcds2_mode")
	env["upload_mode"] = "v1"
	res := r.mustSucceed(env)
	if !boolOut(t, res.out, "pkg_uploaded") || !boolOut(t, res.out, "pkg_metadata_updated") {
		t.Errorf("outputs %v %v", res.out["pkg_uploaded"], res.out["pkg_metadata_updated"])
	}
	if n := r.sim.CallCount("POST", "/api/v1/packages/*"); n != 1 {
		t.Errorf("v1 upload calls = %d", n)
	}
	if n := r.sim.State().Counts.Initiates; n != 0 {
		t.Errorf("v1 mode initiated %d JCDS uploads", n)
	}
	if _, ok := r.sim.File("V1.pkg"); !ok {
		t.Errorf("file not stored")
	}
	checkConsistent(t, r.sim)

	// Without upload_mode, a server whose JCDS endpoints are gone gets
	// the same upload, and one warning that says why.
	gone := newRig(t, fakeS3, jamfsim.Options{JCDSRemoved: true})
	env = gone.baseEnv(path)
	delete(env, "jcds2_mode")
	res = gone.mustSucceed(env)
	wantOutputs(t, res.out, true, true, processor.StatusUploaded)
	if n := strings.Count(res.stderr, "the JCDS endpoints are gone"); n != 1 {
		t.Errorf("want one warning that the JCDS endpoints are gone, got %d:\n%s", n, res.stderr)
	}
	converged(t, gone.sim, "V1.pkg", sum)

	old := newRig(t, fakeS3, jamfsim.Options{JamfVersion: "11.4.0"})
	env = old.baseEnv(path)
	env["upload_mode"] = "v1"
	delete(env, "jcds2_mode")
	old.mustFail(env, "upload_mode v1 needs Jamf Pro 11.5")
}

func TestDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"input", "flag"} {
		t.Run(how, func(t *testing.T) {
			r := newRig(t, fakeS3, jamfsim.Options{})
			path, _ := makePkg(t, "Dry.pkg", 5000)
			env := r.baseEnv(path)
			var args []string
			if how == "input" {
				env["dry_run"] = true
			} else {
				args = []string{"-dry-run"}
			}
			res := r.mustSucceed(env, args...)
			if stringOut(t, res.out, "pkg_upload_status") != processor.StatusDryRun || boolOut(t, res.out, "pkg_uploaded") {
				t.Errorf("outputs %v %v", res.out["pkg_upload_status"], res.out["pkg_uploaded"])
			}
			plan, _ := res.out["pkg_plan"].([]any)
			joined := ""
			for _, s := range plan {
				joined += s.(string) + "\n"
			}
			if !strings.Contains(joined, "upload Dry.pkg") || !strings.Contains(joined, "create package object") {
				t.Errorf("pkg_plan = %q", joined)
			}
			// The plan is what a dry run was asked for: standard error
			// shows it at the default verbosity, in pkg_plan's words.
			for i, s := range plan {
				if line := fmt.Sprintf("dry run, step %d/%d: %s", i+1, len(plan), s); !strings.Contains(res.stderr, line) {
					t.Errorf("standard error lacks %q:\n%s", line, res.stderr)
				}
			}
			st := r.sim.State()
			if len(st.Files) != 0 || len(st.Packages) != 0 || len(st.S3Calls) != 0 {
				t.Errorf("dry run changed something")
			}
			for _, c := range st.Calls {
				if c.Method != "GET" && !strings.Contains(c.Path, "/auth/token") {
					t.Errorf("dry run sent %s %s", c.Method, c.Path)
				}
			}
		})
	}
}
