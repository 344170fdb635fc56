package e2e

// End-to-end tests of the replace guarantee: at every instant, including
// kill -9 anywhere, either the package object points at a complete file
// (old or new), or the run that broke it says so in its error and any later
// run, whatever replace_pkg says, repairs it from the local file.

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
	"github.com/jcds2-uploader/jcds2-uploader/processor"
)

// classic is a Jamf Pro without /api/v1/packages (below 11.5): a replace
// there must delete the old JCDS file before committing the new one.
const classic = "11.4.0"

// replaceRig starts a simulator holding a first version of name (uploaded
// long ago: every cluster node knows its object) and returns the rig, the
// env (replace_pkg on, pkg_path at a second version of size plus delta)
// and both SHA3-512s.
func replaceRig(t *testing.T, version string, name string, size, delta int) (r *rig, env plistio.Env, oldSum, newSum string) {
	t.Helper()
	r = newRig(t, fakeS3, jamfsim.Options{JamfVersion: version})
	path, oldSum := seedPackage(t, r, version, name, size)
	env = r.baseEnv(path)
	env["max_tries"] = uint64(2)
	newPath, newSum := makePkg(t, name, size+delta)
	env["pkg_path"] = newPath
	env["replace_pkg"] = true
	r.sim.ResetCalls()
	return r, env, oldSum, newSum
}

// oldIntact checks that the old file and its object are as they were.
func oldIntact(t *testing.T, sim *jamfsim.Server, name, oldSum string) {
	t.Helper()
	checkConsistent(t, sim)
	st := sim.State()
	if len(st.Files) != 1 || st.Files[0].Name != name || st.Files[0].SHA3 != oldSum {
		t.Errorf("the old file must stay listed after the failed replace: %+v", st.Files)
	}
	if len(st.Packages) != 1 || !hashIs(st.Packages[0].HashValue, oldSum) {
		t.Errorf("the package object must still describe the old file: %+v", st.Packages)
	}
}

// TestSafeReplaceInPlace: on Jamf Pro 11.5+ the file of an existing object
// is replaced through POST /api/v1/packages/{id}/upload: the JCDS file is
// never deleted first, so S3 failures cannot touch it, and a failing
// {id}/upload leaves the old file and object (in the simulator; what a real
// server serves meanwhile no source says, jamf/JamfSync#41).
func TestSafeReplaceInPlace(t *testing.T) {
	t.Parallel()
	t.Run("S3 failing does not matter", func(t *testing.T) {
		t.Parallel()
		r, env, _, newSum := replaceRig(t, "", "Rep.pkg", 1<<20, 7)
		r.sim.InjectFault(jamfsim.Fault{Method: "PUT", Path: "/jcds-sim/tmp/*", S3: true, Status: 500, Count: -1})
		res := r.mustSucceed(env)
		if !boolOut(t, res.out, "pkg_uploaded") {
			t.Errorf("not uploaded")
		}
		st := r.sim.State()
		if n := callsWith(st.Calls, "DELETE", "/api/v1/jcds/files/*", 0); n != 0 {
			t.Errorf("the replace deleted the JCDS file first (%d DELETEs)", n)
		}
		if n := callsWith(st.Calls, "POST", "/api/v1/packages/*", 201); n != 1 {
			t.Errorf("POST /api/v1/packages/{id}/upload answered 201 %d times, want 1", n)
		}
		converged(t, r.sim, "Rep.pkg", newSum)
	})
	t.Run("{id}/upload failing keeps the old file", func(t *testing.T) {
		t.Parallel()
		r, env, oldSum, newSum := replaceRig(t, "", "Rep.pkg", 1<<20, 7)
		r.sim.InjectFault(jamfsim.Fault{Method: "POST", Path: "/api/v1/packages/1/upload", Status: 500, Count: -1})
		r.mustFail(env, "upload")
		oldIntact(t, r.sim, "Rep.pkg", oldSum)
		r.sim.ClearFaults()
		r.mustSucceed(env)
		converged(t, r.sim, "Rep.pkg", newSum)
	})
}

