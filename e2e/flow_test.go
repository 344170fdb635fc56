package e2e

// End-to-end tests against the simulator's defaults (a Jamf Cloud cluster
// with sticky APBALANCEID sessions, asynchronous processing, server-owned
// size and digests): several processes uploading at once, and the errors a
// user reads on standard error. What each kind of run leaves on the server
// and reports, run after run, is processor's TestRunsInARow.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
	"github.com/jcds2-uploader/jcds2-uploader/processor"
)

func wantOutputs(t *testing.T, out plistio.Env, uploaded, meta bool, status string) {
	t.Helper()
	if got := boolOut(t, out, "pkg_uploaded"); got != uploaded {
		t.Errorf("pkg_uploaded = %v, want %v", got, uploaded)
	}
	if got := boolOut(t, out, "pkg_metadata_updated"); got != meta {
		t.Errorf("pkg_metadata_updated = %v, want %v", got, meta)
	}
	if got := stringOut(t, out, "pkg_upload_status"); got != status {
		t.Errorf("pkg_upload_status = %q, want %q", got, status)
	}
	_, summary := out[processor.SummaryKey]
	if summary != (uploaded || meta) {
		t.Errorf("summary present = %v, want %v", summary, uploaded || meta)
	}
}

// fastLag is a cluster lag for tests that run many runs in a row: Jamf
// Cloud's minute at a sixtieth. A run that starts right after another
// (a new process, a new cookie jar) is under way within tens of
// milliseconds, so it still lands on a node that has not seen that run's
// writes; every new upload waits until every pod shows its object, so a
// second of lag costs each such test about a second and a half of
// polling. The tests that wait out Jamf Cloud's full minute do so with
// JCDS2_LONG=1 (make test-long; jamfCloudLag).
const fastLag = time.Second

// jamfCloudLag is the cluster lag of a test that is about Jamf Cloud's
// own minute: the minute itself with JCDS2_LONG=1 (make test-long), else
// short, the same ratio to every other duration as the rigs keep.
func jamfCloudLag(short time.Duration) time.Duration {
	if os.Getenv("JCDS2_LONG") == "1" {
		return time.Minute
	}
	return short
}

// TestExplicitJCDS2OnRemovedEndpoints: only an explicit upload_mode jcds2
// fails where the JCDS endpoints are gone, saying why and what to do.
func TestExplicitJCDS2OnRemovedEndpoints(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{JCDSRemoved: true})
	path, _ := makePkg(t, "Strict.pkg", 5000)
	env := r.baseEnv(path)
	env["upload_mode"] = "jcds2"
	res := r.mustFail(env, "no longer has the JCDS endpoints")
	for _, want := range []string{"2025-08-28", "Remove upload_mode", "upload_mode to v1"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("error does not say %q:\n%s", want, res.stderr)
		}
	}
	if st := r.sim.State(); len(st.Packages) != 0 || len(st.Files) != 0 {
		t.Errorf("the failed run changed something: %+v %+v", st.Packages, st.Files)
	}
}

// TestNoCloudDistributionPoint: an instance without JCDS 2.0 (a 500 before
// 11.25.2) stops with a clear error in the default mode.
func TestNoCloudDistributionPoint(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"11.25.0", "11.26.1"} {
		t.Run(v, func(t *testing.T) {
			r := newRig(t, fakeS3, jamfsim.Options{NoJCDS: true, JamfVersion: v})
			path, _ := makePkg(t, "None.pkg", 5000)
			env := r.baseEnv(path)
			env["max_tries"] = "1"
			r.mustFail(env, "directUploadCapable false")
		})
	}
}

// TestClusterConcurrentUploads: four uploads at once and then their reruns
// against three Jamf Cloud nodes inside the cluster lag (three seconds;
// the real minute with JCDS2_LONG=1): no duplicate object or file, every
// record whole, and no rerun acts on a stale read (none uploads again or
// claims a change).
func TestClusterConcurrentUploads(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{ClusterNodes: 3, ClusterLag: jamfCloudLag(3 * fastLag)})
	envs := map[string]plistio.Env{}
	sums := map[string]string{}
	for i := 1; i <= 4; i++ {
		name := fmt.Sprintf("Node %d.pkg", i)
		path, sum := makePkg(t, name, 300000+i)
		envs[name] = r.baseEnv(path)
		envs[name]["verify_timeout"] = uint64(120)
		sums[name] = sum
	}
	check := func(rerun bool) {
		for _, res := range runConcurrently(t, r, envs) {
			noPanic(t, res.stderr)
			if res.err != nil {
				t.Errorf("%s (rerun %v): %v\n%s", res.name, rerun, res.err, res.stderr)
				continue
			}
			out, err := plistio.Decode([]byte(res.stdout))
			if err != nil {
				t.Fatal(err)
			}
			if rerun {
				wantOutputs(t, out, false, false, processor.StatusSkippedExists)
			} else {
				wantOutputs(t, out, true, true, processor.StatusUploaded)
			}
		}
		st := r.sim.State()
		if len(st.Files) != 4 || len(st.Packages) != 4 {
			t.Fatalf("files=%d packages=%d, want 4 each", len(st.Files), len(st.Packages))
		}
		checkConsistent(t, r.sim)
		for _, p := range st.Packages {
			f, _ := r.sim.File(p.FileName)
			if p.HashValue != sums[p.FileName] || p.Size != strconv.FormatInt(f.Size, 10) || p.HashType != "SHA3_512" {
				t.Errorf("record of %s not whole: %+v", p.FileName, p)
			}
		}
	}
	check(false)
	s3calls := len(r.sim.State().S3Calls)
	check(true)
	if n := len(r.sim.State().S3Calls); n != s3calls {
		t.Errorf("the reruns sent %d S3 requests", n-s3calls)
	}
}

// TestClassicMissingPrivilege: on a Classic server (11.4) the 401 for a
// missing privilege names the privilege; no token renewal hides it.
func TestClassicMissingPrivilege(t *testing.T) {
	t.Parallel()
	const v = "11.4.0"
	r := newRig(t, fakeS3, jamfsim.Options{JamfVersion: v})
	r.sim.AddAccount("uploader", "uploader-pass", jamfsim.PrivReadPackages, jamfsim.PrivReadCategories,
		jamfsim.JCDSPrivilege(v, "Read"), jamfsim.JCDSPrivilege(v, "Create"), jamfsim.JCDSPrivilege(v, "Delete"))
	path, _ := makePkg(t, "Limited.pkg", 5000)
	env := r.baseEnv(path)
	env["API_USERNAME"], env["API_PASSWORD"] = "uploader", "uploader-pass"
	r.mustFail(env, `lacks the "Create Packages" privilege`)
	if n := r.sim.State().Counts.TokenRequests; n != 1 {
		t.Errorf("token requests = %d, want 1: a Classic 401 is no expired token", n)
	}
}
