package e2e

// End-to-end fault tests: the real binary against the simulator (and MinIO
// for the S3 faults). Every fault ends either uploaded-and-verified or with
// a ProcessorError that says what happened, and a rerun after the fault
// clears converges with no duplicate JCDS file and no package object
// pointing at a missing file.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/miniotest"
	"github.com/jcds2-uploader/jcds2-uploader/processor"
)

// newMinioRig is newRig(t, minio, opts) that also hands back the MinIO
// server, so a test can look inside the bucket (multipart uploads left
// behind) with the root credentials.
func newMinioRig(t *testing.T, opts jamfsim.Options) (*rig, *miniotest.Server) {
	t.Helper()
	m := miniotest.Start(t)
	opts.S3 = &jamfsim.S3Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey}
	if opts.ProcessInterval == 0 {
		opts.ProcessInterval = 50 * time.Millisecond
	}
	if opts.ClusterLag == 0 {
		opts.ClusterLag = fastLag // see newRig
	}
	rigPace(&opts)
	sim := jamfsim.Start(t, opts)
	return &rig{t: t, sim: sim, home: t.TempDir()}, m
}

// freshHome gives the next run an empty token cache, so it asks for a token.
func freshHome(r *rig) { r.home = r.t.TempDir() }

// callsWith counts Jamf calls matching method (""=any), path (trailing *
// = prefix) and status (0 = any).
func callsWith(calls []jamfsim.Call, method, path string, status int) int {
	n := 0
	for _, c := range calls {
		if method != "" && c.Method != method {
			continue
		}
		if p, ok := strings.CutSuffix(path, "*"); ok {
			if !strings.HasPrefix(c.Path, p) {
				continue
			}
		} else if c.Path != path {
			continue
		}
		if status != 0 && c.Status != status {
			continue
		}
		n++
	}
	return n
}

// s3Parts counts S3 UploadPart calls with that status (0 = any).
func s3Parts(calls []jamfsim.Call, status int) int {
	n := 0
	for _, c := range calls {
		if c.Method == "PUT" && strings.Contains(c.Query, "partNumber=") && (status == 0 || c.Status == status) {
			n++
		}
	}
	return n
}

func noPanic(t *testing.T, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
		t.Fatalf("the binary panicked:\n%s", stderr)
	}
}

// converged checks the state a user expects after the final successful run:
// exactly one JCDS file of that name holding sum, one package object
// pointing at it, and the global invariants.
func converged(t *testing.T, sim *jamfsim.Server, name, sum string) {
	t.Helper()
	checkConsistent(t, sim)
	st := sim.State()
	if len(st.Files) != 1 || st.Files[0].Name != name || st.Files[0].SHA3 != sum {
		t.Errorf("JCDS files = %+v, want only %s with the local SHA3-512", st.Files, name)
	}
	if len(st.Packages) != 1 || st.Packages[0].FileName != name || !hashIs(st.Packages[0].HashValue, sum) {
		t.Errorf("package objects = %+v, want one for %s with the local hash", st.Packages, name)
	}
}

// faultCase is one endpoint of the upload flow.
type faultCase struct {
	name    string
	fault   jamfsim.Fault // Status/Count set per sub-test
	replace bool          // run a first upload, then replace with a changed file
	size    int           // package size (S3 faults need parts)
	// failWant are substrings of the ProcessorError when the endpoint keeps
	// failing; nil means a failing endpoint is not fatal (the run still
	// verifies the upload) and warnWant must be logged instead.
	failWant []string
	warnWant string
	backend  backend
	// version of Jamf Pro, "" for the simulator's default. The stale-file
	// delete happens only below 11.5: newer servers replace the file of an
	// existing object in place.
	version string
}

