package jamf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
	"github.com/rs/zerolog"
)

func versionAPI(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/v1/jamf-pro-version" {
		jsonReply(w, 200, map[string]string{"version": "11.25.0-t1700000000"})
		return
	}
	http.NotFound(w, r)
}

func TestNewClientValidation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		goos    string
		wantErr string // "" = valid
		kind    credKind
	}{
		{"basic", Config{URL: "https://x.jamfcloud.com/", Username: "u", Password: "p"}, "linux", "", credBasic},
		{"oauth preferred", Config{URL: "https://x", Username: "u", Password: "p", ClientID: "c", ClientSecret: "s"}, "linux", "", credOAuth},
		{"bearer", Config{URL: "https://x", BearerToken: "tok-123456"}, "linux", "", credBearer},
		{"no url", Config{Username: "u", Password: "p"}, "linux", "no Jamf Pro URL", 0},
		{"bad scheme", Config{URL: "ftp://x", Username: "u", Password: "p"}, "linux", "must start with https://", 0},
		{"no host", Config{URL: "https://", Username: "u", Password: "p"}, "linux", "no host", 0},
		{"creds in url", Config{URL: "https://u:p@x", Username: "u", Password: "p"}, "linux", "must not carry credentials", 0},
		{"no creds", Config{URL: "https://x"}, "linux", "no credentials", 0},
		{"user no password linux", Config{URL: "https://x", Username: "u"}, "linux", `no password (API_PASSWORD) for user "u"`, 0},
		{"client no secret linux", Config{URL: "https://x", ClientID: "c"}, "linux", `no client secret (CLIENT_SECRET) for API client "c"`, 0},
		{"user no password mac", Config{URL: "https://x", Username: "u"}, "darwin", "", credBasic},
		{"client no secret mac", Config{URL: "https://x", ClientID: "c"}, "darwin", "", credOAuth},
		{"full basic pair beats keychain client", Config{URL: "https://x", Username: "u", Password: "p", ClientID: "c"}, "darwin", "", credBasic},
		{"password only", Config{URL: "https://x", Password: "pw"}, "linux", "no user name", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := defaultHooks()
			h.goos = tt.goos
			tt.cfg.CacheDir = "off"
			c, err := newClient(tt.cfg, h)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.cred.kind != tt.kind {
				t.Errorf("kind = %v, want %v", c.cred.kind, tt.kind)
			}
			if strings.HasSuffix(c.base, "/") {
				t.Errorf("base %q keeps a trailing slash", c.base)
			}
		})
	}
}

func TestAuthPaths(t *testing.T) {
	tests := []struct {
		name      string
		mod       func(f *fakeJamf, cfg *Config)
		wantToken int64 // token requests
	}{
		{"basic", func(f *fakeJamf, cfg *Config) {}, 1},
		{"oauth", func(f *fakeJamf, cfg *Config) {
			cfg.Username, cfg.Password, cfg.ClientID, cfg.ClientSecret = "", "", f.id, f.secret
		}, 1},
		{"oauth preferred over basic", func(f *fakeJamf, cfg *Config) {
			cfg.Password = "wrong-password" // would fail if basic were used
			cfg.ClientID, cfg.ClientSecret = f.id, f.secret
		}, 1},
		{"ready bearer token", func(f *fakeJamf, cfg *Config) {
			cfg.Username, cfg.Password = "", ""
			cfg.BearerToken = f.issue()
			f.tokens.Store(0)
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, versionAPI)
			c, _ := f.client(t, func(cfg *Config, h *hooks) { tt.mod(f, cfg) })
			ctx := context.Background()
			if err := c.Authenticate(ctx); err != nil {
				t.Fatal(err)
			}
			v, err := c.Version(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v.Major != 11 || v.Minor != 25 {
				t.Errorf("version = %+v", v)
			}
			if got := f.tokens.Load(); got != tt.wantToken {
				t.Errorf("server saw %d token requests, want %d", got, tt.wantToken)
			}
			if st := c.Stats(); st.TokenRequests != tt.wantToken || st.Requests != tt.wantToken+1 {
				t.Errorf("Stats = %+v, want %d token requests of %d", st, tt.wantToken, tt.wantToken+1)
			}
		})
	}
}

