package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"howett.net/plist"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/miniotest"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
	"github.com/rs/zerolog"
)

// binary is the real jcds2-uploader, built once for the end-to-end tests so
// they exercise exactly what AutoPkg runs.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jcds2-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "jcds2-uploader")
	build := exec.Command("go", "build", "-o", binary, "..") // the module root: the main package
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build jcds2-uploader:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// rig is one simulated Jamf Pro with its S3 and a private home for the
// uploader (token cache), as one admin's Mac would have.
type rig struct {
	t     *testing.T
	sim   *jamfsim.Server
	home  string
	extra []string // extra process environment
}

// backend is the S3 server behind the simulator: fakeS3 is gofakes3 in
// the simulator's process, minio a real MinIO server.
type backend string

const (
	fakeS3 backend = "gofakes3"
	minio  backend = "minio"
)

func newRig(t *testing.T, b backend, opts jamfsim.Options) *rig {
	t.Helper()
	if b == minio {
		m := miniotest.Start(t)
		opts.S3 = &jamfsim.S3Config{Endpoint: m.Endpoint, AccessKey: m.AccessKey, SecretKey: m.SecretKey}
	}
	if opts.ProcessInterval == 0 {
		opts.ProcessInterval = 50 * time.Millisecond
	}
	if opts.ClusterLag == 0 {
		// Tests run one run after another at once, and each run is a new
		// process (a new cookie jar) that may land on a node that has not
		// seen the last run's writes; the client then waits for the node
		// to catch up. Jamf Cloud's lag is a minute; a few seconds keeps
		// the same stale reads without a minute's wait per rerun.
		// TestClusterConcurrentUploads keeps the full minute.
		opts.ClusterLag = fastLag
	}
	rigPace(&opts)
	sim := jamfsim.Start(t, opts)
	return &rig{t: t, sim: sim, home: t.TempDir()}
}

