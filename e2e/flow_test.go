package e2e

// End-to-end tests of issue 11 against the simulator's defaults (a Jamf
// Cloud cluster with sticky APBALANCEID sessions and a minute's lag,
// asynchronous processing, server-owned size and digests): after every kind
// of run the package record is whole (size, the server's SHA3_512, READY),
// the distribution point holds one file and Jamf Pro one object, and the
// outputs tell the truth.

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

// recordReady checks the package record of file name as Jamf Pro shows it:
// the file's size, hashType SHA3_512 with the server's own hash of the
// file, cloudTransferStatus READY; and exactly one JCDS file and one object.
func recordReady(t *testing.T, sim *jamfsim.Server, name, sum string) jamfsim.Package {
	t.Helper()
	checkConsistent(t, sim)
	st := sim.State()
	f, ok := sim.File(name)
	if !ok {
		t.Fatalf("the JCDS does not hold %s: %+v", name, st.Files)
	}
	if f.SHA3 != sum {
		t.Errorf("JCDS file %s holds other bytes (sha3 %.16s…, want %.16s…)", name, f.SHA3, sum)
	}
	if len(st.Files) != 1 || len(st.Packages) != 1 {
		t.Fatalf("files=%d packages=%d, want one each: %+v %+v", len(st.Files), len(st.Packages), st.Files, st.Packages)
	}
	p := st.Packages[0]
	if p.FileName != name {
		t.Errorf("object points at %q, want %q", p.FileName, name)
	}
	if p.Size != strconv.FormatInt(f.Size, 10) {
		t.Errorf("record size %q, want %d (blank shows as Availability Pending)", p.Size, f.Size)
	}
	if p.HashType != "SHA3_512" || p.HashValue != f.SHA3 {
		t.Errorf("record hash %s %.16s…, want the server's SHA3_512 %.16s…", p.HashType, p.HashValue, f.SHA3)
	}
	if p.TransferStatus != "" && p.TransferStatus != "READY" {
		t.Errorf("record cloudTransferStatus %q, want READY", p.TransferStatus)
	}
	if p.MD5 != "" && p.MD5 != f.MD5 {
		t.Errorf("record md5 %s is not the file's %s (a stale digest written back?)", p.MD5, f.MD5)
	}
	if p.SHA3512 != "" && p.SHA3512 != f.SHA3 {
		t.Errorf("record sha3512 is not the file's (a stale digest written back?)")
	}
	for _, w := range p.Writes {
		if strings.Contains(w, "size") {
			t.Errorf("a metadata write carried size: %v", p.Writes)
		}
	}
	return p
}

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

