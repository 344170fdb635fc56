package jamf

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeJamf is a minimal Jamf Pro for one test: it hands out basic-auth and
// OAuth tokens and passes every other request to api.
type fakeJamf struct {
	t          *testing.T
	srv        *httptest.Server
	user, pass string
	id, secret string
	ttl        time.Duration
	tokens     atomic.Int64 // token requests answered
	calls      atomic.Int64 // API (non-token) requests
	mu         sync.Mutex
	valid      map[string]bool // issued tokens still accepted
	tokenFail  atomic.Int64    // when set, token requests get this status
	// legacyOAuth makes the fake an older server with only /api/oauth/token.
	legacyOAuth atomic.Bool
	oauthPaths  []string // token paths asked, in order
	api         http.HandlerFunc
}

func newFake(t *testing.T, api http.HandlerFunc) *fakeJamf {
	t.Helper()
	f := &fakeJamf{t: t, user: "admin", pass: "s3cret-pass", id: "client-1", secret: "client-secret-xyz",
		ttl: 30 * time.Minute, valid: map[string]bool{}, api: api}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeJamf) issue() string {
	n := f.tokens.Add(1)
	tok := "tok-" + strings.Repeat("x", 8) + "-" + time.Now().Format("150405.000000000") + "-" + string(rune('a'+n%26))
	f.mu.Lock()
	f.valid[tok] = true
	f.mu.Unlock()
	return tok
}

func (f *fakeJamf) revokeAll() {
	f.mu.Lock()
	f.valid = map[string]bool{}
	f.mu.Unlock()
}

func (f *fakeJamf) serve(w http.ResponseWriter, r *http.Request) {
	if st := f.tokenFail.Load(); st != 0 && (r.URL.Path == "/api/v1/auth/token" || strings.HasSuffix(r.URL.Path, "/oauth/token")) {
		f.tokens.Add(1)
		w.WriteHeader(int(st))
		return
	}
	switch r.URL.Path {
	case "/api/v1/auth/token":
		u, p, ok := r.BasicAuth()
		if !ok || u != f.user || p != f.pass {
			f.tokens.Add(1)
			writeJSONError(w, 401, "INVALID_CREDENTIALS", "Unauthorized")
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"token": f.issue(),
			"expires": time.Now().Add(f.ttl).UTC().Format("2006-01-02T15:04:05.000Z")})
		return
	case "/api/oauth/token", "/api/v1/oauth/token":
		f.mu.Lock()
		f.oauthPaths = append(f.oauthPaths, r.URL.Path)
		f.mu.Unlock()
		if f.legacyOAuth.Load() && r.URL.Path == "/api/v1/oauth/token" {
			writeJSONError(w, 404, "NOT_FOUND", "Not Found")
			return
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" ||
			r.PostForm.Get("client_id") != f.id || r.PostForm.Get("client_secret") != f.secret {
			f.tokens.Add(1)
			w.WriteHeader(401)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": f.issue(), "token_type": "Bearer",
			"expires_in": int(f.ttl / time.Second), "scope": "api-role:1"})
		return
	}
	f.calls.Add(1)
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	ok := f.valid[tok]
	f.mu.Unlock()
	if !ok {
		writeJSONError(w, 401, "INVALID_TOKEN", "Unauthorized")
		return
	}
	if f.api == nil {
		http.NotFound(w, r)
		return
	}
	f.api(w, r)
}

func writeJSONError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"httpStatus": status,
		"errors": []map[string]any{{"code": code, "description": desc, "id": "0", "field": nil}}})
}

// testEnv records what the client's hooks saw.
type testEnv struct {
	mu     sync.Mutex
	sleeps []time.Duration
	clock  *fakeClock
}

func (e *testEnv) slept() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]time.Duration(nil), e.sleeps...)
}

type fakeClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// testHooks returns hooks that record sleeps instead of sleeping and use a
// clock the test can move forward.
func testHooks(env *testEnv) hooks {
	h := defaultHooks()
	env.clock = &fakeClock{}
	h.now = env.clock.now
	h.sleep = func(ctx context.Context, d time.Duration) error {
		env.mu.Lock()
		env.sleeps = append(env.sleeps, d)
		env.mu.Unlock()
		return ctx.Err()
	}
	h.runCmd = func(context.Context, string, ...string) ([]byte, error) {
		panic("keychain used unexpectedly")
	}
	h.apiTimeout = 5 * time.Second
	return h
}

// client makes a basic-auth client for f with its own cache folder.
func (f *fakeJamf) client(t *testing.T, mod func(*Config, *hooks)) (*Client, *testEnv) {
	t.Helper()
	env := &testEnv{}
	h := testHooks(env)
	cfg := Config{URL: f.srv.URL + "/", Username: f.user, Password: f.pass, CacheDir: filepath.Join(t.TempDir(), "tokens"),
		MaxTries: 4, Sleep: 10 * time.Millisecond, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)}
	if mod != nil {
		mod(&cfg, &h)
	}
	c, err := newClient(cfg, h)
	if err != nil {
		t.Fatalf("newClient: %v", err)
	}
	return c, env
}

func jsonReply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
