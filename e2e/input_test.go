package e2e

// Bad and odd input, end to end: the binary answers every one with a clear
// ProcessorError or a correct upload, never a panic.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// mustFailClearly runs raw stdin and wants exit 10, a ProcessorError with
// every one of want, nothing on standard output, and no panic.
func mustFailClearly(t *testing.T, r *rig, stdin []byte, want ...string) string {
	t.Helper()
	res := r.runRaw(stdin)
	noPanic(t, res.stderr)
	if res.code != 10 {
		t.Fatalf("exit %d, want 10\nstderr:\n%s", res.code, res.stderr)
	}
	if len(res.stdout) != 0 {
		t.Errorf("a failed run wrote standard output: %q", res.stdout)
	}
	i := strings.Index(res.stderr, "ProcessorError: ")
	if i < 0 {
		t.Fatalf("no ProcessorError:\n%s", res.stderr)
	}
	msg := res.stderr[i:]
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not say %q:\n%s", w, msg)
		}
	}
	return msg
}

func TestInputMalformedPlist(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	for _, tc := range []struct {
		name  string
		stdin string
	}{
		{"empty", ""},
		{"garbage", "this is not a property list \x00\x01\x02"},
		{"truncated XML", `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>JSS_URL</key><string>http://x`},
		{"array root", `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><array><string>a</string></array></plist>`},
		{"string root", `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><string>a</string></plist>`},
		{"truncated binary", "bplist00\xd1\x01\x02"},
		{"key without value", `<?xml version="1.0"?><plist version="1.0"><dict><key>JSS_URL</key></dict></plist>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := mustFailClearly(t, r, []byte(tc.stdin))
			t.Logf("%s", msg)
			if len(strings.TrimSpace(strings.TrimPrefix(msg, "ProcessorError: "))) < 10 {
				t.Errorf("error too terse to act on: %q", msg)
			}
		})
	}
	if n := len(r.sim.State().Calls); n != 0 {
		t.Errorf("malformed input still reached the server (%d calls)", n)
	}
}

func TestInputWrongTypesAndMissingKeys(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, _ := makePkg(t, "Types.pkg", 1000)
	cases := []struct {
		name   string
		change func(env plistio.Env)
		want   []string
	}{
		{"JSS_URL missing", func(e plistio.Env) { delete(e, "JSS_URL") }, []string{"JSS_URL", "missing"}},
		{"JSS_URL not a URL", func(e plistio.Env) { e["JSS_URL"] = "example.jamfcloud.com" }, []string{"JSS_URL", "https://"}},
		{"JSS_URL an integer", func(e plistio.Env) { e["JSS_URL"] = uint64(443) }, []string{"JSS_URL"}},
		{"pkg_path missing", func(e plistio.Env) { delete(e, "pkg_path") }, []string{"pkg_path", "missing"}},
		{"pkg_path a dict", func(e plistio.Env) { e["pkg_path"] = map[string]any{"a": "b"} }, []string{"pkg_path"}},
		{"pkg_path does not exist", func(e plistio.Env) { e["pkg_path"] = "/nonexistent/Nope.pkg" }, []string{"/nonexistent/Nope.pkg"}},
		{"no credentials", func(e plistio.Env) { delete(e, "API_USERNAME"); delete(e, "API_PASSWORD") }, []string{"API_USERNAME"}},
		{"pkg_priority text", func(e plistio.Env) { e["pkg_priority"] = "high" }, []string{"pkg_priority"}},
		{"replace_pkg a dict", func(e plistio.Env) { e["replace_pkg"] = map[string]any{"x": true} }, []string{"replace_pkg"}},
		{"replace_pkg an array", func(e plistio.Env) { e["replace_pkg"] = []any{"True"} }, []string{"replace_pkg"}},
		{"max_tries text", func(e plistio.Env) { e["max_tries"] = "lots" }, []string{"max_tries"}},
		{"verify_timeout negative", func(e plistio.Env) { e["verify_timeout"] = int64(-5) }, []string{"verify_timeout"}},
		{"upload_mode unknown", func(e plistio.Env) { e["upload_mode"] = "ftp" }, []string{"upload_mode", "ftp"}},
		{"pkg_category placeholder unknown", func(e plistio.Env) { e["pkg_category"] = "%NOPE%" }, []string{"NOPE"}},
		{"verbose text", func(e plistio.Env) { e["verbose"] = "loud" }, []string{"verbose"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := r.baseEnv(path)
			tc.change(env)
			in, err := plistio.Encode(env)
			if err != nil {
				t.Fatal(err)
			}
			msg := mustFailClearly(t, r, in, tc.want...)
			t.Logf("%s", msg)
		})
	}
	st := r.sim.State()
	if len(st.Files) != 0 || len(st.Packages) != 0 {
		t.Errorf("bad input changed the server: files=%v packages=%v", st.Files, st.Packages)
	}
}

// TestInputZeroByteFile: an empty package (a failed build) is refused
// before anything is sent.
func TestInputZeroByteFile(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, _ := makePkg(t, "Empty.pkg", 0)
	in, _ := plistio.Encode(r.baseEnv(path))
	mustFailClearly(t, r, in, "Empty.pkg", "empty")
	if st := r.sim.State(); len(st.Calls) != 0 {
		t.Errorf("an empty package still reached the server: %+v", st.Calls)
	}
}

// TestInputDirectoryNotABundle: folders that are not bundle packages.
func TestInputDirectoryNotABundle(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	for _, tc := range []struct{ name, dir string }{
		{"plain folder", "Stuff"},
		{"folder named .pkg without Contents", "Fake.pkg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tc.dir)
			if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "sub", "file"), []byte("x"), 0o644)
			in, _ := plistio.Encode(r.baseEnv(dir))
			msg := mustFailClearly(t, r, in, tc.dir, "not a bundle package")
			t.Logf("%s", msg)
		})
	}
	if st := r.sim.State(); len(st.Calls) != 0 {
		t.Errorf("a folder that is no package still reached the server: %+v", st.Calls)
	}
}

// TestInputUnsupportedExtension: the JCDS accepts pkg, mpkg, dmg and zip
// only (it silently drops anything else); the run refuses before upload.
func TestInputUnsupportedExtension(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	for _, name := range []string{"Script.sh", "App.app.tar.gz", "NoExtension"} {
		path, _ := makePkg(t, name, 1000)
		in, _ := plistio.Encode(r.baseEnv(path))
		mustFailClearly(t, r, in, name, ".pkg, .mpkg, .dmg and .zip")
	}
	if st := r.sim.State(); len(st.S3Calls) != 0 || len(st.Files) != 0 || len(st.Rejected) != 0 {
		t.Errorf("an unsupported file was sent: s3=%d files=%v rejected=%v", len(st.S3Calls), st.Files, st.Rejected)
	}
}

// TestInputFileDisappearsMidRun: the package is deleted while the run waits
// for a slow JCDS list; the run ends with a clear error naming the file,
// and nothing half-made is left.
func TestInputFileDisappearsMidRun(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, _ := makePkg(t, "Vanishing.pkg", 2<<20)
	env := r.baseEnv(path)
	r.sim.InjectFault(jamfsim.Fault{Method: "GET", Path: "/api/v1/jcds/files", Latency: 2 * time.Second})
	cmd, stderr := startBinary(t, r, env, nil)
	// The package lookup comes right before the list; once it is logged the
	// list is being held.
	waitUntil(t, cmd, stderr, "the run never looked the package up", func() bool { return r.sim.CallCount("GET", "/api/v1/packages") != 0 })
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	noPanic(t, stderr.String())
	if r.sim.CallCount("GET", "/api/v1/jcds/files") == 0 {
		t.Fatalf("the file was removed after the list; the test proves nothing")
	}
	if err == nil {
		t.Fatalf("exit 0 although the package vanished:\n%s", stderr.String())
	}
	code := cmd.ProcessState.ExitCode()
	if code != 10 || !strings.Contains(stderr.String(), "ProcessorError: ") || !strings.Contains(stderr.String(), "Vanishing.pkg") {
		t.Fatalf("exit %d without a clear error naming the file:\n%s", code, stderr.String())
	}
	t.Logf("%s", stderr.String())
	st := r.sim.State()
	if len(st.Packages) != 0 || len(st.Files) != 0 {
		t.Errorf("half-made state: files=%v packages=%v", st.Files, st.Packages)
	}
}

// TestInputFileRebuiltDuringUpload: the package is cut short while its
// first parts are in flight (a pkg build overwriting it). Either the run
// fails with a clear error, or what it reports is true: the JCDS file, the
// object's hash and pkg_sha3_512 all describe the same bytes. The rerun
// uploads the file as it now is.
func TestInputFileRebuiltDuringUpload(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, origSum := makePkg(t, "Rebuilt.pkg", 80<<20)
	env := r.baseEnv(path)
	r.sim.InjectFault(jamfsim.Fault{Method: "PUT", Path: "/jcds-sim/tmp/*", S3: true, Latency: 1500 * time.Millisecond, Count: 3})
	cmd, stderr := startBinary(t, r, env, nil)
	stdout := cmd.Stdout.(*bytes.Buffer)
	waitUntil(t, cmd, stderr, "no multipart upload started", func() bool { return callsWith(r.sim.State().S3Calls, "POST", "*", 200) != 0 })
	time.Sleep(300 * time.Millisecond) // the first parts are read and held by the latency
	if err := os.Truncate(path, 10<<20); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	noPanic(t, stderr.String())
	st := r.sim.State()
	if err == nil {
		out, derr := plistio.Decode(stdout.Bytes())
		if derr != nil {
			t.Fatal(derr)
		}
		f, _ := r.sim.File("Rebuilt.pkg")
		if len(st.Packages) != 1 || f.SHA3 != st.Packages[0].HashValue || f.SHA3 != stringOut(t, out, "pkg_sha3_512") || f.SHA3 != origSum {
			t.Fatalf("success reported for inconsistent bytes: file %+v packages %+v output sha3 %v", f, st.Packages, out["pkg_sha3_512"])
		}
		t.Logf("the whole file had been read before the cut; the upload is of the original bytes")
	} else {
		if code := cmd.ProcessState.ExitCode(); code != 10 || !strings.Contains(stderr.String(), "ProcessorError: ") || !strings.Contains(stderr.String(), "Rebuilt.pkg") {
			t.Fatalf("exit %d without a clear error:\n%s", code, stderr.String())
		}
		t.Logf("%s", stderr.String())
		if len(st.Packages) != 0 {
			t.Errorf("a package object was written for a broken upload: %+v", st.Packages)
		}
	}
	checkConsistent(t, r.sim)
	r.sim.ClearFaults()
	env["replace_pkg"] = true
	r.mustSucceed(env)
	converged(t, r.sim, "Rebuilt.pkg", sha3File(t, path))
}