// TestRecordWholeAfterEveryRun: new upload, identical rerun, replace with
// changed bytes and metadata-only update, in the default mode, in v1 mode
// and on a server whose JCDS endpoints are gone.
func TestRecordWholeAfterEveryRun(t *testing.T) {
	t.Parallel()
	modes := []struct {
		name  string
		opts  jamfsim.Options
		mode  string // upload_mode, "" for none
		wants string // a log line the first run must print
	}{
		{"default", jamfsim.Options{}, "", ""},
		{"v1", jamfsim.Options{}, "v1", ""},
		{"jcds removed", jamfsim.Options{JCDSRemoved: true}, "", "the JCDS endpoints are gone"},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			r := newRig(t, fakeS3, m.opts)
			r.sim.AddCategory("Browsers")
			path, sum := makePkg(t, "Firefox.pkg", 600000)
			env := r.baseEnv(path)
			delete(env, "jcds2_mode")
			if m.mode != "" {
				env["upload_mode"] = m.mode
			}
			env["pkg_category"] = "Browsers"
			env["verbose"] = uint64(1)

			res := r.mustSucceed(env)
			wantOutputs(t, res.out, true, true, processor.StatusUploaded)
			if stringOut(t, res.out, "pkg_sha3_512") != sum {
				t.Errorf("pkg_sha3_512 = %v", res.out["pkg_sha3_512"])
			}
			p := recordReady(t, r.sim, "Firefox.pkg", sum)
			if stringOut(t, res.out, "pkg_id") != p.ID || p.CategoryID == "-1" {
				t.Errorf("pkg_id %v, object %+v", res.out["pkg_id"], p)
			}
			if m.wants != "" && strings.Count(res.stderr, m.wants) != 1 {
				t.Errorf("want one %q warning:\n%s", m.wants, res.stderr)
			}

			// Identical rerun, at once: a new process, a new node.
			res = r.mustSucceed(env)
			wantOutputs(t, res.out, false, false, processor.StatusSkippedExists)
			recordReady(t, r.sim, "Firefox.pkg", sum)

			// Replace with changed bytes.
			newPath, newSum := makePkg(t, "Firefox.pkg", 700000)
			env["pkg_path"] = newPath
			env["replace_pkg"] = true
			res = r.mustSucceed(env)
			wantOutputs(t, res.out, true, true, processor.StatusUploaded)
			recordReady(t, r.sim, "Firefox.pkg", newSum)

			// Metadata only.
			delete(env, "replace_pkg")
			env["replace_pkg_metadata"] = true
			env["pkg_notes"] = "metadata only"
			res = r.mustSucceed(env)
			wantOutputs(t, res.out, false, true, processor.StatusSkippedExists)
			p = recordReady(t, r.sim, "Firefox.pkg", newSum)
			if p.Notes != "metadata only" || p.CategoryID == "-1" {
				t.Errorf("metadata not written: %+v", p)
			}
		})
	}
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

// TestSkipMetadataCreatesButNeverAmends: as the reference, a new package
// gets its object; an existing one is never amended, even when its file is
// replaced.
func TestSkipMetadataCreatesButNeverAmends(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{ClusterLag: fastLag})
	path, sum := makePkg(t, "NoAmend.pkg", 5000)
	env := r.baseEnv(path)
	env["skip_metadata_upload"] = true
	res := r.mustSucceed(env)
	wantOutputs(t, res.out, true, true, processor.StatusUploaded)
	p := recordReady(t, r.sim, "NoAmend.pkg", sum)
	writes := len(p.Writes)

	newPath, newSum := makePkg(t, "NoAmend.pkg", 6000)
	env["pkg_path"] = newPath
	env["replace_pkg"] = true
	env["pkg_notes"] = "must not be written"
	res = r.mustSucceed(env)
	wantOutputs(t, res.out, true, false, processor.StatusUploaded)
	p = recordReady(t, r.sim, "NoAmend.pkg", newSum)
	if p.Notes != "" {
		t.Errorf("skip_metadata_upload amended the object: notes %q", p.Notes)
	}
	for _, w := range p.Writes[writes:] {
		if strings.Contains(w, "update") {
			t.Errorf("skip_metadata_upload wrote metadata: %v", p.Writes)
		}
	}
}

// TestPackagesRecalculatedAfterUpload: the per-file refresh after an upload
// is reported as packages_recalculated True, without the recalculate input.
func TestPackagesRecalculatedAfterUpload(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, _ := makePkg(t, "Recalc.pkg", 5000)
	res := r.mustSucceed(r.baseEnv(path))
	data := res.out[processor.SummaryKey].(map[string]any)["data"].(map[string]any)
	if data["packages_recalculated"] != "True" {
		t.Errorf("packages_recalculated = %v, want True", data["packages_recalculated"])
	}
	if n := r.sim.CallCount("POST", "/api/v1/cloud-distribution-point/refresh-inventory"); n < 1 {
		t.Errorf("no per-file refresh")
	}
}