func TestAuthFailureMessages(t *testing.T) {
	tests := []struct {
		name string
		mod  func(cfg *Config)
		want []string
	}{
		{"basic", func(cfg *Config) { cfg.Password = "bad-password-1" },
			[]string{`user "admin" (basic auth)`, "/api/v1/auth/token", "HTTP 401", "wrong user name or"}},
		{"oauth", func(cfg *Config) { cfg.ClientID, cfg.ClientSecret = "client-1", "bad-secret-2" },
			[]string{`API client "client-1"`, "/api/v1/oauth/token", "HTTP 401", "invalid_client", "wrong client id or secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, versionAPI)
			c, env := f.client(t, func(cfg *Config, h *hooks) { tt.mod(cfg) })
			err := c.Authenticate(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range append(tt.want, f.srv.URL) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			for _, s := range []string{"bad-password-1", "bad-secret-2"} {
				if strings.Contains(msg, s) {
					t.Errorf("error shows the secret: %q", msg)
				}
			}
			if n := f.tokens.Load(); n != 1 || len(env.slept()) != 0 {
				t.Errorf("a 401 was retried: %d requests, sleeps %v", n, env.slept())
			}
		})
	}
}

func TestKeychain(t *testing.T) {
	f := newFake(t, versionAPI)
	var gotArgs []string
	tests := []struct {
		name    string
		out     string
		err     error
		wantErr string
	}{
		{"found", f.pass + "\n", nil, ""},
		{"missing", "", errors.New("exit status 44"), "none found in the login keychain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotArgs = nil
			c, _ := f.client(t, func(cfg *Config, h *hooks) {
				cfg.Password = ""
				h.goos = "darwin"
				h.runCmd = func(_ context.Context, name string, args ...string) ([]byte, error) {
					gotArgs = append([]string{name}, args...)
					return []byte(tt.out), tt.err
				}
			})
			err := c.Authenticate(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), `"admin"`) {
					t.Fatalf("err = %v, want %q naming the account", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The second lookup uses the bare host; the first must be the URL.
			want := []string{"/usr/bin/security", "find-internet-password", "-s", f.srv.URL, "-a", "admin", "-w"}
			if strings.Join(gotArgs, " ") != strings.Join(want, " ") {
				t.Errorf("command = %q, want %q", gotArgs, want)
			}
		})
	}
}

func TestTokenCacheReuse(t *testing.T) {
	f := newFake(t, versionAPI)
	dir := filepath.Join(t.TempDir(), "tokens")
	ctx := context.Background()
	run := func(mod func(cfg *Config)) (*Client, error) {
		c, _ := f.client(t, func(cfg *Config, h *hooks) {
			cfg.CacheDir = dir
			if mod != nil {
				mod(cfg)
			}
		})
		_, err := c.Version(ctx)
		return c, err
	}
	for i := 0; i < 3; i++ {
		if _, err := run(nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokens.Load(); n != 1 {
		t.Fatalf("3 runs made %d token requests, want 1", n)
	}
	// File modes.
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("cache folder mode %04o, want 0700", fi.Mode().Perm())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var sawJSON bool
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %04o, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
		if strings.HasSuffix(p, ".tmp") {
			t.Errorf("temporary file left: %s", p)
		}
		if strings.HasSuffix(p, ".json") {
			sawJSON = true
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(f.pass)) {
				t.Errorf("cache file holds the password")
			}
			if strings.Contains(filepath.Base(p), "admin") || strings.Contains(filepath.Base(p), "127.0.0.1") {
				t.Errorf("cache file name %s shows URL or account", filepath.Base(p))
			}
		}
	}
	if !sawJSON {
		t.Fatalf("no cache file in %v", files)
	}

	// A changed password must not reuse the old token, even though the
	// server would still accept it.
	oldPass := f.pass
	f.pass = "new-pass-456"
	if _, err := run(func(cfg *Config) { cfg.Password = f.pass }); err != nil {
		t.Fatal(err)
	}
	if n := f.tokens.Load(); n != 2 {
		t.Errorf("changed password: %d token requests, want 2", n)
	}
	// The old password is now wrong: it must fail, not ride on a cache.
	if _, err := run(func(cfg *Config) { cfg.Password = oldPass }); err == nil {
		t.Errorf("old password authenticated through the cache")
	}
	// Another account on the same server has its own entry.
	f.pass = "s3cret-pass"
	if _, err := run(func(cfg *Config) { cfg.Password = f.pass }); err != nil {
		t.Fatal(err)
	}
	// OAuth with the same folder does not pick up the basic token.
	before := f.tokens.Load()
	if _, err := run(func(cfg *Config) { cfg.ClientID, cfg.ClientSecret = f.id, f.secret }); err != nil {
		t.Fatal(err)
	}
	if f.tokens.Load() != before+1 {
		t.Errorf("oauth run reused a basic-auth token")
	}
}

func TestTokenCacheConcurrentRuns(t *testing.T) {
	f := newFake(t, versionAPI)
	dir := filepath.Join(t.TempDir(), "tokens")
	const runs = 4
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	for i := 0; i < runs; i++ {
		c, _ := f.client(t, func(cfg *Config, h *hooks) { cfg.CacheDir = dir })
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Version(context.Background())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokens.Load(); n != 1 {
		t.Errorf("%d concurrent runs made %d token requests, want 1", runs, n)
	}
}

func TestTokenCacheExpiry(t *testing.T) {
	f := newFake(t, versionAPI)
	f.ttl = 5 * time.Minute // OAuth-like lifetime
	dir := filepath.Join(t.TempDir(), "tokens")
	ctx := context.Background()
	c1, env := f.client(t, func(cfg *Config, h *hooks) { cfg.CacheDir = dir })
	if err := c1.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	// Early in the token's life a second run reuses it.
	c2, env2 := f.client(t, func(cfg *Config, h *hooks) { cfg.CacheDir = dir })
	if err := c2.Authenticate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.tokens.Load(); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
	// Long work later, close to expiry: EnsureFreshToken renews, once.
	env.clock.advance(4 * time.Minute)
	if err := c1.EnsureFreshToken(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c1.EnsureFreshToken(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.tokens.Load(); n != 2 {
		t.Fatalf("after EnsureFreshToken near expiry: %d token requests, want 2", n)
	}
	// The other run, equally late, picks up the renewed token from the cache.
	env2.clock.advance(4 * time.Minute)
	if _, err := c2.Version(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.tokens.Load(); n != 2 {
		t.Errorf("second run made its own token request: %d, want 2", n)
	}
}

func TestTokenRenewOn401(t *testing.T) {
	f := newFake(t, versionAPI)
	c, _ := f.client(t, func(cfg *Config, h *hooks) { cfg.CacheDir = "off" })
	ctx := context.Background()
	if _, err := c.Version(ctx); err != nil {
		t.Fatal(err)
	}
	f.revokeAll() // e.g. the server restarted or the token was invalidated
	if _, err := c.Version(ctx); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if n := f.tokens.Load(); n != 2 {
		t.Errorf("token requests = %d, want 2", n)
	}
}

func TestTokenRenewOn401SkipsStaleCache(t *testing.T) {
	f := newFake(t, versionAPI)
	dir := filepath.Join(t.TempDir(), "tokens")
	ctx := context.Background()
	c1, _ := f.client(t, func(cfg *Config, h *hooks) { cfg.CacheDir = dir })
	if _, err := c1.Version(ctx); err != nil {
		t.Fatal(err)
	}
	f.revokeAll()
	// A new run finds the revoked token in the cache, is refused, and must
	// then ask for a new one rather than reuse the cached one again.
	c2, _ := f.client(t, func(cfg *Config, h *hooks) { cfg.CacheDir = dir })
	if _, err := c2.Version(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.tokens.Load(); n != 2 {
		t.Errorf("token requests = %d, want 2", n)
	}
}

func TestPersistent401(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, 401, "INVALID_TOKEN", "Unauthorized")
	})
	tests := []struct {
		name, path string
		call       func(*Client) error
		want       string
	}{
		{"api", "/api/v1/jamf-pro-version", func(c *Client) error { _, err := c.Version(context.Background()); return err },
			"not allowed to do this"},
		{"jcds", "/api/v1/jcds/files", func(c *Client) error { _, err := c.JCDSFiles(context.Background()); return err },
			`Read "Jamf Cloud Distribution Service Files" (called "Jamf Content Distribution Server Files" before Jamf Pro 11.20)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.tokens.Store(0)
			c, _ := f.client(t, nil)
			err := tt.call(c)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
			if n := f.tokens.Load(); n != 2 {
				t.Errorf("token requests = %d, want 2 (one renewal only)", n)
			}
		})
	}
}

func TestNoSecretsInLogsOrErrors(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		// A server that echoes the Authorization header in its error.
		w.WriteHeader(400)
		fmt.Fprintf(w, "<html><body><p>Error: bad header %s</p></body></html>", r.Header.Get("Authorization"))
	})
	var logs bytes.Buffer
	c, _ := f.client(t, func(cfg *Config, h *hooks) {
		cfg.Logger = zerolog.New(secret.Writer(&logs)).Level(zerolog.DebugLevel)
	})
	_, err := c.FindPackageClassic(context.Background(), "X")
	if err == nil {
		t.Fatal("no error")
	}
	c.mu.Lock()
	tok := c.tok.value
	c.mu.Unlock()
	for _, s := range []string{tok, f.pass} {
		if strings.Contains(err.Error(), s) || strings.Contains(logs.String(), s) {
			t.Errorf("secret %q leaked:\nerr: %v\nlogs: %s", s, err, logs.String())
		}
	}
	if !strings.Contains(err.Error(), "bad header Bearer "+secret.Mask) {
		t.Errorf("error %q does not show the masked server message", err)
	}
}

func TestPrivateDir(t *testing.T) {
	tests := []struct {
		name     string
		existing os.FileMode // 0 = does not exist yet
		ours     bool
		wantErr  string
	}{
		{"new", 0, false, ""},
		{"existing private", 0o700, false, ""},
		{"user folder open to others is refused", 0o755, false, "open to others"},
		{"our default folder is tightened", 0o755, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a", "tokens")
			if tt.existing != 0 {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				os.Chmod(dir, tt.existing)
			}
			err := privateDir(dir, tt.ours)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
				t.Errorf("mode %04o, want 0700", fi.Mode().Perm())
			}
		})
	}
}

func TestOAuthKeychainAndShortTokens(t *testing.T) {
	f := newFake(t, versionAPI)
	f.ttl = 60 * time.Second // the shortest API-client token lifetime
	var calls int
	c, env := f.client(t, func(cfg *Config, h *hooks) {
		cfg.Username, cfg.Password, cfg.ClientID = "", "", f.id
		h.goos = "darwin"
		h.runCmd = func(_ context.Context, name string, args ...string) ([]byte, error) {
			calls++
			if strings.Join(args, " ") != "find-internet-password -s "+f.srv.URL+" -a "+f.id+" -w" {
				return nil, errors.New("exit status 44")
			}
			return []byte(f.secret + "\n"), nil
		}
	})
	ctx := context.Background()
	if _, err := c.Version(ctx); err != nil {
		t.Fatal(err)
	}
	// 30 s later a 60 s token has half its life left: still fresh.
	env.clock.advance(30 * time.Second)
	if err := c.EnsureFreshToken(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.tokens.Load(); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
	// 15 s before expiry it is renewed, and the keychain is not asked again.
	env.clock.advance(15 * time.Second)
	if err := c.EnsureFreshToken(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.tokens.Load(); n != 2 || calls != 1 {
		t.Errorf("token requests = %d (want 2), keychain calls = %d (want 1)", n, calls)
	}
}
