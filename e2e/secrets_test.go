package e2e

// Secrets never leave the process: the whole flow runs at every verbosity,
// in both log formats, succeeding and failing, with distinctive test
// secrets, and every byte of standard output, standard error and the output
// plist is searched for them. The secrets the server issues (bearer tokens,
// temporary AWS keys) are read off the wire by a recording proxy in front of
// the simulator, so the search knows the exact values the binary held.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

const (
	secretUser       = "leak-test-admin"
	secretPassword   = "Pw-Zebra-7731-s3cr3t!&<x>"
	secretClientID   = "leak-test-client"
	secretClient     = "Cs-Quokka-9920-s3cr3t"
	secretBadPass    = "Bad-Narwhal-4412-s3cr3t"
	secretLimitedPwd = "Lim-Okapi-5150-s3cr3t"
)

// inputSecretKeys are the environment keys that carry secrets in.
var inputSecretKeys = []string{"API_PASSWORD", "CLIENT_SECRET", "BEARER_TOKEN"}

// issuedSecrets returns the secret values in the recorded server answers:
// bearer tokens and the temporary AWS keys.
var issuedRe = regexp.MustCompile(`"(token|access_token|accessKeyID|secretAccessKey|sessionToken)"\s*:\s*"([^"]+)"`)

func (rec *recorder) issuedSecrets() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for _, b := range rec.bodies {
		for _, m := range issuedRe.FindAllSubmatch(b, -1) {
			out = append(out, string(m[2]))
		}
	}
	return out
}

// leakForms are the ways a value could show up in text: as is, JSON- or
// URL-escaped, base64 (e.g. inside a basic-auth header), and, for long
// values, any 16-character slice of it (a truncated or wrapped dump).
func leakForms(s string) []string {
	forms := []string{s, url.QueryEscape(s), url.PathEscape(s), base64.StdEncoding.EncodeToString([]byte(s))}
	if j, err := json.Marshal(s); err == nil {
		forms = append(forms, strings.Trim(string(j), `"`))
	}
	forms = append(forms, strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s))
	// Slices of the random part only: the simulator's tokens share a fixed
	// JWT-like header that is not secret by itself.
	core := s
	if i := strings.LastIndex(s, "."); i >= 0 && len(s)-i > 20 {
		core = s[i+1:]
	}
	const w = 16
	if len(core) >= 2*w {
		for i := 0; i+w <= len(core); i += w / 2 {
			forms = append(forms, core[i:i+w])
		}
	}
	return forms
}

// findSecrets returns a description of every secret found in data.
func findSecrets(data []byte, secrets []string) []string {
	var found []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, f := range leakForms(s) {
			if i := bytes.Index(data, []byte(f)); i >= 0 {
				lo, hi := max(0, i-60), min(len(data), i+len(f)+20)
				found = append(found, fmt.Sprintf("%q… at byte %d: …%s…", f[:min(6, len(f))], i, data[lo:hi]))
				break
			}
		}
	}
	return found
}

func scanForSecrets(t *testing.T, where string, data []byte, secrets []string) {
	t.Helper()
	for _, f := range findSecrets(data, secrets) {
		t.Errorf("%s holds a secret: %s", where, f)
	}
}

// TestLeakScanner: the scanner itself finds secrets in the forms a log
// could carry them, and does not cry wolf.
func TestLeakScanner(t *testing.T) {
	t.Parallel()
	tok := "eyJzaW0iOiJqYW1mc2ltIn0.Q2xhcmlmeWluZ1RoZVNjYW5uZXJXb3Jrc0Zvcl90ZXN0aW5n"
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"password=" + secretPassword, true},
		{`{"pw":"Pw-Zebra-7731-s3cr3t!\u0026\u003cx\u003e"}`, true},
		{"<string>Pw-Zebra-7731-s3cr3t!&amp;&lt;x&gt;</string>", true},
		{"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(secretPassword)), true},
		{"token " + tok[40:60] + "…", true},
		{"token eyJzaW0iOiJqYW1mc2ltIn0.[redacted]", false},
		{"nothing to see", false},
	} {
		got := len(findSecrets([]byte(tc.text), []string{secretPassword, tok})) > 0
		if got != tc.want {
			t.Errorf("findSecrets(%q) found=%v, want %v", tc.text, got, tc.want)
		}
	}
}