// TestSafeKilledDuringInPlaceReplace: kill -9 while the new file streams
// through {id}/upload (11.5+). The old file and object stay whole; the
// journal makes the next run, without replace_pkg, finish the replace.
func TestSafeKilledDuringInPlaceReplace(t *testing.T) {
	t.Parallel()
	r, env, oldSum, newSum := replaceRig(t, "", "Killed InPlace.pkg", 4<<20, 5)
	r.sim.InjectFault(jamfsim.Fault{Method: "POST", Path: "/api/v1/packages/1/upload", Latency: 3 * time.Second, Count: -1})
	cmd, stderr := startBinary(t, r, env, nil)
	waitUntil(t, cmd, stderr, "no journal entry", func() bool { return len(journalEntries(t, r.home)) != 0 })
	time.Sleep(500 * time.Millisecond) // into the upload's latency
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if n := callsWith(r.sim.State().Calls, "POST", "/api/v1/packages/1/upload", 201); n != 0 {
		t.Fatalf("the upload finished before the kill; the test proves nothing")
	}
	oldIntact(t, r.sim, "Killed InPlace.pkg", oldSum)
	r.sim.ClearFaults()
	env["replace_pkg"] = false
	res := r.mustSucceed(env)
	if !boolOut(t, res.out, "pkg_uploaded") {
		t.Errorf("the next run did not finish the replace:\n%s", res.stderr)
	}
	converged(t, r.sim, "Killed InPlace.pkg", newSum)
	if entries := journalEntries(t, r.home); len(entries) != 0 {
		t.Errorf("journal entries left: %v", entries)
	}
}

// TestSafeReplaceClassicPartsFail: below 11.5, with every S3 PUT failing, a
// replace of a one-part (1 MiB) file never deletes the old file: all bytes
// must be in S3 before the delete, and they never are.
func TestSafeReplaceClassicPartsFail(t *testing.T) {
	t.Parallel()
	r, env, oldSum, newSum := replaceRig(t, classic, "Rep.pkg", 1<<20, 7)
	r.sim.InjectFault(jamfsim.Fault{Method: "PUT", Path: "/jcds-sim/tmp/*", S3: true, Status: 500, Count: -1})
	r.mustFail(env, "500")
	if n := callsWith(r.sim.State().Calls, "DELETE", "/api/v1/jcds/files/*", 0); n != 0 {
		t.Errorf("the old file was deleted before the new bytes were in S3 (%d DELETEs)", n)
	}
	oldIntact(t, r.sim, "Rep.pkg", oldSum)
	r.sim.ClearFaults()
	r.mustSucceed(env)
	converged(t, r.sim, "Rep.pkg", newSum)
}

// TestSafeReplaceClassicCommitFails: below 11.5 the commit
// (CompleteMultipartUpload) fails right after the old file was deleted. The
// error says so, and a rerun WITHOUT replace_pkg repairs the object from
// the local file.
func TestSafeReplaceClassicCommitFails(t *testing.T) {
	t.Parallel()
	r, env, _, newSum := replaceRig(t, classic, "Rep.pkg", 1<<20, 7)
	// The first S3 POST starts the multipart upload; every later one (the
	// commit) fails.
	r.sim.InjectFault(jamfsim.Fault{Method: "POST", Path: "/jcds-sim/tmp/*", S3: true, Latency: time.Millisecond, Count: 1})
	r.sim.InjectFault(jamfsim.Fault{Method: "POST", Path: "/jcds-sim/tmp/*", S3: true, Status: 500, Count: -1})
	res := r.mustFail(env, "was deleted from the distribution point")
	for _, want := range []string{"points at a missing file", "any later run uploads it again", "whatever replace_pkg says"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("the error does not say %q:\n%s", want, res.stderr)
		}
	}
	if st := r.sim.State(); len(st.Files) != 0 {
		t.Fatalf("the fault did not hit after the delete: files %+v", st.Files)
	}
	r.sim.ClearFaults()
	env["replace_pkg"] = false
	res = r.mustSucceed(env)
	if !boolOut(t, res.out, "pkg_uploaded") {
		t.Errorf("the rerun without replace_pkg did not repair the missing file:\n%s", res.stderr)
	}
	converged(t, r.sim, "Rep.pkg", newSum)
}