// TestRefreshFaults: a refresh answering 500 twice, or 429 with
// Retry-After, is waited out; on 11.13 (a full refresh only, at most once
// every 15 s) a replace right after an upload still ends whole.
func TestRefreshFaults(t *testing.T) {
	t.Parallel()
	t.Run("500 twice", func(t *testing.T) {
		r := newRig(t, fakeS3, jamfsim.Options{})
		r.sim.InjectFault(jamfsim.Fault{Method: "POST", Path: "/api/v1/cloud-distribution-point/refresh-inventory", Status: 500, Count: 2})
		path, sum := makePkg(t, "R500.pkg", 5000)
		res := r.mustSucceed(r.baseEnv(path))
		wantOutputs(t, res.out, true, true, processor.StatusUploaded)
		recordReady(t, r.sim, "R500.pkg", sum)
	})
	t.Run("429", func(t *testing.T) {
		r := newRig(t, fakeS3, jamfsim.Options{})
		r.sim.InjectFault(jamfsim.Fault{Method: "POST", Path: "/api/v1/cloud-distribution-point/refresh-inventory", Status: 429, Count: 2, RetryAfter: 1})
		path, sum := makePkg(t, "R429.pkg", 5000)
		res := r.mustSucceed(r.baseEnv(path))
		wantOutputs(t, res.out, true, true, processor.StatusUploaded)
		recordReady(t, r.sim, "R429.pkg", sum)
	})
	t.Run("full refresh rate limit on 11.13", func(t *testing.T) {
		// Two runs of pods taking turns, 16 s a turn, on the wall clock:
		// a minute. The turns themselves are processor's
		// TestVerifyEveryPodFullRefreshesTakeTurns, on the fake clock, and
		// TestRecalculateOn1111 runs the binary through them once.
		if os.Getenv("JCDS2_LONG") != "1" {
			t.Skip("a minute of full-refresh turns; JCDS2_LONG=1 (make test-long) runs it")
		}
		r := newRig(t, fakeS3, jamfsim.Options{JamfVersion: "11.13.1", ClusterLag: fastLag})
		path, _ := makePkg(t, "Full.pkg", 5000)
		env := r.baseEnv(path)
		// Pods take turns at the full refresh, 16 s each: the default
		// budget, not the rigs' 30 s.
		delete(env, "verify_timeout")
		r.mustSucceed(env)
		newPath, newSum := makePkg(t, "Full.pkg", 7000)
		env["pkg_path"] = newPath
		env["replace_pkg"] = true
		res := r.mustSucceed(env)
		wantOutputs(t, res.out, true, true, processor.StatusUploaded)
		recordReady(t, r.sim, "Full.pkg", newSum)
	})
}

// TestProcessingEndsInError: Jamf Pro's processing of a v1 upload fails:
// a clear error, no output claiming anything; the rerun uploads again and
// ends whole.
func TestProcessingEndsInError(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{ClusterLag: fastLag})
	r.sim.FailProcessing(1)
	path, sum := makePkg(t, "Broken.pkg", 5000)
	env := r.baseEnv(path)
	delete(env, "jcds2_mode")
	env["upload_mode"] = "v1"
	r.mustFail(env, "ended in ERROR")
	res := r.mustSucceed(env)
	wantOutputs(t, res.out, true, true, processor.StatusUploaded)
	recordReady(t, r.sim, "Broken.pkg", sum)
}

