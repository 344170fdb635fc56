package processor

import (
	"context"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// rerun is one run of a recipe against a server that earlier runs of the
// same recipe left behind, read as AutoPkg reads it: through Run's
// outputs.
type rerun struct {
	name  string
	prep  func(r *flowRig, l *localPkg) // before the run: the server, the local file
	set   map[string]any                // inputs from this run on (nil deletes)
	err   string                        // the run fails saying this
	up    bool                          // pkg_uploaded
	meta  bool                          // pkg_metadata_updated
	state string                        // pkg_upload_status
	whole bool                          // ends with one whole record of the local file (flowRig.ready)
	// check asserts the rest; log is the run's log, or where the run
	// fails, the error's text.
	check func(t *testing.T, r *flowRig, l *localPkg, out plistio.Env, log string)
}

// runsRow is one server and the runs of one recipe against it.
type runsRow struct {
	name string
	opts jamfsim.Options
	file string                        // the local file's name (App.pkg)
	size int                           // its size (5000)
	prep func(r *flowRig, l *localPkg) // before the first run
	runs []rerun
}

// localPkg is the package file the recipe built, as it is now.
type localPkg struct {
	path, sum string
}

// newBuild gives the local file new bytes of size: the next build.
func newBuild(size int) func(r *flowRig, l *localPkg) {
	return func(r *flowRig, l *localPkg) { l.sum = rewrite(size)(r, l.path) }
}

// summaryData is the data of the summary result Run wrote.
func summaryData(t *testing.T, out plistio.Env) map[string]any {
	t.Helper()
	s, ok := out[SummaryKey].(map[string]any)
	if !ok {
		t.Fatalf("no summary result in %v", out)
	}
	return s["data"].(map[string]any)
}

// digestsCurrent checks what flowRig.ready does not: the record's other
// digests are the file's (none written back stale), and no metadata write
// carried the size (a blank size reads as Availability Pending).
func digestsCurrent(t *testing.T, r *flowRig, p jamfsim.Package) {
	t.Helper()
	f, _ := r.sim.File(p.FileName)
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
}

// recordWhole is the record-whole-after-every-run sequence for one
// upload mode on a default cluster (two pods, a minute of lag): a new
// package, an identical rerun at once (a new client, so the other pod,
// which has not seen the upload yet), a replace with changed bytes, and a
// metadata-only update. wants is a line the first run logs once.
func recordWhole(mode, wants string) []rerun {
	set := map[string]any{"pkg_category": "Browsers"}
	if mode != "" {
		set["upload_mode"] = mode
	}
	return []rerun{
		{name: "new package", prep: func(r *flowRig, _ *localPkg) { r.sim.AddCategory("Browsers") }, set: set, up: true, meta: true, state: StatusUploaded, whole: true,
			check: func(t *testing.T, r *flowRig, l *localPkg, out plistio.Env, log string) {
				if out["pkg_sha3_512"] != l.sum {
					t.Errorf("pkg_sha3_512 = %v", out["pkg_sha3_512"])
				}
				p := r.sim.State().Packages[0]
				if out["pkg_id"] != p.ID || p.CategoryID == "-1" {
					t.Errorf("pkg_id %v, object %+v", out["pkg_id"], p)
				}
				if wants != "" && strings.Count(log, wants) != 1 {
					t.Errorf("want one %q warning:\n%s", wants, log)
				}
				// The per-file refresh after an upload is the
				// recalculation, without the recalculate input.
				if d := summaryData(t, out); d["packages_recalculated"] != "True" {
					t.Errorf("packages_recalculated = %v, want True", d["packages_recalculated"])
				}
				if r.sim.CallCount("POST", "/api/v1/cloud-distribution-point/refresh-inventory") < 1 {
					t.Errorf("no per-file refresh")
				}
			}},
		{name: "identical rerun at once, on the other pod", state: StatusSkippedExists, whole: true},
		{name: "replace with changed bytes", prep: newBuild(7000), set: map[string]any{"replace_pkg": true},
			up: true, meta: true, state: StatusUploaded, whole: true},
		{name: "metadata only", set: map[string]any{"replace_pkg": nil, "replace_pkg_metadata": true, "pkg_notes": "metadata only"},
			meta: true, state: StatusSkippedExists, whole: true,
			check: func(t *testing.T, r *flowRig, _ *localPkg, _ plistio.Env, _ string) {
				if p := r.sim.State().Packages[0]; p.Notes != "metadata only" || p.CategoryID == "-1" {
					t.Errorf("metadata not written: %+v", p)
				}
			}},
	}
}

// TestRunsInARow: what each of a recipe's runs reports (pkg_uploaded,
// pkg_metadata_updated, pkg_upload_status, the summary) and leaves on the
// server, run after run against one simulated Jamf Pro, failed runs and
// their reruns included.
func TestRunsInARow(t *testing.T) {
	t.Parallel()
	refreshPath := "/api/v1/cloud-distribution-point/refresh-inventory"
	tests := []runsRow{
		{name: "record whole after every run, default mode", opts: jamfsim.Options{ClusterNodes: 2}, runs: recordWhole("", "")},
		{name: "record whole after every run, v1", opts: jamfsim.Options{ClusterNodes: 2}, runs: recordWhole("v1", "")},
		{name: "record whole after every run, JCDS endpoints gone", opts: jamfsim.Options{ClusterNodes: 2, JCDSRemoved: true},
			runs: recordWhole("", "the JCDS endpoints are gone")},

		{name: "metadata only: pkg_info and pkg_priority written, the file kept", runs: []rerun{
			{up: true, meta: true, state: StatusUploaded, whole: true},
			{set: map[string]any{"replace_pkg_metadata": "true", "pkg_info": "new info & <notes>", "pkg_priority": uint64(7)},
				meta: true, state: StatusSkippedExists, whole: true,
				check: func(t *testing.T, r *flowRig, l *localPkg, _ plistio.Env, _ string) {
					if p := r.sim.State().Packages[0]; p.Info != "new info & <notes>" || p.Priority != 7 || p.HashValue != l.sum {
						t.Errorf("package = %+v", p)
					}
				}},
		}},
		{name: "a summary left by an earlier step is not reported again", runs: []rerun{
			{up: true, meta: true, state: StatusUploaded},
			{set: map[string]any{SummaryKey: map[string]any{"summary_text": "old", "data": map[string]any{"x": "y"}}}, state: StatusSkippedExists},
		}},
		{name: "pkg_name renames the file, pkg_display_name names the object", file: "build-output.pkg", runs: []rerun{
			{set: map[string]any{"pkg_name": "Google Chrome (Universal) 1.0.pkg", "pkg_display_name": "Google Chrome"}, up: true, meta: true, state: StatusUploaded,
				check: func(t *testing.T, r *flowRig, l *localPkg, out plistio.Env, _ string) {
					if out["pkg_name"] != "Google Chrome (Universal) 1.0.pkg" || out["pkg_display_name"] != "Google Chrome" {
						t.Errorf("outputs %v %v", out["pkg_name"], out["pkg_display_name"])
					}
					p := r.ready("Google Chrome (Universal) 1.0.pkg", l.sum)
					if p.Name != "Google Chrome" {
						t.Errorf("package = %+v", p)
					}
				}},
			// The rerun looks the object up by its display name.
			{state: StatusSkippedExists},
		}},
		{name: "skip_metadata_upload creates the object but never amends it", runs: []rerun{
			{set: map[string]any{"skip_metadata_upload": true}, up: true, meta: true, state: StatusUploaded, whole: true},
			{prep: newBuild(6000), set: map[string]any{"replace_pkg": true, "pkg_notes": "must not be written"}, up: true, state: StatusUploaded, whole: true,
				check: func(t *testing.T, r *flowRig, _ *localPkg, _ plistio.Env, _ string) {
					p := r.sim.State().Packages[0]
					if p.Notes != "" {
						t.Errorf("skip_metadata_upload amended the object: notes %q", p.Notes)
					}
					for _, w := range p.Writes {
						if strings.Contains(w, "update") {
							t.Errorf("skip_metadata_upload wrote metadata: %v", p.Writes)
						}
					}
				}},
		}},
		{name: "before 11.11: SHA_512 metadata, no recalculation", opts: jamfsim.Options{JamfVersion: "11.10.0"}, runs: []rerun{
			{set: map[string]any{"recalculate": "yes"}, up: true, meta: true, state: StatusUploaded,
				check: func(t *testing.T, r *flowRig, l *localPkg, out plistio.Env, log string) {
					if d := summaryData(t, out); d["packages_recalculated"] != "False" || !strings.Contains(log, "recalculate needs Jamf Pro 11.11") {
						t.Errorf("packages_recalculated = %v\n%s", d["packages_recalculated"], log)
					}
					if p := r.sim.State().Packages[0]; p.HashType != "SHA_512" || len(p.HashValue) != 128 || p.HashValue == l.sum {
						t.Errorf("11.10 must get SHA_512 metadata: %s %s", p.HashType, p.HashValue)
					}
				}},
		}},
		// 11.11 has only the full refresh, at most once every 15 s a pod:
		// the pods take turns, within the default verify budget.
		{name: "recalculate on 11.11", opts: jamfsim.Options{JamfVersion: "11.11.0", ClusterNodes: 2}, runs: []rerun{
			{set: map[string]any{"recalculate": "yes"}, up: true, meta: true, state: StatusUploaded, whole: true,
				check: func(t *testing.T, r *flowRig, _ *localPkg, out plistio.Env, _ string) {
					if d := summaryData(t, out); d["packages_recalculated"] != "True" {
						t.Errorf("packages_recalculated = %v", d["packages_recalculated"])
					}
					if r.sim.State().Counts.Refreshes < 1 {
						t.Errorf("no inventory refresh")
					}
				}},
		}},
		// A replace right after an upload on 11.13 (the full refresh
		// only, at most once every 15 s a pod) still ends whole.
		{name: "replace right after an upload on 11.13", opts: jamfsim.Options{JamfVersion: "11.13.1", ClusterNodes: 2}, runs: []rerun{
			{up: true, meta: true, state: StatusUploaded, whole: true},
			{prep: newBuild(7000), set: map[string]any{"replace_pkg": true}, up: true, meta: true, state: StatusUploaded, whole: true},
		}},
		{name: "refresh answering 500 twice is waited out", prep: func(r *flowRig, _ *localPkg) {
			r.sim.InjectFault(jamfsim.Fault{Method: "POST", Path: refreshPath, Status: 500, Count: 2})
		}, runs: []rerun{{up: true, meta: true, state: StatusUploaded, whole: true}}},
		{name: "refresh answering 429 with Retry-After is waited out", prep: func(r *flowRig, _ *localPkg) {
			r.sim.InjectFault(jamfsim.Fault{Method: "POST", Path: refreshPath, Status: 429, Count: 2, RetryAfter: 1})
		}, runs: []rerun{{up: true, meta: true, state: StatusUploaded, whole: true}}},
		{name: "processing ends in ERROR: a clear error, the rerun uploads again", opts: jamfsim.Options{ClusterNodes: 2},
			prep: func(r *flowRig, _ *localPkg) { r.sim.FailProcessing(1) }, runs: []rerun{
				{set: map[string]any{"upload_mode": "v1"}, err: "ended in ERROR"},
				{up: true, meta: true, state: StatusUploaded, whole: true},
			}},
		{name: "processing slower than verify_timeout, default mode: the rerun converges", opts: jamfsim.Options{ClusterNodes: 2, ProcessingDelay: 6 * time.Second}, runs: []rerun{
			{set: map[string]any{"verify_timeout": uint64(2)}, err: "may still arrive"},
			// "Run again later": a JCDS upload still being processed is
			// listed nowhere a rerun could see it, so the rerun comes once
			// the service has moved the file.
			{prep: untilListed, set: map[string]any{"verify_timeout": uint64(60)}, whole: true, check: outputsAgree},
		}},
		slowUploadRow("then the same file: verified without sending it again", nil,
			rerun{prep: func(r *flowRig, _ *localPkg) { r.sim.ResetCalls() }, state: StatusHashMatch, whole: true, check: sendsNothing}),
		slowUploadRow("then the same file with replace_pkg: verified without sending it again", map[string]any{"replace_pkg": true},
			rerun{prep: func(r *flowRig, _ *localPkg) { r.sim.ResetCalls() }, state: StatusHashMatch, whole: true, check: sendsNothing}),
		slowUploadRow("then a new build with replace_pkg: the new build is sent", map[string]any{"replace_pkg": true},
			rerun{prep: newBuild(5001), up: true, meta: true, state: StatusUploaded, whole: true}),
		{name: "v1 upload into a new object fails: the object is taken back", file: "V1Fail.pkg",
			prep: func(r *flowRig, _ *localPkg) {
				r.sim.InjectFault(jamfsim.Fault{Method: "POST", Path: "/api/v1/packages/*", Status: 500, Count: 2})
			}, runs: []rerun{
				{set: map[string]any{"upload_mode": "v1", "max_tries": "2"}, err: "upload V1Fail.pkg through the Jamf Pro API",
					check: func(t *testing.T, r *flowRig, _ *localPkg, _ plistio.Env, _ string) {
						if st := r.sim.State(); len(st.Packages) != 0 {
							t.Fatalf("failed v1 upload left package objects: %+v", st.Packages)
						}
					}},
				{up: true, meta: true, state: StatusUploaded, whole: true},
			}},
		{name: "v1 upload fails where a file of that name was: the object is kept, the next run sends the file", file: "Earlier.pkg",
			prep: func(r *flowRig, _ *localPkg) {
				r.sim.AddFile("Earlier.pkg", []byte("an earlier upload without an object"))
				r.sim.InjectFault(jamfsim.Fault{Method: "POST", Path: "/api/v1/packages/*", Status: 500, Count: 1})
			}, runs: []rerun{
				{set: map[string]any{"upload_mode": "v1", "max_tries": "1"}, err: "was kept because the distribution point already held a file named Earlier.pkg",
					check: func(t *testing.T, r *flowRig, _ *localPkg, _ plistio.Env, _ string) {
						if f, ok := r.sim.File("Earlier.pkg"); !ok || f.Size != int64(len("an earlier upload without an object")) {
							t.Fatalf("the earlier file was deleted or changed: %+v %v", f, ok)
						}
						if st := r.sim.State(); len(st.Packages) != 1 {
							t.Errorf("packages = %+v, want the kept object", st.Packages)
						}
					}},
				// The journal has the next run, without replace_pkg, send
				// the file.
				{up: true, meta: true, state: StatusUploaded, whole: true},
			}},
		{name: "names match without regard to case", file: "Firefox.pkg",
			prep: func(r *flowRig, _ *localPkg) { r.sim.AddCategory("Browsers") }, runs: []rerun{
				{set: map[string]any{"pkg_category": "Browsers"}, up: true, meta: true, state: StatusUploaded, whole: true},
				{set: map[string]any{"pkg_display_name": "FIREFOX.PKG", "pkg_category": "browsers", "replace_pkg_metadata": true},
					meta: true, state: StatusSkippedExists, whole: true,
					check: func(t *testing.T, r *flowRig, _ *localPkg, _ plistio.Env, _ string) {
						if p := r.sim.State().Packages[0]; p.CategoryID == "-1" || p.Name != "FIREFOX.PKG" {
							t.Errorf("object %+v: want the existing object renamed, in category Browsers", p)
						}
					}},
				{prep: func(r *flowRig, _ *localPkg) {
					r.sim.AddPackage(jamfsim.Package{Name: "firefox.pkg", FileName: "Other.pkg"})
				},
					err: "two objects match without regard to case",
					check: func(t *testing.T, _ *flowRig, _ *localPkg, _ plistio.Env, err string) {
						if !strings.Contains(err, `"firefox.pkg"`) || !strings.Contains(err, `"FIREFOX.PKG"`) {
							t.Errorf("the error does not name both objects: %s", err)
						}
					}},
			}},
		{name: "a JCDS listing without MD5: hash match and replace through SHA3-512", opts: jamfsim.Options{ListWithoutMD5: true}, size: 300000, runs: []rerun{
			{up: true, meta: true, state: StatusUploaded, whole: true,
				check: func(t *testing.T, r *flowRig, l *localPkg, out plistio.Env, _ string) {
					if out["pkg_sha3_512"] != l.sum {
						t.Errorf("pkg_sha3_512 %v, want %s", out["pkg_sha3_512"], l.sum)
					}
				}},
			{set: map[string]any{"replace_pkg": true}, meta: true, state: StatusHashMatch, whole: true},
			{prep: newBuild(300000), up: true, meta: true, state: StatusUploaded, whole: true},
		}},
		{name: "Jamf Pro 11.4: the Classic API, MD5 metadata", opts: jamfsim.Options{JamfVersion: "11.4.0"}, file: "Classic & Co.pkg",
			prep: func(r *flowRig, _ *localPkg) { r.sim.AddCategory("Utilities") }, runs: []rerun{
				{set: map[string]any{"pkg_category": "Utilities", "md5": true}, up: true, meta: true, state: StatusUploaded,
					check: func(t *testing.T, r *flowRig, _ *localPkg, _ plistio.Env, _ string) {
						p := r.sim.State().Packages[0]
						if p.HashType != "MD5" || len(p.HashValue) != 32 {
							t.Errorf("md5 metadata = %s %s", p.HashType, p.HashValue)
						}
						if len(p.Writes) == 0 || !strings.HasPrefix(p.Writes[0], "classic") {
							t.Errorf("11.4 must use the Classic API: %v", p.Writes)
						}
					}},
				// The Classic lookup finds the object.
				{state: StatusSkippedExists, check: func(t *testing.T, r *flowRig, _ *localPkg, _ plistio.Env, _ string) {
					if n := r.sim.CallCount("", "/api/v1/packages*"); n != 0 {
						t.Errorf("called v1 packages %d times on 11.4", n)
					}
				}},
			}},
		// Below 11.5 a replace goes through the JCDS, and the service
		// briefly lists the new file with the old length: the run waits
		// for the true one instead of failing or writing metadata early.
		{name: "Jamf Pro 11.4: a stale listing after a replace is waited out", opts: jamfsim.Options{JamfVersion: "11.4.0", StaleListings: 2}, size: 100000, runs: []rerun{
			{up: true, meta: true, state: StatusUploaded},
			{prep: newBuild(150000), set: map[string]any{"replace_pkg": true}, up: true, meta: true, state: StatusUploaded,
				check: func(t *testing.T, r *flowRig, l *localPkg, _ plistio.Env, log string) {
					if !strings.Contains(log, "listed with 100000 bytes, expected 150000") {
						t.Errorf("the stale listing was not seen and waited out:\n%s", log)
					}
					b, _ := os.ReadFile(l.path)
					s512 := sha512.Sum512(b)
					if p := r.sim.State().Packages[0]; p.HashValue != hex.EncodeToString(s512[:]) {
						t.Errorf("metadata hash %s, want the new file's SHA-512", p.HashValue)
					}
				}},
		}},
		{name: "a bundle package is uploaded as a zip, and the zip reused", file: "Legacy.pkg", prep: bundlePkg, runs: []rerun{
			{up: true, meta: true, state: StatusUploaded, check: func(t *testing.T, r *flowRig, _ *localPkg, out plistio.Env, _ string) {
				zipPath := filepath.Join(out["RECIPE_CACHE_DIR"].(string), "Legacy.pkg.zip")
				if out["pkg_name"] != "Legacy.pkg.zip" || out["pkg_path"] != zipPath {
					t.Errorf("pkg_name %v, pkg_path %v; want Legacy.pkg.zip, %s", out["pkg_name"], out["pkg_path"], zipPath)
				}
				b, _ := os.ReadFile(zipPath)
				sum := sha3.Sum512(b)
				r.ready("Legacy.pkg.zip", hex.EncodeToString(sum[:]))
			}},
			// pkg_name already ending in .zip is not doubled, and the zip
			// is reused: the same bytes.
			{set: map[string]any{"pkg_name": "Legacy.pkg.zip", "replace_pkg": true}, check: func(t *testing.T, _ *flowRig, _ *localPkg, out plistio.Env, _ string) {
				if out["pkg_name"] != "Legacy.pkg.zip" || out["pkg_upload_status"] != StatusHashMatch {
					t.Errorf("pkg_name %v (.zip.zip?), status %v (the zip not reused?)", out["pkg_name"], out["pkg_upload_status"])
				}
			}},
		}},
		{name: "leftover share settings do not stop a run", runs: []rerun{{set: map[string]any{
			"SMB_URL": "", "SMB_SHARES": []any{}, "CLOUD_DP": "False", "aws_cdp_mode": "False", "JAMF_CLI_PROFILE": "",
			"PLATFORM_API_REGION": "", "PLATFORM_API_TENANT_ID": "", "S3_BUCKET_NAME": "x", "SMB_USERNAME": "u"},
			up: true, meta: true, state: StatusUploaded, whole: true}}},
		{name: "CLOUD_DP alone does not stop a run", runs: []rerun{{set: map[string]any{"CLOUD_DP": true},
			up: true, meta: true, state: StatusUploaded, whole: true}}},
		{name: "shares another step keeps updated do not stop a run", runs: []rerun{{set: map[string]any{
			"SMB_URL": "smb://fs/CasperShare", "CLOUD_DP": true, FileSharesElsewhere: true},
			up: true, meta: true, state: StatusUploaded, whole: true}}},
	}
	// Names that broke URLs and shells elsewhere upload under exactly that
	// name, the rerun finds them, and a changed file replaces them.
	for _, name := range []string{"My App 1.0.pkg", "Café Ünïcødé 日本語.pkg", "Tom & Jerry.pkg", "C# Tools #2.pkg",
		"100% Pure %20 Juice.pkg", "What?.pkg", "Chrome (Universal).pkg", "Wow!.pkg", "A&B #1 50% (x)? !+'=;.pkg"} {
		tests = append(tests, runsRow{name: "odd name " + name, file: name, size: 3000, runs: []rerun{
			{up: true, meta: true, state: StatusUploaded, whole: true, check: func(t *testing.T, _ *flowRig, _ *localPkg, out plistio.Env, _ string) {
				if out["pkg_name"] != name {
					t.Errorf("pkg_name = %q", out["pkg_name"])
				}
			}},
			{state: StatusSkippedExists},
			{prep: newBuild(3001), set: map[string]any{"replace_pkg": true}, up: true, meta: true, state: StatusUploaded, whole: true},
		}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := newFlowRig(t, tt.opts)
				file, size := tt.file, tt.size
				if file == "" {
					file = "App.pkg"
				}
				if size == 0 {
					size = 5000
				}
				l := &localPkg{}
				l.path, l.sum = writePkg(t, t.TempDir(), file, size)
				if tt.prep != nil {
					tt.prep(r, l)
				}
				env := r.env(l.path)
				for i, run := range tt.runs {
					if run.prep != nil {
						run.prep(r, l)
					}
					for k, v := range run.set {
						if v == nil {
							delete(env, k)
						} else {
							env[k] = v
						}
					}
					out := cloneEnv(env)
					var log syncBuffer
					err := Run(context.Background(), out, r.options(&log))
					if run.err != "" {
						if err == nil || !strings.Contains(err.Error(), run.err) {
							t.Fatalf("run %d (%s): err = %v, want %q\nlog:\n%s", i+1, run.name, err, run.err, log.String())
						}
						if _, ok := out["pkg_uploaded"]; ok {
							t.Errorf("run %d (%s): a failed run wrote outputs: %v", i+1, run.name, out)
						}
						if run.check != nil {
							run.check(t, r, l, out, err.Error())
						}
						continue
					}
					if err != nil {
						t.Fatalf("run %d (%s): %v\nlog:\n%s", i+1, run.name, err, log.String())
					}
					if run.state != "" {
						if out["pkg_uploaded"] != run.up || out["pkg_metadata_updated"] != run.meta || out["pkg_upload_status"] != run.state {
							t.Errorf("run %d (%s): uploaded %v, metadata %v, status %v; want %v, %v, %s", i+1, run.name,
								out["pkg_uploaded"], out["pkg_metadata_updated"], out["pkg_upload_status"], run.up, run.meta, run.state)
						}
						if _, summary := out[SummaryKey]; summary != (run.up || run.meta) {
							t.Errorf("run %d (%s): summary present %v, want %v", i+1, run.name, summary, run.up || run.meta)
						}
					}
					if run.whole {
						digestsCurrent(t, r, r.ready(file, l.sum))
					}
					if run.check != nil {
						run.check(t, r, l, out, log.String())
					}
				}
			})
		})
	}
}

