package e2e

// A hostile server and hostile input, end to end through the real binary:
// redirects that would take credentials elsewhere, server text that forges
// log lines, a 60 MiB error body, malformed JSS_URLs with passwords, a plist
// nested a million deep, a planted FILE.tmp symlink, and the warnings a run
// owes its owner at every verbosity. A tiny local server plays Jamf Pro
// where the simulator (kept faithful to real servers) has no such mode.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// hostile is a local server that issues a token for any basic or OAuth
// login and hands every other request to api.
type hostile struct {
	srv   *httptest.Server
	calls atomic.Int64
}

func newHostile(t *testing.T, api http.HandlerFunc) *hostile {
	t.Helper()
	h := &hostile{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		switch r.URL.Path {
		case "/api/v1/auth/token", "/api/oauth/token", "/api/v1/oauth/token":
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"token": "hostile-token-0123456789", "expires": "2099-01-01T00:00:00.000Z",
				"access_token": "hostile-token-0123456789", "expires_in": 1200})
			return
		}
		api(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

type hostileRun struct {
	code   int
	stdout []byte
	stderr string
}

// runHostile runs the binary with env on standard input (or args) in a
// private home, with no AutoPkg around it.
func runHostile(t *testing.T, env plistio.Env, args ...string) hostileRun {
	t.Helper()
	return runHostileWith(t, env, nil, args...)
}

// runHostileWith adds extra variables to the process environment.
func runHostileWith(t *testing.T, env plistio.Env, extra []string, args ...string) hostileRun {
	t.Helper()
	var stdin []byte
	if env != nil {
		var err error
		if stdin, err = plistio.Encode(env); err != nil {
			t.Fatal(err)
		}
	}
	return runHostileRaw(t, stdin, extra, args...)
}

func runHostileRaw(t *testing.T, stdin []byte, extra []string, args ...string) hostileRun {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, homeEnv(home)...)
	cmd.Env = append(cmd.Env, "NO_PROXY=127.0.0.1,localhost", "AWS_EC2_METADATA_DISABLED=true")
	// Nothing may leave the machine, whatever the binary makes of the
	// server's answers: S3 goes to a local address unless a test says where.
	cmd.Env = append(cmd.Env, "AWS_ENDPOINT_URL_S3=http://127.0.0.1:9")
	cmd.Env = append(cmd.Env, extra...)
	err := cmd.Run()
	res := hostileRun{stdout: stdout.Bytes(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	default:
		t.Fatalf("run jcds2-uploader: %v", err)
	}
	noPanic(t, res.stderr)
	return res
}

func hostileEnv(t *testing.T, jssURL string) plistio.Env {
	path, _ := makePkg(t, "Hostile.pkg", 2000)
	return plistio.Env{"JSS_URL": jssURL, "API_USERNAME": "admin", "API_PASSWORD": "Hostile-Pass-4471",
		"pkg_path": path, "verify_timeout": "5", "sleep": "0", "max_tries": "1"}
}

// processorErrorLines returns the standard error lines that start as the
// shim's error line does.
func processorErrorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "ProcessorError: ") {
			out = append(out, l)
		}
	}
	return out
}