// TestProcessingSlowerThanVerifyTimeout: the run gives up waiting with an
// error that says the file may still arrive; a rerun converges without a
// duplicate, in both modes.
func TestProcessingSlowerThanVerifyTimeout(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"", "v1"} {
		t.Run("mode "+mode, func(t *testing.T) {
			r := newRig(t, fakeS3, jamfsim.Options{ProcessingDelay: 6 * time.Second, ClusterLag: fastLag})
			path, sum := makePkg(t, "Slow.pkg", 5000)
			env := r.baseEnv(path)
			delete(env, "jcds2_mode")
			if mode != "" {
				env["upload_mode"] = mode
			}
			env["verify_timeout"] = uint64(2)
			r.mustFail(env, "may still arrive")
			if mode == "" {
				// "Run again later": a JCDS upload still being processed
				// is not listed anywhere a rerun could see it, so the rerun
				// comes once the service has moved the file. (The v1 rerun
				// comes at once: the journal still says "send it again",
				// as the file was never seen READY.)
				deadline := time.Now().Add(30 * time.Second)
				for _, ok := r.sim.File("Slow.pkg"); !ok; _, ok = r.sim.File("Slow.pkg") {
					if time.Now().After(deadline) {
						t.Fatal("the slow upload never landed")
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
			env["verify_timeout"] = uint64(60)
			res := r.mustSucceed(env)
			if boolOut(t, res.out, "pkg_uploaded") && stringOut(t, res.out, "pkg_upload_status") != processor.StatusUploaded {
				t.Errorf("outputs disagree: %v", res.out)
			}
			// Only a refresh after processing makes the record whole: the
			// rerun refreshed and waited for it.
			recordReady(t, r.sim, "Slow.pkg", sum)
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

// TestV1CleanupKeepsAnEarlierFile: a v1 upload into a new object fails. The
// object is taken back only when no file of that name was in the
// distribution point before the run: deleting an object deletes its file.
func TestV1CleanupKeepsAnEarlierFile(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	earlier := []byte("an earlier upload without an object")
	r.sim.AddFile("Earlier.pkg", earlier)
	path, sum := makePkg(t, "Earlier.pkg", 5000)
	env := r.baseEnv(path)
	delete(env, "jcds2_mode")
	env["upload_mode"] = "v1"
	env["max_tries"] = "1"
	r.sim.InjectFault(jamfsim.Fault{Method: "POST", Path: "/api/v1/packages/*", Status: 500, Count: 1})
	r.mustFail(env, "was kept because the distribution point already held a file named Earlier.pkg")
	f, ok := r.sim.File("Earlier.pkg")
	if !ok || f.Size != int64(len(earlier)) {
		t.Fatalf("the earlier file was deleted or changed: %+v %v", f, ok)
	}
	if st := r.sim.State(); len(st.Packages) != 1 {
		t.Errorf("packages = %+v, want the kept object", st.Packages)
	}
	// The journal has the next run, without replace_pkg, send the file.
	r.sim.ClearFaults()
	if res := r.mustSucceed(env); !boolOut(t, res.out, "pkg_uploaded") {
		t.Errorf("the next run did not upload:\n%s", res.stderr)
	}
	converged(t, r.sim, "Earlier.pkg", sum)
}

// TestNamesMatchWithoutCase: a recipe that spells the display name or the
// category in another case finds the object and category Jamf Pro would;
// two objects whose names differ only in case stop the run, both named.
func TestNamesMatchWithoutCase(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	r.sim.AddCategory("Browsers")
	path, sum := makePkg(t, "Firefox.pkg", 5000)
	env := r.baseEnv(path)
	env["pkg_category"] = "Browsers"
	r.mustSucceed(env)
	recordReady(t, r.sim, "Firefox.pkg", sum)
	time.Sleep(fastLag + 500*time.Millisecond) // the next run may land on another node

	env["pkg_display_name"] = "FIREFOX.PKG"
	env["pkg_category"] = "browsers"
	env["replace_pkg_metadata"] = true
	res := r.mustSucceed(env)
	wantOutputs(t, res.out, false, true, processor.StatusSkippedExists)
	p := recordReady(t, r.sim, "Firefox.pkg", sum)
	if p.CategoryID == "-1" || p.Name != "FIREFOX.PKG" {
		t.Errorf("object %+v: want the existing object renamed, in category Browsers", p)
	}

	r.sim.AddPackage(jamfsim.Package{Name: "firefox.pkg", FileName: "Other.pkg"})
	res = r.mustFail(env, "two objects match without regard to case")
	if !strings.Contains(res.stderr, `"firefox.pkg"`) || !strings.Contains(res.stderr, `"FIREFOX.PKG"`) {
		t.Errorf("the error does not name both objects:\n%s", res.stderr)
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