func flowEndpoints(bucket string) []faultCase {
	return []faultCase{
		{name: "token", fault: jamfsim.Fault{Method: "POST", Path: "/api/v1/auth/token"}, failWant: []string{"authenticate", "503"}},
		{name: "version", fault: jamfsim.Fault{Method: "GET", Path: "/api/v1/jamf-pro-version"}, failWant: []string{"version", "503"}},
		{name: "package lookup", fault: jamfsim.Fault{Method: "GET", Path: "/api/v1/packages"}, failWant: []string{"find package", "503"}},
		{name: "JCDS list", fault: jamfsim.Fault{Method: "GET", Path: "/api/v1/jcds/files"}, failWant: []string{"list JCDS files", "503"}},
		{name: "initiate", fault: jamfsim.Fault{Method: "POST", Path: "/api/v1/jcds/files"}, failWant: []string{"start JCDS upload", "503"}},
		{name: "S3 part", fault: jamfsim.Fault{Method: "PUT", Path: "/" + bucket + "/tmp/*", S3: true}, size: 9 << 20, backend: minio, failWant: []string{"upload", "503"}},
		{name: "delete", fault: jamfsim.Fault{Method: "DELETE", Path: "/api/v1/jcds/files/*"}, replace: true, version: "11.4.0", failWant: []string{"could not delete the stale JCDS file", "the new upload was abandoned and nothing was changed", "503"}},
		// Only a refresh fills the size a metadata write blanks: a refresh
		// that keeps failing ends the run (the rerun refreshes and finishes).
		{name: "refresh", fault: jamfsim.Fault{Method: "POST", Path: "/api/v1/cloud-distribution-point/refresh-inventory"}, failWant: []string{"inventory refresh failed", "Availability Pending", "503"}},
		{name: "metadata create", fault: jamfsim.Fault{Method: "POST", Path: "/api/v1/packages"}, failWant: []string{"write package metadata", "run again", "503"}},
		{name: "metadata update", fault: jamfsim.Fault{Method: "PUT", Path: "/api/v1/packages/*"}, replace: true, failWant: []string{"write package metadata", "run again", "503"}},
	}
}

// TestFault5xxEachEndpoint: a short burst of 503s on any endpoint the flow
// uses is retried away; an endpoint that keeps failing ends the run with an
// error naming the step and status, and the rerun converges.
func TestFault5xxEachEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range flowEndpoints("jcds-sim") {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, persistent := range []bool{false, true} {
				t.Run(map[bool]string{false: "burst", true: "persistent"}[persistent], func(t *testing.T) {
					b := tc.backend
					if b == "" {
						b = fakeS3
					}
					r := newRig(t, b, jamfsim.Options{JamfVersion: tc.version})
					size := tc.size
					if size == 0 {
						size = 64 << 10
					}
					name := "Fault App.pkg"
					path, sum := makePkg(t, name, size)
					env := r.baseEnv(path)
					if tc.replace {
						r.mustSucceed(env)
						path, sum = makePkg(t, name, size+1)
						env["pkg_path"] = path
						env["replace_pkg"] = true
					}
					freshHome(r)
					r.sim.ResetCalls()

					f := tc.fault
					f.Status = 503
					f.Count = 2
					if persistent {
						f.Count = -1
						env["max_tries"] = uint64(2)
						if tc.name == "refresh" {
							// Refreshes that fail are waited out until
							// verify_timeout: keep it short.
							env["verify_timeout"] = uint64(3)
						}
					}
					r.sim.InjectFault(f)
					res := r.run(env)
					noPanic(t, res.stderr)
					st := r.sim.State()
					calls := st.Calls
					if f.S3 {
						calls = st.S3Calls
					}
					failed := callsWith(calls, f.Method, f.Path, 503)
					if f.S3 {
						failed = s3Parts(calls, 503)
					}
					if failed < 2 {
						t.Errorf("the fault hit %d calls, want at least 2 (did the flow reach %s?)", failed, tc.name)
					}

					switch {
					case !persistent || tc.failWant == nil:
						if res.code != 0 {
							t.Fatalf("exit %d after a fault the client should ride out:\n%s", res.code, res.stderr)
						}
						if !boolOut(t, res.out, "pkg_uploaded") || stringOut(t, res.out, "pkg_upload_status") != processor.StatusUploaded {
							t.Errorf("outputs: uploaded=%v status=%v", res.out["pkg_uploaded"], res.out["pkg_upload_status"])
						}
						if tc.warnWant != "" && persistent && !strings.Contains(res.stderr, tc.warnWant) {
							t.Errorf("no warning %q:\n%s", tc.warnWant, res.stderr)
						}
						if !persistent {
							ok := callsWith(calls, f.Method, f.Path, 0) - failed
							if f.S3 {
								ok = s3Parts(calls, 0) - failed
							}
							if ok < 1 {
								t.Errorf("%s never succeeded after the burst", tc.name)
							}
						}
					default:
						if res.code != 10 || !strings.Contains(res.stderr, "ProcessorError: ") {
							t.Fatalf("exit %d, want 10 with a ProcessorError:\n%s", res.code, res.stderr)
						}
						msg := res.stderr[strings.Index(res.stderr, "ProcessorError: "):]
						t.Logf("error: %s", msg)
						for _, w := range tc.failWant {
							if !strings.Contains(msg, w) {
								t.Errorf("error does not say %q:\n%s", w, msg)
							}
						}
						if len(res.stdout) != 0 {
							t.Errorf("failed run wrote standard output")
						}
						checkConsistent(t, r.sim)
						if tc.name == "delete" {
							// The new bytes were sent but never committed: the
							// old file and its object are as they were.
							if len(st.Files) != 1 || st.Files[0].Name != name || len(st.Packages) != 1 || !hashIs(st.Packages[0].HashValue, st.Files[0].SHA3) {
								t.Errorf("after the failed delete: files %+v, packages %+v", st.Files, st.Packages)
							}
						}
						r.sim.ClearFaults()
						res = r.mustSucceed(env)
					}
					converged(t, r.sim, name, sum)
				})
			}
		})
	}
}