// scanOutputPlist scans the output environment: no secret, given or
// issued, may appear in it, not even the credential inputs echoed back.
func scanOutputPlist(t *testing.T, in, out plistio.Env, raw []byte, given, issued []string) {
	t.Helper()
	scanForSecrets(t, "standard output", raw, append(append([]string(nil), given...), issued...))
	for _, k := range inputSecretKeys {
		if _, ok := out[k]; ok {
			t.Errorf("output plist echoes the credential input %s", k)
		}
	}
	_ = in
}

type secretScenario struct {
	name    string
	backend backend
	setup   func(r *rig, env plistio.Env)
	fail    string // substring of the ProcessorError; "" = must succeed
	version string // Jamf Pro version; "" for the simulator's default
}

func secretScenarios() []secretScenario {
	return []secretScenario{
		{name: "basic auth upload, MinIO STS keys", backend: minio, setup: func(r *rig, env plistio.Env) {}},
		{name: "OAuth client upload", backend: fakeS3, setup: func(r *rig, env plistio.Env) {
			delete(env, "API_USERNAME")
			delete(env, "API_PASSWORD")
			env["CLIENT_ID"] = secretClientID
			env["CLIENT_SECRET"] = secretClient
		}},
		{name: "BEARER_TOKEN input", backend: fakeS3, setup: func(r *rig, env plistio.Env) {
			delete(env, "API_USERNAME")
			delete(env, "API_PASSWORD")
			env["BEARER_TOKEN"] = fetchToken(r.t, r.sim.URL(), secretUser, secretPassword)
		}},
		// Only below 11.5 does a replace delete the old file first.
		{name: "replace with failing delete", backend: fakeS3, version: classic, fail: "could not delete the stale JCDS file", setup: func(r *rig, env plistio.Env) {
			// An upload of long ago, which every cluster node shows: a run
			// of moments ago would leave the next on a node that waits for it.
			name := env["pkg_name"].(string)
			r.sim.AddFile(name, make([]byte, 4096))
			r.sim.AddPackage(jamfsim.Package{Name: name, FileName: name, Priority: 10, RequiredProcessor: "None"})
			p, _ := makePkg(r.t, name, 4097)
			env["pkg_path"] = p
			env["replace_pkg"] = true
			env["max_tries"] = uint64(1)
			r.sim.InjectFault(jamfsim.Fault{Method: "DELETE", Path: "/api/v1/jcds/files/*", Status: 500, Count: -1})
		}},
		{name: "bad password", backend: fakeS3, fail: "401", setup: func(r *rig, env plistio.Env) {
			env["API_PASSWORD"] = secretBadPass
		}},
		{name: "403 missing privilege", backend: fakeS3, fail: "403", setup: func(r *rig, env plistio.Env) {
			r.sim.AddAccount("limited", secretLimitedPwd, jamfsim.PrivReadPackages, jamfsim.PrivCreatePackages,
				jamfsim.JCDSPrivilege("11.25.0", "Read"))
			env["API_USERNAME"] = "limited"
			env["API_PASSWORD"] = secretLimitedPwd
		}},
		{name: "S3 refuses the upload, MinIO STS keys", backend: minio, fail: "AccessDenied", setup: func(r *rig, env plistio.Env) {
			r.sim.InjectFault(jamfsim.Fault{Path: "/" + r.sim.Bucket() + "/tmp/*", S3: true, Status: 403, Count: -1,
				Body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`})
		}},
	}
}

// verbosityArgs spells each level both ways the binary reads it.
var verbosityArgs = []struct {
	level int
	args  []string
	env   bool // set the environment's verbose key instead of flags
}{
	{0, nil, false},
	{1, []string{"-v"}, false},
	{2, []string{"-vv"}, false},
	{3, nil, true},
	{4, []string{"-vvvv"}, false},
}

func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	for _, sc := range secretScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, sc.backend, jamfsim.Options{
				Username: secretUser, Password: secretPassword,
				ClientID: secretClientID, ClientSecret: secretClient, JamfVersion: sc.version,
			})
			rec := startRecorder(t, r.sim.URL())
			given := []string{secretPassword, secretClient, secretBadPass, secretLimitedPwd}
			n := 0
			for _, format := range []string{"text", "json"} {
				for _, vb := range verbosityArgs {
					n++
					name := fmt.Sprintf("Leak Test %d.pkg", n)
					path, _ := makePkg(t, name, 4096)
					env := r.baseEnv(path)
					env["JSS_URL"] = rec.URL()
					env["API_USERNAME"] = secretUser
					env["API_PASSWORD"] = secretPassword
					env["pkg_name"] = name
					freshHome(r) // every run fetches its own token
					r.sim.ClearFaults()
					sc.setup(r, env)
					if tok, ok := env["BEARER_TOKEN"].(string); ok {
						given = append(given, tok)
					}
					args := append([]string{"-log-format", format}, vb.args...)
					if vb.env {
						env["verbose"] = uint64(vb.level)
					}
					res := r.run(env, args...)
					noPanic(t, res.stderr)
					label := fmt.Sprintf("%s verbose %d", format, vb.level)
					if sc.fail == "" {
						if res.code != 0 {
							t.Fatalf("%s: exit %d\n%s", label, res.code, res.stderr)
						}
					} else if res.code != 10 || !strings.Contains(res.stderr, "ProcessorError: ") || !strings.Contains(res.stderr, sc.fail) {
						t.Fatalf("%s: exit %d, want a ProcessorError with %q:\n%s", label, res.code, sc.fail, res.stderr)
					}
					if vb.level >= 4 && sc.fail == "" && !strings.Contains(res.stderr, "jamf request") {
						t.Errorf("%s: the most verbose log shows no requests; is verbosity applied?\n%s", label, res.stderr)
					}
					issued := rec.issuedSecrets()
					all := append(append([]string{}, given...), issued...)
					scanForSecrets(t, label+" standard error", []byte(res.stderr), all)
					if res.code == 0 {
						scanOutputPlist(t, env, res.out, res.stdout, given, issued)
					} else {
						scanForSecrets(t, label+" standard output", res.stdout, all)
					}
				}
			}
			issued := rec.issuedSecrets()
			t.Logf("%d runs; %d issued secret values checked besides %d given ones", n, len(issued), len(given))
			if sc.name != "bad password" && len(issued) == 0 {
				t.Errorf("the proxy saw no issued secrets; the scan proved nothing")
			}
			if strings.Contains(sc.name, "MinIO") && !hasAWSKeys(rec) {
				t.Errorf("no AWS keys were issued")
			}
			checkTokenCachePrivate(t, r.home)
		})
	}
}

func hasAWSKeys(rec *recorder) bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, b := range rec.bodies {
		if bytes.Contains(b, []byte(`"secretAccessKey"`)) {
			return true
		}
	}
	return false
}

// fetchToken asks the simulator for a bearer token, as a user would have
// one from another tool.
func fetchToken(t *testing.T, base, user, pass string) string {
	t.Helper()
	req, err := http.NewRequest("POST", strings.TrimRight(base, "/")+"/api/v1/auth/token", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" {
		t.Fatalf("token: %v %+v", err, body)
	}
	return body.Token
}

// checkTokenCachePrivate: every folder of the token cache is 0700 and every
// file 0600 (the cache holds live bearer tokens).
func checkTokenCachePrivate(t *testing.T, home string) {
	t.Helper()
	root := cacheDir(t, home)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && fi.Mode().Perm() != 0o700:
			t.Errorf("cache folder %s is %v, want 0700", p, fi.Mode().Perm())
		case !d.IsDir() && fi.Mode().Perm() != 0o600:
			t.Errorf("cache file %s is %v, want 0600", p, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if os.IsNotExist(err) {
		t.Logf("no token cache under %s", root)
	}
}

// TestTokenCachePermissions: after a successful run the cache exists and is
// private.
func TestTokenCachePermissions(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, _ := makePkg(t, "Cache.pkg", 1000)
	r.mustSucceed(r.baseEnv(path))
	root := cacheDir(t, r.home)
	var files []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatalf("no token cache files under %s", root)
	}
	checkTokenCachePrivate(t, r.home)
	fi, err := os.Stat(root)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("%s is %v", root, fi.Mode().Perm())
	}
}