// bundlePkg makes the local package a bundle (a folder with Contents/):
// the run uploads it zipped.
func bundlePkg(r *flowRig, l *localPkg) {
	if err := os.Remove(l.path); err != nil {
		r.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(l.path, "Contents", "Resources"), 0o755); err != nil {
		r.t.Fatal(err)
	}
	for name, size := range map[string]int{"Info.plist": 8, filepath.Join("Resources", "payload"): 10000} {
		if err := os.WriteFile(filepath.Join(l.path, "Contents", name), make([]byte, size), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	l.sum = ""
}

// untilListed waits until the distribution point lists the local file:
// the service has moved an upload it was still processing.
func untilListed(r *flowRig, l *localPkg) {
	name := filepath.Base(l.path)
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(time.Second) {
		if f, ok := r.sim.File(name); ok && f.SHA3 == l.sum {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatal("the slow upload never landed")
		}
	}
}

// slowUploadRow: a v1 upload whose processing (five minutes) outlasts
// verify_timeout, though every pod shows the object. The run fails saying
// the file may still arrive, and the journal notes that only verification
// remains; then the run last, with set among its inputs.
func slowUploadRow(name string, set map[string]any, last rerun) runsRow {
	last.set = map[string]any{"verify_timeout": uint64(600)}
	for k, v := range set {
		last.set[k] = v
	}
	return runsRow{name: "processing slower than verify_timeout, v1, " + name, opts: jamfsim.Options{ClusterNodes: 2, ProcessingDelay: 5 * time.Minute}, runs: []rerun{
		// The budget outlasts the cluster's minute of lag.
		{set: map[string]any{"upload_mode": "v1", "verify_timeout": uint64(120)},
			err: "and the file may still arrive; the next run verifies it without sending it again (journal)"},
		last,
	}}
}

// sendsNothing: the run sent no byte: no {id}/upload, no JCDS upload.
func sendsNothing(t *testing.T, r *flowRig, _ *localPkg, _ plistio.Env, log string) {
	t.Helper()
	if n := r.sim.CallCount("POST", "/api/v1/packages/*"); n != 0 {
		t.Errorf("%d sends through {id}/upload, want none\nlog:\n%s", n, log)
	}
	if n := r.sim.CallCount("POST", "/api/v1/jcds/files"); n != 0 {
		t.Errorf("%d JCDS uploads started, want none\nlog:\n%s", n, log)
	}
}

// outputsAgree: a run that says it uploaded says so in its status too.
func outputsAgree(t *testing.T, _ *flowRig, _ *localPkg, out plistio.Env, _ string) {
	t.Helper()
	if out["pkg_uploaded"] == true && out["pkg_upload_status"] != StatusUploaded {
		t.Errorf("outputs disagree: %v", out)
	}
}