// TestSafeKilledAfterDelete: below 11.5, kill -9 while the run confirms the
// old file's deletion (the only moment the object has no file). The next
// run, without replace_pkg, repairs it; the journal entry is gone after.
func TestSafeKilledAfterDelete(t *testing.T) {
	t.Parallel()
	r, env, _, newSum := replaceRig(t, classic, "Killed Rep.pkg", 1<<20, 7)
	r.sim.InjectFault(jamfsim.Fault{Method: "GET", Path: "/api/v1/jcds/files", Latency: 1500 * time.Millisecond, Count: -1})
	cmd, stderr := startBinary(t, r, env, nil)
	waitUntil(t, cmd, stderr, "no delete", func() bool { return callsWith(r.sim.State().Calls, "DELETE", "/api/v1/jcds/files/*", 204) != 0 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	st := r.sim.State()
	if len(st.Files) != 0 || len(st.Packages) != 1 {
		t.Fatalf("the kill did not land between delete and commit: files %+v", st.Files)
	}
	r.sim.ClearFaults()
	env["replace_pkg"] = false
	res := r.mustSucceed(env)
	if !boolOut(t, res.out, "pkg_uploaded") {
		t.Errorf("the rerun did not repair:\n%s", res.stderr)
	}
	converged(t, r.sim, "Killed Rep.pkg", newSum)
	if entries := journalEntries(t, r.home); len(entries) != 0 {
		t.Errorf("journal entries left after the repair: %v", entries)
	}
	// And the next quiet night is quiet again.
	res = r.mustSucceed(env)
	if boolOut(t, res.out, "pkg_uploaded") {
		t.Errorf("the night after the repair uploaded again")
	}
}

// TestSafeNightlyRepairsMissingFile: the object's file vanished from the
// distribution point (whatever the cause); the quiet-night run, replace_pkg
// off, spends its one listing, sees it and uploads the file again. A quiet
// night with the file in place stays within 4 Jamf requests.
func TestSafeNightlyRepairsMissingFile(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"", classic} {
		t.Run("version "+version, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fakeS3, jamfsim.Options{JamfVersion: version})
			path, sum := seedPackage(t, r, version, "Nightly.pkg", 300000)
			env := r.baseEnv(path)
			r.mustSucceed(env) // the first quiet night also caches a token

			r.sim.ResetCalls()
			res := r.mustSucceed(env)
			if got := stringOut(t, res.out, "pkg_upload_status"); got != processor.StatusSkippedExists {
				t.Errorf("quiet night status %q", got)
			}
			n := len(r.sim.State().Calls)
			if n > 4 {
				t.Errorf("the quiet night sent %d Jamf requests, want at most 4: %+v", n, r.sim.State().Calls)
			}
			t.Logf("quiet night: %d Jamf requests", n)

			deleteJCDSFile(t, r.sim, "Nightly.pkg")
			res = r.mustSucceed(env)
			if !boolOut(t, res.out, "pkg_uploaded") || !strings.Contains(res.stderr, "missing") {
				t.Errorf("the quiet night did not repair the missing file (uploaded=%v):\n%s", res.out["pkg_uploaded"], res.stderr)
			}
			converged(t, r.sim, "Nightly.pkg", sum)
		})
	}
}

// TestSafeMetadataFinishedAfterFailedReplace: a replace uploads the new
// file, then its metadata write fails. The rerun without replace_pkg
// finishes the write, so the object gets the NEW file's hash.
func TestSafeMetadataFinishedAfterFailedReplace(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"", classic} {
		t.Run("version "+version, func(t *testing.T) {
			t.Parallel()
			r, env, _, newSum := replaceRig(t, version, "Meta Rep.pkg", 200000, 3)
			path := "/api/v1/packages/*"
			if version == classic {
				path = "/JSSResource/packages/*"
			}
			r.sim.InjectFault(jamfsim.Fault{Method: "PUT", Path: path, Status: 500, Count: -1})
			r.mustFail(env, "run again to finish")
			r.sim.ClearFaults()
			env["replace_pkg"] = false
			res := r.mustSucceed(env)
			if !boolOut(t, res.out, "pkg_metadata_updated") {
				t.Errorf("the rerun did not finish the metadata:\n%s", res.stderr)
			}
			if boolOut(t, res.out, "pkg_uploaded") {
				t.Errorf("the rerun sent the file again")
			}
			converged(t, r.sim, "Meta Rep.pkg", newSum)
			if entries := journalEntries(t, r.home); len(entries) != 0 {
				t.Errorf("journal entries left: %v", entries)
			}
		})
	}
}