// TestFault429RetryAfter: a 429 with Retry-After is waited out for the
// time the server asked, not the client's own (shorter) backoff. The
// timing comes from a recording proxy in front of the simulator.
func TestFault429RetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/v1/packages"},
		{"POST", "/api/v1/jcds/files"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fakeS3, jamfsim.Options{})
			rec := startRecorder(t, r.sim.URL())
			path, sum := makePkg(t, "Throttled.pkg", 32<<10)
			env := r.baseEnv(path)
			env["JSS_URL"] = rec.URL()
			// The client's own first backoff with sleep=1 is at most 1 s;
			// Retry-After 2 must win.
			env["sleep"] = "1"
			r.sim.InjectFault(jamfsim.Fault{Method: tc.method, Path: tc.path, Status: 429, RetryAfter: 2, Count: 1})
			r.mustSucceed(env)
			times := rec.times(tc.method, tc.path)
			if len(times) != 2 {
				t.Fatalf("%s %s sent %d times, want 2 (429, then the retry)", tc.method, tc.path, len(times))
			}
			if gap := times[1].Sub(times[0]); gap < 2*time.Second {
				t.Errorf("retried after %v, want at least the 2 s of Retry-After", gap)
			}
			if n := callsWith(r.sim.State().Calls, tc.method, tc.path, 429); n != 1 {
				t.Errorf("429s served = %d", n)
			}
			converged(t, r.sim, "Throttled.pkg", sum)
		})
	}
}

// TestFaultDroppedConnections: connections closed without an answer (twice,
// since Go resends an idempotent request once by itself) on Jamf GETs and
// POSTs and on S3 parts.
func TestFaultDroppedConnections(t *testing.T) {
	t.Parallel()
	for _, tc := range []jamfsim.Fault{
		{Method: "GET", Path: "/api/v1/jamf-pro-version"},
		{Method: "GET", Path: "/api/v1/jcds/files"},
		{Method: "POST", Path: "/api/v1/jcds/files"},
		{Method: "POST", Path: "/api/v1/packages"},
		{Method: "PUT", Path: "/jcds-sim/tmp/*", S3: true},
	} {
		t.Run(tc.Method+" "+tc.Path, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fakeS3, jamfsim.Options{})
			size := 64 << 10
			if tc.S3 {
				size = 9 << 20
			}
			path, sum := makePkg(t, "Dropped.pkg", size)
			env := r.baseEnv(path)
			f := tc
			f.Drop, f.Count = true, 2
			r.sim.InjectFault(f)
			res := r.mustSucceed(env)
			noPanic(t, res.stderr)
			if !boolOut(t, res.out, "pkg_uploaded") {
				t.Errorf("not uploaded")
			}
			converged(t, r.sim, "Dropped.pkg", sum)
		})
	}
}