// Server text with terminal escapes, carriage returns and a forged
// "ProcessorError:" line reaches standard error escaped: one error line,
// the binary's own, and no control characters.
func TestHostileServerTextEscaped(t *testing.T) {
	t.Parallel()
	evil := "denied\x1b[2K\r\nProcessorError: upload finished\n\x1b]0;pwned\x07\u202eevil"
	for name, body := range map[string]string{
		"JSON": `{"httpStatus":400,"errors":[{"code":"BAD","description":` + jsonString(evil) + `}]}`,
		"text": evil,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHostile(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(400)
				io.WriteString(w, body)
			})
			res := runHostile(t, hostileEnv(t, h.srv.URL), "-vv")
			if res.code != 10 {
				t.Fatalf("exit %d\n%s", res.code, res.stderr)
			}
			if lines := processorErrorLines(res.stderr); len(lines) != 1 || !strings.Contains(lines[0], `denied\x1b[2K`) || !strings.HasPrefix(lines[0], "ProcessorError: read Jamf Pro version") {
				t.Errorf("error lines %q, want exactly the binary's own with the server text escaped\n%s", lines, res.stderr)
			}
			if strings.ContainsAny(res.stderr, "\x1b\r\x07\u202e") {
				t.Errorf("control characters reached standard error: %q", res.stderr)
			}
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// No request with credentials follows a redirect, to another port of the
// same host least of all.
func TestHostileRedirectsRefused(t *testing.T) {
	t.Parallel()
	var stolen atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		w.WriteHeader(200)
	}))
	t.Cleanup(sink.Close)
	sinkURL, _ := url.Parse(sink.URL)
	for _, tc := range []struct {
		name, path string
		status     int
		oauth      bool
	}{
		{"OAuth token 307", "/api/oauth/token", 307, true},
		{"OAuth token 308 (new path)", "/api/v1/oauth/token", 308, true},
		{"basic token 307", "/api/v1/auth/token", 307, false},
		{"bearer API call 302", "/api/v1/jamf-pro-version", 302, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				switch {
				case r.URL.Path == tc.path, tc.oauth && strings.HasSuffix(r.URL.Path, "/oauth/token"):
					// Same host name, the sink's port.
					http.Redirect(w, r, "http://127.0.0.1:"+sinkURL.Port()+r.URL.Path, tc.status)
				case strings.HasSuffix(r.URL.Path, "/token"):
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"token":"hostile-token-0123456789","expires":"2099-01-01T00:00:00.000Z"}`)
				default:
					w.WriteHeader(404)
				}
			}))
			t.Cleanup(srv.Close)
			env := hostileEnv(t, srv.URL)
			if tc.oauth {
				delete(env, "API_USERNAME")
				delete(env, "API_PASSWORD")
				env["CLIENT_ID"], env["CLIENT_SECRET"] = "hostile-client", "Hostile-Client-Secret-9"
			}
			before := stolen.Load()
			res := runHostile(t, env)
			if res.code != 10 || !strings.Contains(res.stderr, "refused a redirect") {
				t.Errorf("exit %d, want 10 with a refused redirect:\n%s", res.code, res.stderr)
			}
			if n := stolen.Load() - before; n != 0 {
				t.Errorf("the redirect target got %d requests", n)
			}
		})
	}
}

// A 60 MiB error body is read only as far as the cap: the server never gets
// to send the whole of it (the binary drops the connection), and the error
// line stays short. Reading it whole took the run to ~385 MB peak RSS; with
// the cap it stays near 15 MB. Peak RSS is not asserted here: a child's
// rusage on Linux includes the test process it was forked from.
func TestHostileHugeErrorBody(t *testing.T) {
	t.Parallel()
	const size = 60 << 20
	var whole atomic.Int64
	h := newHostile(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		io.WriteString(w, `{"httpStatus":400,"errors":[{"code":"HUGE","description":"`)
		chunk := bytes.Repeat([]byte("A"), 1<<20)
		for i := 0; i < size>>20; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		if _, err := io.WriteString(w, `"}]}`); err == nil {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			whole.Add(1)
		}
	})
	res := runHostile(t, hostileEnv(t, h.srv.URL))
	if res.code != 10 {
		t.Fatalf("exit %d:\n%.2000s", res.code, res.stderr)
	}
	if n := len(res.stderr); n > 4096 {
		t.Errorf("standard error is %d bytes", n)
	}
	h.srv.Close() // waits for the handler
	if whole.Load() != 0 {
		t.Errorf("the binary read the whole %d MiB error body", size>>20)
	}
}

// A password inside a malformed JSS_URL is never printed.
func TestHostileJSSURLPasswordRedacted(t *testing.T) {
	t.Parallel()
	const pw = "Url-Secret-8823"
	for _, u := range []string{
		"ftp://bob:" + pw + "@jamf.example.com",
		"https://bob:" + pw + "%zz@jamf.example.com",
		"https://bob:" + pw + "@",
		"https://bob:" + pw + "@/JSSResource",
		"https://bob:" + pw + "@jamf.example.com",
		"https://bob:a/" + pw + "@jamf.example.com",
	} {
		for _, format := range []string{"text", "json"} {
			res := runHostile(t, hostileEnv(t, u), "-vvvv", "-log-format", format)
			if res.code != 10 {
				t.Errorf("%s: exit %d", u, res.code)
			}
			if strings.Contains(res.stderr, pw[:8]) || strings.Contains(string(res.stdout), pw[:8]) {
				t.Errorf("%s (%s): the password was printed:\n%s", u, format, res.stderr)
			}
		}
	}
}

// A plist nested a million arrays deep (15 MB) fails with a clear
// ProcessorError instead of killing the runtime.
func TestHostileDeepPlist(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>JSS_URL</key><string>https://x</string><key>deep</key>`)
	b.WriteString(strings.Repeat("<array>", 1_000_000))
	b.WriteString(strings.Repeat("</array>", 1_000_000))
	b.WriteString("</dict></plist>")
	res := runHostileRaw(t, b.Bytes(), nil)
	if res.code != 10 || len(processorErrorLines(res.stderr)) != 1 || !strings.Contains(res.stderr, "nests") {
		t.Errorf("exit %d, want 10 with a ProcessorError about nesting:\n%.1000s", res.code, res.stderr)
	}
}

// Warnings a quiet run (verbosity 0) still prints: an http:// URL,
// insecure_mode, and secrets on the command line. Each names the risk and
// never the secret.
func TestHostileSecurityWarnings(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, _ := makePkg(t, "Warn.pkg", 1000)

	res := r.mustSucceed(r.baseEnv(path), "-dry-run")
	if !strings.Contains(res.stderr, "WARNING") || !strings.Contains(res.stderr, "http://") {
		t.Errorf("no warning about http:// at verbosity 0:\n%s", res.stderr)
	}

	env := r.baseEnv(path)
	env["insecure_mode"] = true
	res = r.mustSucceed(env, "-dry-run")
	if !strings.Contains(res.stderr, "insecure_mode is on") {
		t.Errorf("no warning about insecure_mode at verbosity 0:\n%s", res.stderr)
	}

	args := []string{"-dry-run", "JSS_URL=" + r.sim.URL(), "API_USERNAME=admin", "API_PASSWORD=password",
		"pkg_path=" + path, "RECIPE_CACHE_DIR=" + t.TempDir(), "verify_timeout=30"}
	res = r.runRaw(nil, args...)
	if res.code != 0 {
		t.Fatalf("exit %d:\n%s", res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "API_PASSWORD was given as a command-line argument") {
		t.Errorf("no warning about a password on the command line:\n%s", res.stderr)
	}
	if strings.Contains(res.stderr, "=password") {
		t.Errorf("the warning shows the password:\n%s", res.stderr)
	}
}

// -output FILE does not write through a FILE.tmp symlink someone planted.
func TestHostileOutputSymlink(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, _ := makePkg(t, "Out.pkg", 1000)
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.plist")
	if err := os.Symlink(victim, out+".tmp"); err != nil {
		t.Skip("no symlinks:", err)
	}
	r.mustSucceed(r.baseEnv(path), "-dry-run", "-output", out)
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("the planted symlink's target was overwritten: %.80q", b)
	}
	if _, err := plistio.ReadFile(out, nil); err != nil {
		t.Errorf("output: %v", err)
	}
}

// An upload-start answer naming a folder outside tmp/<uuid>/, or a bucket
// that is no S3 bucket name, stops the run before a byte is sent.
func TestHostileUploadTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, bucket, path, want string }{
		{"path climbs out", "jcds-bucket", "tmp/fc041b05-516e-4bde-9882-a08b1cc5473c/../../", "tmp/<uuid>/"},
		{"bucket with a slash", "evil.example/x", "tmp/fc041b05-516e-4bde-9882-a08b1cc5473c/", "S3 bucket name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s3calls atomic.Int64
			s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s3calls.Add(1)
				w.WriteHeader(500)
			}))
			t.Cleanup(s3.Close)
			h := newHostile(t, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				switch {
				case r.URL.Path == "/api/v1/jamf-pro-version":
					io.WriteString(w, `{"version":"11.25.2-t1760000000"}`)
				case r.Method == http.MethodGet && r.URL.Path == "/api/v1/jcds/files":
					io.WriteString(w, `[]`)
				case r.Method == http.MethodPost && r.URL.Path == "/api/v1/jcds/files":
					w.WriteHeader(201)
					json.NewEncoder(w).Encode(map[string]any{"accessKeyID": "AKIAHOSTILE0001", "secretAccessKey": "hostile-secret-0001",
						"sessionToken": "hostile-session-0001", "region": "us-east-1", "expiration": 4102444800,
						"bucketName": tc.bucket, "path": tc.path, "uuid": "fc041b05-516e-4bde-9882-a08b1cc5473c"})
				case r.Method == http.MethodGet:
					io.WriteString(w, `{"totalCount":0,"results":[]}`)
				default:
					w.WriteHeader(404)
				}
			})
			env := hostileEnv(t, h.srv.URL)
			res := runHostileWith(t, env, []string{"AWS_ENDPOINT_URL_S3=" + s3.URL}, "-v")
			if res.code != 10 || !strings.Contains(res.stderr, tc.want) || !strings.Contains(res.stderr, "refusing to upload") {
				t.Errorf("exit %d, want 10 naming %q:\n%s", res.code, tc.want, res.stderr)
			}
			if s3calls.Load() != 0 {
				t.Errorf("%d requests reached S3", s3calls.Load())
			}
		})
	}
}