// TestSafeFileRewrittenDuringUpload: the package is rewritten in place,
// same size, while its parts go to S3. The run must refuse it and never
// report it uploaded; nothing is committed.
func TestSafeFileRewrittenDuringUpload(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, _ := makePkg(t, "Rewritten.pkg", 40<<20)
	env := r.baseEnv(path)
	// One part at a time, so the rewrite lands while parts are still to go
	// (with every part in flight at once the upload may be committed first;
	// then the check before the metadata write refuses it instead).
	env["upload_concurrency"] = uint64(1)
	r.sim.InjectFault(jamfsim.Fault{Method: "PUT", Path: "/jcds-sim/tmp/*", S3: true, Latency: 700 * time.Millisecond, Count: -1})
	cmd, stderr := startBinary(t, r, env, nil)
	waitUntil(t, cmd, stderr, "no part", func() bool { return s3Parts(r.sim.State().S3Calls, 200) != 0 })
	rewriteInPlace(t, path)
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 10 {
		t.Fatalf("exit %v, want 10:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "changed during the upload") {
		t.Errorf("the error does not say the file changed:\n%s", stderr.String())
	}
	if st := r.sim.State(); len(st.Files) != 0 || len(st.Packages) != 0 {
		t.Errorf("a changed file was committed: files %+v packages %+v", st.Files, st.Packages)
	}
	r.sim.ClearFaults()
	res := r.mustSucceed(env)
	converged(t, r.sim, "Rewritten.pkg", sha3File(t, path))
	if !boolOut(t, res.out, "pkg_uploaded") {
		t.Errorf("rerun did not upload")
	}
}

// TestSafeLockWithoutTokenCache: two runs of one package at once on one Mac
// take turns whether or not a token cache is used: with BEARER_TOKEN (no
// cache) and with different HOMEs (different caches). No Name_1.pkg.
func TestSafeLockWithoutTokenCache(t *testing.T) {
	t.Parallel()
	for _, tc := range []string{"BEARER_TOKEN", "different HOMEs"} {
		t.Run(tc, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fakeS3, jamfsim.Options{})
			r.sim.InjectFault(jamfsim.Fault{Method: "PUT", Path: "/jcds-sim/tmp/*", S3: true, Latency: 500 * time.Millisecond, Count: -1})
			path, sum := makePkg(t, "Lock Race.pkg", 1<<20)
			env := r.baseEnv(path)
			env["verify_timeout"] = uint64(5)
			var extra [2][]string
			if tc == "BEARER_TOKEN" {
				delete(env, "API_USERNAME")
				delete(env, "API_PASSWORD")
				env["BEARER_TOKEN"] = fetchToken(t, r.sim.URL(), "admin", "password")
			} else {
				for i := range extra {
					h := t.TempDir()
					extra[i] = homeEnv(h)
				}
			}
			results := runEach(t, r, env, extra[:])
			for i, res := range results {
				if res.code != 0 {
					t.Errorf("run %d: exit %d:\n%s", i, res.code, res.stderr)
				}
			}
			checkConsistent(t, r.sim)
			st := r.sim.State()
			if len(st.Files) != 1 || st.Files[0].Name != "Lock Race.pkg" || st.Files[0].SHA3 != sum {
				t.Errorf("JCDS files %+v, want only Lock Race.pkg", st.Files)
			}
		})
	}
}

// TestSafeOwnDuplicateRemoved: two Macs (separate lock folders) upload
// different builds of one new package at once. The service keeps the second
// commit as Name_1.pkg; its run deletes that copy, and its error says what
// happened without blaming an MD5 mismatch.
func TestSafeOwnDuplicateRemoved(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	r.sim.InjectFault(jamfsim.Fault{Method: "PUT", Path: "/jcds-sim/tmp/*", S3: true, Latency: 500 * time.Millisecond, Count: -1})
	pathA, sumA := makePkg(t, "Two Macs.pkg", 1<<20)
	pathB, sumB := makePkg(t, "Two Macs.pkg", 1<<20)
	envA := r.baseEnv(pathA)
	envB := r.baseEnv(pathB)
	for _, e := range []plistio.Env{envA, envB} {
		e["verify_timeout"] = uint64(10)
	}
	var extra [2][]string
	for i := range extra {
		h := t.TempDir()
		rt := t.TempDir()
		if err := os.Chmod(rt, 0o700); err != nil {
			t.Fatal(err)
		}
		extra[i] = append(homeEnv(h), "XDG_RUNTIME_DIR="+rt)
	}
	results := runEnvs(t, r, []plistio.Env{envA, envB}, extra[:])
	ok, failed := 0, 0
	winner := ""
	for i, res := range results {
		noPanic(t, res.stderr)
		switch res.code {
		case 0:
			ok++
			winner = []string{sumA, sumB}[i]
		case 10:
			failed++
			msg := res.stderr[strings.Index(res.stderr, "ProcessorError: "):]
			t.Logf("loser: %s", msg)
			if strings.Contains(msg, "MD5") || !strings.Contains(msg, "Two Macs_1.pkg") || !strings.Contains(msg, "deleted") {
				t.Errorf("the loser's error must name the duplicate it deleted and not blame an MD5 mismatch:\n%s", msg)
			}
		default:
			t.Errorf("run %d: exit %d:\n%s", i, res.code, res.stderr)
		}
	}
	if ok+failed != 2 || ok < 1 {
		t.Fatalf("%d succeeded, %d failed", ok, failed)
	}
	checkConsistent(t, r.sim)
	st := r.sim.State()
	if len(st.Files) != 1 || st.Files[0].Name != "Two Macs.pkg" {
		t.Errorf("JCDS files %+v, want only Two Macs.pkg", st.Files)
	}
	if failed == 1 {
		converged(t, r.sim, "Two Macs.pkg", winner)
	}
}