// otherMacMade is another Mac's upload of the file at path moments ago:
// the file in the distribution point, and the object made through the API
// on the pod that Mac's client landed on (the simulator hands pods out in
// turn, so the next run lands on another pod, inside the cluster lag).
func otherMacMade(t *testing.T, sim *jamfsim.Server, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	sim.AddFile(name, data)
	c, err := jamf.NewClient(jamf.Config{URL: sim.URL(), ClientID: "client-id", ClientSecret: "client-secret", CacheDir: "off", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePackage(context.Background(), &jamf.Package{Name: name, FileName: name, CategoryID: "-1", Priority: 10}); err != nil {
		t.Fatal(err)
	}
}

// rigScale is how much faster than Jamf Cloud the rigs run: fastLag is
// Jamf Cloud's minute of cluster lag at a thirtieth.
const rigScale = time.Minute / fastLag

// rigPace gives the simulator's refresh and processing times at the rigs'
// scale, where the test does not set them: the same ratio to the lag as on
// Jamf Cloud (4 s for a file's first refresh, 200 ms later, 12 MB/s).
func rigPace(opts *jamfsim.Options) { opts.AtPace(float64(rigScale)) }

// baseEnv is a recipe's environment with credentials for the simulator.
func (r *rig) baseEnv(pkgPath string) plistio.Env {
	return plistio.Env{
		"JSS_URL":          r.sim.URL() + "/",
		"API_USERNAME":     "admin",
		"API_PASSWORD":     "password",
		"pkg_path":         pkgPath,
		"jcds2_mode":       true,
		"NAME":             "Firefox",
		"version":          "146.0",
		"RECIPE_CACHE_DIR": r.t.TempDir(),
		"verify_timeout":   uint64(30),
		"sleep":            "0",
		"untouched_key":    map[string]any{"nested": []any{uint64(1), "two", true}},
	}
}

type result struct {
	code   int
	out    plistio.Env
	stdout []byte
	stderr string
}

func (r *rig) run(env plistio.Env, args ...string) result {
	r.t.Helper()
	input, err := plistio.Encode(env)
	if err != nil {
		r.t.Fatal(err)
	}
	return r.runRaw(input, args...)
}

func (r *rig) runRaw(stdin []byte, args ...string) result {
	r.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = r.environ()
	err := cmd.Run()
	res := result{stdout: stdout.Bytes(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	default:
		r.t.Fatalf("run jcds2-uploader: %v", err)
	}
	if res.code == 0 && len(res.stdout) > 0 {
		out, err := plistio.Decode(res.stdout)
		if err != nil {
			r.t.Fatalf("standard output is not a plist (%v):\n%s\nstderr:\n%s", err, res.stdout, res.stderr)
		}
		res.out = out
	}
	return res
}

// homeEnv makes home a child run's HOME and, on Linux, the parent of its
// cache folder.
func homeEnv(home string) []string {
	return []string{"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, ".cache")}
}

// cacheDir is the folder a run given homeEnv(home) keeps its token cache
// and journal in, found as the binary finds it (jamf.CacheDir):
// ~/Library/Caches/jcds2-uploader on macOS, not ~/.cache.
func cacheDir(t testing.TB, home string) string {
	t.Helper()
	dir, err := jamf.CacheDirFor(runtime.GOOS, jamf.EnvLookup(homeEnv(home)))
	if err != nil {
		t.Fatalf("cache folder for HOME=%s: %v", home, err)
	}
	return dir
}

func (r *rig) environ() []string {
	env := []string{"PATH=" + os.Getenv("PATH")}
	env = append(env, homeEnv(r.home)...)
	env = append(env,
		"AWS_ENDPOINT_URL_S3="+r.sim.S3Endpoint(),
		"AWS_EC2_METADATA_DISABLED=true",
		"NO_PROXY=127.0.0.1,localhost",
	)
	if runtime.GOOS == "darwin" {
		env = append(env, "TMPDIR="+os.TempDir())
	}
	return append(env, r.extra...)
}

// mustSucceed runs and fails the test unless the run exited 0.
func (r *rig) mustSucceed(env plistio.Env, args ...string) result {
	r.t.Helper()
	res := r.run(env, args...)
	if res.code != 0 {
		r.t.Fatalf("exit %d, want 0\nstderr:\n%s", res.code, res.stderr)
	}
	return res
}

// mustFail runs and checks the processor error.
func (r *rig) mustFail(env plistio.Env, want string, args ...string) result {
	r.t.Helper()
	res := r.run(env, args...)
	if res.code != 10 {
		r.t.Fatalf("exit %d, want 10 (ProcessorError)\nstderr:\n%s", res.code, res.stderr)
	}
	if len(res.stdout) != 0 {
		r.t.Errorf("a failed run wrote to standard output: %q", res.stdout)
	}
	if !strings.Contains(res.stderr, "ProcessorError: ") || !strings.Contains(res.stderr, want) {
		r.t.Fatalf("stderr does not hold ProcessorError with %q:\n%s", want, res.stderr)
	}
	return res
}

// makePkg writes a package file of size random bytes and returns its path
// and SHA3-512.
func makePkg(t *testing.T, name string, size int) (string, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha3.Sum512(data)
	s512 := sha512.Sum512(data)
	sha512BySHA3.Store(hex.EncodeToString(sum[:]), hex.EncodeToString(s512[:]))
	return path, hex.EncodeToString(sum[:])
}

// sha512BySHA3 maps the SHA3-512 of each package makePkg wrote to its
// SHA-512: below 11.25 the package object records SHA-512.
var sha512BySHA3 sync.Map

// hashIs reports whether a package object's hash value describes the bytes
// whose SHA3-512 is sum (as SHA3-512, or as SHA-512 on older servers).
func hashIs(value, sum string) bool {
	if value == sum {
		return true
	}
	s512, ok := sha512BySHA3.Load(sum)
	return ok && value == s512.(string)
}

func sha3File(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha3.Sum512(data)
	return hex.EncodeToString(sum[:])
}

// checkConsistent asserts the invariants a user relies on after any run:
// no duplicate JCDS files, and no package object pointing at a file the
// JCDS does not hold.
func checkConsistent(t *testing.T, sim *jamfsim.Server) {
	t.Helper()
	st := sim.State()
	files := map[string]bool{}
	for _, f := range st.Files {
		files[f.Name] = true
	}
	for _, f := range st.Files {
		ext := filepath.Ext(f.Name)
		base := strings.TrimSuffix(f.Name, ext)
		if i := strings.LastIndex(base, "_"); i > 0 && files[base[:i]+ext] {
			t.Errorf("duplicate JCDS file %s beside %s", f.Name, base[:i]+ext)
		}
	}
	for _, p := range st.Packages {
		if !files[p.FileName] {
			t.Errorf("package object %q (id %s) points at %q, which the JCDS does not hold", p.Name, p.ID, p.FileName)
		}
	}
}

func boolOut(t *testing.T, env plistio.Env, key string) bool {
	t.Helper()
	b, ok := env[key].(bool)
	if !ok {
		t.Fatalf("output %s = %#v, want a boolean", key, env[key])
	}
	return b
}

func stringOut(t *testing.T, env plistio.Env, key string) string {
	t.Helper()
	s, ok := env[key].(string)
	if !ok {
		t.Fatalf("output %s = %#v, want a string", key, env[key])
	}
	return s
}

func encodeBinary(t *testing.T, env plistio.Env) []byte {
	t.Helper()
	data, err := plist.Marshal(map[string]any(env), plist.BinaryFormat)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// startBinary starts the uploader with env on stdin and extra process
// environment.
func startBinary(t *testing.T, r *rig, env plistio.Env, extra []string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	input, err := plistio.Encode(env)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &stderr
	cmd.Env = append(r.environ(), extra...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// waitUntil polls cond while the run started by startBinary goes on; if it
// does not hold within 30 s the run is killed and the test fails with what
// never happened.
func waitUntil(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer, never string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("%s within 30 s:\n%s", never, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