// TestFaultSlowResponses: slow answers (latency on the Jamf API and on S3
// parts) are waited for; nothing times out early.
func TestFaultSlowResponses(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, sum := makePkg(t, "Slow.pkg", 9<<20)
	env := r.baseEnv(path)
	for _, f := range []jamfsim.Fault{
		{Method: "GET", Path: "/api/v1/jamf-pro-version", Latency: 1500 * time.Millisecond},
		{Method: "GET", Path: "/api/v1/jcds/files", Latency: 1500 * time.Millisecond},
		{Method: "PUT", Path: "/jcds-sim/tmp/*", S3: true, Latency: 1500 * time.Millisecond},
		{Method: "POST", Path: "/api/v1/packages", Latency: 1500 * time.Millisecond},
	} {
		r.sim.InjectFault(f)
	}
	start := time.Now()
	r.mustSucceed(env)
	if el := time.Since(start); el < 4*1500*time.Millisecond {
		t.Errorf("run took %v: were the slow endpoints reached?", el)
	}
	st := r.sim.State()
	if n := callsWith(st.Calls, "GET", "/api/v1/jamf-pro-version", 0); n != 1 {
		t.Errorf("version asked %d times: a slow answer was abandoned and retried", n)
	}
	converged(t, r.sim, "Slow.pkg", sum)
}

// TestFaultTokenExpiresMidRun: the bearer token dies at chosen steps (the
// initiate call, the first S3 part) or expires by TTL during a slow upload;
// the run renews it and finishes.
func TestFaultTokenExpiresMidRun(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		opts  jamfsim.Options
		fault jamfsim.Fault
	}{
		{"at initiate", jamfsim.Options{}, jamfsim.Fault{Method: "POST", Path: "/api/v1/jcds/files", ExpireTokens: true}},
		{"at first S3 part", jamfsim.Options{}, jamfsim.Fault{Method: "PUT", Path: "/jcds-sim/tmp/*", S3: true, ExpireTokens: true}},
		{"at metadata write", jamfsim.Options{}, jamfsim.Fault{Method: "POST", Path: "/api/v1/packages", ExpireTokens: true}},
		{"short TTL, slow upload", jamfsim.Options{TokenTTL: 2 * time.Second}, jamfsim.Fault{Method: "PUT", Path: "/jcds-sim/tmp/*", S3: true, Latency: 2500 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fakeS3, tc.opts)
			path, sum := makePkg(t, "Token.pkg", 9<<20)
			env := r.baseEnv(path)
			r.sim.InjectFault(tc.fault)
			res := r.mustSucceed(env)
			if !boolOut(t, res.out, "pkg_uploaded") || !boolOut(t, res.out, "pkg_metadata_updated") {
				t.Errorf("outputs %v %v", res.out["pkg_uploaded"], res.out["pkg_metadata_updated"])
			}
			st := r.sim.State()
			if got := st.Counts.TokenRequests + st.Counts.KeepAlives; got < 2 {
				t.Errorf("token requests + keep-alives = %d, want a renewal after expiry", got)
			}
			converged(t, r.sim, "Token.pkg", sum)
		})
	}
}

// TestFaultCredentialsExpireMidUpload: the temporary AWS credentials run out
// during the upload, both by their short lifetime (MinIO: real STS keys)
// and by being revoked at the first part; renewals go through
// renew-credentials and the upload completes.
func TestFaultCredentialsExpireMidUpload(t *testing.T) {
	t.Parallel()
	t.Run("short TTL, MinIO", func(t *testing.T) {
		t.Parallel()
		r, _ := newMinioRig(t, jamfsim.Options{CredentialsTTL: 2 * time.Second})
		path, sum := makePkg(t, "Creds.pkg", 40<<20)
		env := r.baseEnv(path)
		// Two parts at a time, so the upload outlives the 2 s keys.
		env["upload_concurrency"] = uint64(2)
		r.sim.InjectFault(jamfsim.Fault{Method: "PUT", Path: "/" + r.sim.Bucket() + "/tmp/*", S3: true, Latency: 1500 * time.Millisecond, Count: -1})
		r.mustSucceed(env)
		if n := r.sim.State().Counts.Renewals; n < 1 {
			t.Errorf("renewals = %d, want at least 1", n)
		}
		converged(t, r.sim, "Creds.pkg", sum)
	})
	t.Run("revoked at first part", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, fakeS3, jamfsim.Options{})
		path, sum := makePkg(t, "Creds.pkg", 9<<20)
		env := r.baseEnv(path)
		// Keys that stop working before their stated expiry (revoked, or a
		// skewed clock) are renewed on S3's ExpiredToken and the part is
		// sent again.
		r.sim.InjectFault(jamfsim.Fault{Method: "PUT", Path: "/jcds-sim/tmp/*", S3: true, ExpireCredentials: true})
		res := r.mustSucceed(env)
		if !boolOut(t, res.out, "pkg_uploaded") {
			t.Errorf("not uploaded")
		}
		if n := r.sim.State().Counts.Renewals; n < 1 {
			t.Errorf("renewals = %d, want at least 1", n)
		}
		converged(t, r.sim, "Creds.pkg", sum)
	})
}