// seedPackage puts a package into the simulator as an upload of long ago
// leaves it: the JCDS file and a settled object every cluster node knows,
// with the hash type the server version records. It returns the local
// file's path and SHA3-512.
func seedPackage(t *testing.T, r *rig, version, name string, size int) (string, string) {
	t.Helper()
	path, sum := makePkg(t, name, size)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r.sim.AddFile(name, data)
	f, ok := r.sim.File(name)
	if !ok {
		t.Fatalf("seeded file %s not listed", name)
	}
	p := jamfsim.Package{Name: name, FileName: name, Priority: 10, RequiredProcessor: "None",
		HashType: "SHA3_512", HashValue: sum, MD5: f.MD5, SHA3512: sum, Size: strconv.Itoa(size)}
	if version == classic {
		s512, _ := sha512BySHA3.Load(sum)
		p.HashType, p.HashValue, p.MD5, p.SHA3512, p.Size = "SHA_512", s512.(string), "", "", ""
	}
	r.sim.AddPackage(p)
	return path, sum
}

// runEach runs env once per extra environment, all at the same moment.
func runEach(t *testing.T, r *rig, env plistio.Env, extra [][]string) []result {
	envs := make([]plistio.Env, len(extra))
	for i := range envs {
		envs[i] = env
	}
	return runEnvs(t, r, envs, extra)
}