// TestFaultS3PartFails: failing UploadPart requests are retried per part,
// on MinIO; a few failures are ridden out.
func TestFaultS3PartFails(t *testing.T) {
	t.Parallel()
	r, _ := newMinioRig(t, jamfsim.Options{})
	path, sum := makePkg(t, "Parts.pkg", 17<<20)
	env := r.baseEnv(path)
	r.sim.FailS3Parts(3)
	res := r.mustSucceed(env)
	if !boolOut(t, res.out, "pkg_uploaded") {
		t.Errorf("not uploaded")
	}
	st := r.sim.State()
	if n := s3Parts(st.S3Calls, 500); n != 3 {
		t.Errorf("failed parts = %d, want 3", n)
	}
	converged(t, r.sim, "Parts.pkg", sum)
}

// TestFaultStaleDeleteFails: replacing (Classic, below 11.5) a changed file whose old copy cannot
// be deleted abandons the new upload just before it would be committed (no
// Name_1.pkg), keeps the old file and object as they were, says so, and
// the rerun converges.
func TestFaultStaleDeleteFails(t *testing.T) {
	t.Parallel()
	// Below 11.5 a replace deletes the old file (11.5+ replaces in place).
	r := newRig(t, fakeS3, jamfsim.Options{JamfVersion: "11.4.0"})
	path, oldSum := makePkg(t, "Stale Delete.pkg", 40000)
	env := r.baseEnv(path)
	r.mustSucceed(env)
	newPath, newSum := makePkg(t, "Stale Delete.pkg", 50000)
	env["pkg_path"] = newPath
	env["replace_pkg"] = true
	env["max_tries"] = uint64(2)
	r.sim.InjectFault(jamfsim.Fault{Method: "DELETE", Path: "/api/v1/jcds/files/*", Status: 500, Count: 3})
	r.mustFail(env, `could not delete the stale JCDS file "Stale Delete.pkg", so the new upload was abandoned and nothing was changed`)
	st := r.sim.State()
	if len(st.Files) != 1 || st.Files[0].Name != "Stale Delete.pkg" || st.Files[0].SHA3 != oldSum {
		t.Errorf("the old file must stay untouched after the failed replace: %+v", st.Files)
	}
	if len(st.Packages) != 1 || !hashIs(st.Packages[0].HashValue, oldSum) {
		t.Errorf("the package object must still describe the old file: %+v", st.Packages)
	}
	checkConsistent(t, r.sim)
	res := r.mustSucceed(env)
	if !boolOut(t, res.out, "pkg_uploaded") {
		t.Errorf("rerun did not upload")
	}
	converged(t, r.sim, "Stale Delete.pkg", newSum)
}

// TestFaultMetadataWriteFails: the file is uploaded and verified, the
// object write fails; the error says to rerun, and the rerun creates the
// object without sending the file again.
func TestFaultMetadataWriteFails(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, sum := makePkg(t, "Meta Fail.pkg", 70000)
	env := r.baseEnv(path)
	env["max_tries"] = uint64(2)
	r.sim.InjectFault(jamfsim.Fault{Method: "POST", Path: "/api/v1/packages", Status: 500, Count: -1})
	r.mustFail(env, "the file is in the distribution point; run again to finish")
	st := r.sim.State()
	if len(st.Files) != 1 || len(st.Packages) != 0 {
		t.Fatalf("after the failed write: files=%+v packages=%+v", st.Files, st.Packages)
	}
	r.sim.ClearFaults()
	res := r.mustSucceed(env)
	if boolOut(t, res.out, "pkg_uploaded") || !boolOut(t, res.out, "pkg_metadata_updated") {
		t.Errorf("rerun uploaded=%v metadata=%v, want false/true", res.out["pkg_uploaded"], res.out["pkg_metadata_updated"])
	}
	if n := r.sim.State().Counts.Initiates; n != 1 {
		t.Errorf("initiates = %d: the rerun sent the file again", n)
	}
	converged(t, r.sim, "Meta Fail.pkg", sum)
}

// TestFaultKilledMidUpload: kill -9 during the S3 upload of a 64 MiB
// package on MinIO; the rerun converges (one file, one object) and the
// multipart upload left by the dead process is in tmp/ only, never listed.
func TestFaultKilledMidUpload(t *testing.T) {
	t.Parallel()
	r, m := newMinioRig(t, jamfsim.Options{})
	path, sum := makePkg(t, "Killed.pkg", 64<<20)
	env := r.baseEnv(path)
	// Two parts at a time (of eight), so the kill lands mid-upload: with
	// every part in flight at once they all finish together.
	env["upload_concurrency"] = uint64(2)
	r.sim.InjectFault(jamfsim.Fault{Method: "PUT", Path: "/" + r.sim.Bucket() + "/tmp/*", S3: true, Latency: 1 * time.Second, Count: -1})

	cmd, stderr := startBinary(t, r, env, nil)
	waitUntil(t, cmd, stderr, "no part uploaded", func() bool { return s3Parts(r.sim.State().S3Calls, 200) != 0 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	st := r.sim.State()
	if len(st.Files) != 0 || len(st.Packages) != 0 {
		t.Fatalf("a killed upload left files=%+v packages=%+v", st.Files, st.Packages)
	}
	if s3Parts(st.S3Calls, 0) >= 8 && callsWith(st.S3Calls, "POST", "*", 0) >= 2 {
		t.Fatalf("the upload finished before the kill; the test proves nothing")
	}
	orphans := multipartUploads(t, m, r.sim.Bucket())

	r.sim.ClearFaults()
	res := r.mustSucceed(env)
	if !boolOut(t, res.out, "pkg_uploaded") {
		t.Errorf("rerun did not upload")
	}
	converged(t, r.sim, "Killed.pkg", sum)
	// The dead process could not abort its multipart upload; it stays
	// under tmp/ (the real service expires those) and never becomes a
	// JCDS file. The rerun's own upload completed, so it left none.
	after := multipartUploads(t, m, r.sim.Bucket())
	for _, k := range after {
		if !strings.HasPrefix(k, "tmp/") {
			t.Errorf("multipart upload outside tmp/: %s", k)
		}
	}
	if len(after) > len(orphans) {
		t.Errorf("the rerun left multipart uploads: before %v, after %v", orphans, after)
	}
	t.Logf("multipart uploads left by the killed run: %v", orphans)
}

func multipartUploads(t *testing.T, m *miniotest.Server, bucket string) []string {
	t.Helper()
	c := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(m.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// recorder is a reverse proxy in front of the simulator that records when
// each request arrived and the bodies of the answers (for the secrets the
// server issues).
type recorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	hits   []hit
	bodies [][]byte
}

type hit struct {
	method, path string
	at           time.Time
}

func startRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ModifyResponse = func(resp *http.Response) error {
		body, err := readAllClose(resp)
		if err != nil {
			return err
		}
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, body)
		rec.mu.Unlock()
		return nil
	}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec.mu.Lock()
		rec.hits = append(rec.hits, hit{req.Method, req.URL.Path, time.Now()})
		rec.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) URL() string { return rec.srv.URL + "/" }

func (rec *recorder) times(method, path string) []time.Time {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []time.Time
	for _, h := range rec.hits {
		if h.method == method && h.path == path {
			out = append(out, h.at)
		}
	}
	return out
}

func readAllClose(resp *http.Response) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	b := buf.Bytes()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", fmt.Sprint(len(b)))
	return b, nil
}