func runEnvs(t *testing.T, r *rig, envs []plistio.Env, extra [][]string) []result {
	t.Helper()
	out := make([]result, len(envs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range envs {
		input, err := plistio.Encode(envs[i])
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binary)
		cmd.Stdin = bytes.NewReader(input)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Env = append(r.environ(), extra[i]...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := cmd.Run()
			res := result{stdout: stdout.Bytes(), stderr: stderr.String()}
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				res.code = exit.ExitCode()
			} else if err != nil {
				res.code = -1
				res.stderr += err.Error()
			}
			if res.code == 0 {
				res.out, _ = plistio.Decode(res.stdout)
			}
			out[i] = res
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// rewriteInPlace overwrites the file's bytes without truncating or
// replacing it: same inode, same size, new content.
func rewriteInPlace(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, fi.Size())
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// deleteJCDSFile removes a file from the distribution point behind the
// uploader's back, as an admin in Jamf Pro would.
func deleteJCDSFile(t *testing.T, sim *jamfsim.Server, name string) {
	t.Helper()
	tok := fetchToken(t, sim.URL(), "admin", "password")
	req, err := http.NewRequest("DELETE", strings.TrimRight(sim.URL(), "/")+"/api/v1/jcds/files/"+url.PathEscape(name), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete %s: HTTP %d", name, resp.StatusCode)
	}
	if _, ok := sim.File(name); ok {
		t.Fatalf("%s still listed after its delete", name)
	}
}

// journalEntries lists the journal's entries in home's cache.
func journalEntries(t *testing.T, home string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(cacheDir(t, home), "journal", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// lagRun is one step of TestSafeLaggingNodeReplace at which the second run
// is stopped (a signal) or fails (a fault).
type lagRun struct {
	name    string
	version string // "" for the simulator's default, classic below 11.5
	// fault makes every matching request fail; the run must fail saying
	// want. Without one, the run is stopped with sig once reached holds.
	fault   *jamfsim.Fault
	want    string
	sig     syscall.Signal
	latency *jamfsim.Fault // slows the request the signal lands in
	reached func(r *rig) bool
	// fullLag runs Jamf Cloud's minute of cluster lag with JCDS2_LONG=1
	// (jamfCloudLag), the short one otherwise; with neither fault nor sig
	// the run must succeed.
	fullLag bool
}

// TestSafeLaggingNodeReplace: a second run inside the cluster lag (default
// cluster: 2 nodes; each run is a new cookie jar, and the simulator hands
// the nodes out in turn) lands on the node that has not seen the first
// run's object, with replace_pkg and a changed file. Stopped at each step
// of its replace (SIGTERM and kill -9) or failing at each request, it never
// leaves an object pointing at a missing file, and the next run converges
// without duplicates. Where another pod shows the object, the run moves
// there instead of waiting. On 11.5+ it never deletes the file; below 11.5 the
// delete is its one window, and the next run repairs it. The lag is a few
// seconds rather than a minute: the second run is inside it either way.
func TestSafeLaggingNodeReplace(t *testing.T) {
	t.Parallel()
	const lag = 6 * time.Second
	refused := func(r *rig) bool { return callsWith(r.sim.State().Calls, "POST", "/api/v1/packages", 400) != 0 }
	// The journal entry is written right before the {id}/upload; half a
	// second later the request is in its latency.
	uploading := func(r *rig) bool {
		if !refused(r) || len(journalEntries(t, r.home)) == 0 {
			return false
		}
		time.Sleep(500 * time.Millisecond)
		return true
	}
	uploaded := func(r *rig) bool {
		return callsWith(r.sim.State().Calls, "POST", "/api/v1/packages/1/upload", 201) != 0
	}
	slowUpload := &jamfsim.Fault{Method: "POST", Path: "/api/v1/packages/1/upload", Latency: 2 * time.Second, Count: -1}
	cases := []lagRun{
		{name: "SIGTERM while waiting for the node", sig: syscall.SIGTERM, reached: refused},
		{name: "kill -9 while waiting for the node", sig: syscall.SIGKILL, reached: refused},
		{name: "SIGTERM during {id}/upload", sig: syscall.SIGTERM, latency: slowUpload, reached: uploading},
		{name: "kill -9 during {id}/upload", sig: syscall.SIGKILL, latency: slowUpload, reached: uploading},
		{name: "kill -9 after the 201", sig: syscall.SIGKILL, reached: uploaded},
		{name: "create fails", fault: &jamfsim.Fault{Method: "POST", Path: "/api/v1/packages", Status: 500, Count: -1}, want: "create package object"},
		{name: "{id}/upload fails", fault: &jamfsim.Fault{Method: "POST", Path: "/api/v1/packages/1/upload", Status: 500, Count: -1}, want: "upload"},
		{name: "default cluster, a minute of lag: the replace completes in place", fullLag: true},
		{name: "before 11.5: kill -9 after the delete", version: classic, sig: syscall.SIGKILL,
			latency: &jamfsim.Fault{Method: "GET", Path: "/api/v1/jcds/files", Latency: 1500 * time.Millisecond, Count: -1},
			reached: func(r *rig) bool { return callsWith(r.sim.State().Calls, "DELETE", "/api/v1/jcds/files/*", 204) != 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := jamfsim.Options{JamfVersion: tc.version, ClusterLag: lag}
			if tc.fullLag {
				opts.ClusterLag = jamfCloudLag(lag)
			}
			r := newRig(t, fakeS3, opts)
			path, _ := makePkg(t, "Lag.pkg", 1<<20)
			env := r.baseEnv(path)
			env["max_tries"] = uint64(2)
			if tc.version == classic {
				// Below 11.5 nothing is waited for on the pods: the run
				// ends inside the lag.
				r.mustSucceed(env) // node 1 of 2 made the object
			} else {
				// A run now waits until every pod shows what it wrote, so
				// the object another Mac made moments ago stands in.
				otherMacMade(t, r.sim, path)
			}
			newPath, newSum := makePkg(t, "Lag.pkg", 1<<20+9)
			env["pkg_path"], env["replace_pkg"] = newPath, true
			r.sim.ResetCalls()
			if tc.fault == nil && tc.sig == 0 {
				delete(env, "verify_timeout") // the other pod shows the object after the minute of lag
				res := r.mustSucceed(env)
				calls := r.sim.State().Calls
				if n := callsWith(calls, "DELETE", "/api/v1/jcds/files/*", 0); n != 0 || callsWith(calls, "POST", "/api/v1/packages", 400) == 0 {
					t.Errorf("want the create refused as a duplicate (the run was on the lagging node) and no JCDS delete; %d DELETEs", n)
				}
				if !boolOut(t, res.out, "pkg_uploaded") || len(r.sim.State().Packages) != 1 {
					t.Errorf("the replace did not upload into the one object:\n%s", res.stderr)
				}
				converged(t, r.sim, "Lag.pkg", newSum)
				return
			}
			if tc.fault != nil {
				r.sim.InjectFault(*tc.fault)
				r.mustFail(env, tc.want)
			} else {
				if tc.latency != nil {
					r.sim.InjectFault(*tc.latency)
				}
				cmd, stderr := startBinary(t, r, env, nil)
				waitUntil(t, cmd, stderr, "the step was not reached", func() bool { return tc.reached(r) })
				if err := cmd.Process.Signal(tc.sig); err != nil {
					t.Fatal(err)
				}
				_ = cmd.Wait()
			}
			calls := r.sim.State().Calls
			if tc.version == "" {
				if n := callsWith(calls, "DELETE", "/api/v1/jcds/files/*", 0); n != 0 {
					t.Errorf("the run on the lagging node deleted the JCDS file (%d DELETEs)", n)
				}
			}
			if tc.name != "create fails" && callsWith(calls, "POST", tc.createPath(), 0) == 0 {
				t.Errorf("the run did not ask the database first (no create)")
			}
			if tc.version == classic {
				// The one window below 11.5: the object points at no file,
				// and the journal says so under the object the create found.
				if st := r.sim.State(); len(st.Files) != 0 || len(st.Packages) != 1 || len(journalEntries(t, r.home)) != 1 {
					t.Fatalf("the kill did not land between delete and commit, or left no journal entry: %+v", st.Files)
				}
				env["replace_pkg"] = false // the journal repairs whatever replace_pkg says
			} else {
				checkConsistent(t, r.sim)
			}
			r.sim.ClearFaults()
			res := r.mustSucceed(env)
			if !boolOut(t, res.out, "pkg_uploaded") && !strings.Contains(tc.name, "after the 201") {
				t.Errorf("the next run did not send the file:\n%s", res.stderr)
			}
			converged(t, r.sim, "Lag.pkg", newSum)
			if entries := journalEntries(t, r.home); len(entries) != 0 {
				t.Errorf("journal entries left: %v", entries)
			}
		})
	}
}

// createPath is where the second run creates its package object.
func (tc lagRun) createPath() string {
	if tc.version == classic {
		return "/JSSResource/packages/id/0"
	}
	return "/api/v1/packages"
}

// TestSafeSlowProcessingVerifiedNextRun: a run sends the file and its verify
// budget runs out while Jamf Pro still processes it (no pod shows a loss).
// It fails saying the next run verifies it, and the next run, a new
// process reading the journal the first left, verifies it without sending
// a byte.
func TestSafeSlowProcessingVerifiedNextRun(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{ProcessingDelay: 8 * time.Second})
	path, sum := makePkg(t, "Slow.pkg", 5000)
	env := r.baseEnv(path)
	delete(env, "jcds2_mode")
	env["upload_mode"] = "v1"
	env["verify_timeout"] = uint64(3) // past the lag, short of the processing
	r.mustFail(env, "the next run verifies it without sending it again (journal)")
	if entries := journalEntries(t, r.home); len(entries) != 1 {
		t.Fatalf("journal entries %v, want the one that says only verification remains", entries)
	}
	r.sim.ResetCalls()
	env["verify_timeout"] = uint64(60)
	res := r.mustSucceed(env)
	wantOutputs(t, res.out, false, false, processor.StatusHashMatch)
	calls := r.sim.State().Calls
	if n := callsWith(calls, "POST", "/api/v1/packages/*", 0); n != 0 {
		t.Errorf("the next run sent the file again (%d POSTs under /api/v1/packages/)", n)
	}
	converged(t, r.sim, "Slow.pkg", sum)
	if entries := journalEntries(t, r.home); len(entries) != 0 {
		t.Errorf("journal entries left: %v", entries)
	}
}
