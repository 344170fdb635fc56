package jamf

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
)

type credKind int

const (
	credBasic credKind = iota + 1
	credOAuth
	credBearer
)

func (k credKind) String() string {
	switch k {
	case credBasic:
		return "basic"
	case credOAuth:
		return "oauth"
	default:
		return "bearer"
	}
}

type credentials struct {
	kind    credKind
	account string // user name or API client id
	// secret is the password or client secret; for credBearer the token.
	// Empty until read from the keychain when keychain is set.
	secret   string
	keychain bool
	// discover: neither account nor secret was given; both come from the
	// login keychain, and kind is settled by the account found there.
	discover bool
	once     sync.Once
	err      error
}

func (c *credentials) renewable() bool { return c.kind != credBearer }

// describe names the credential in messages, never its secret part.
func (c *credentials) describe() string {
	var s string
	switch c.kind {
	case 0:
		return "the account in the login keychain"
	case credBasic:
		s = fmt.Sprintf("user %q (basic auth)", c.account)
	case credOAuth:
		s = fmt.Sprintf("API client %q", c.account)
	default:
		return "the given bearer token"
	}
	if c.keychain {
		s += " with the secret from the login keychain"
	}
	return s
}

func pickCredentials(cfg Config, goos string) (*credentials, error) {
	switch {
	case cfg.BearerToken != "":
		return &credentials{kind: credBearer, secret: cfg.BearerToken}, nil
	case cfg.ClientID != "" && cfg.ClientSecret != "":
		return &credentials{kind: credOAuth, account: cfg.ClientID, secret: cfg.ClientSecret}, nil
	case cfg.Username != "" && cfg.Password != "":
		return &credentials{kind: credBasic, account: cfg.Username, secret: cfg.Password}, nil
	}
	darwin := goos == "darwin"
	switch {
	case cfg.ClientID != "" && darwin:
		return &credentials{kind: credOAuth, account: cfg.ClientID, keychain: true}, nil
	case cfg.Username != "" && darwin:
		return &credentials{kind: credBasic, account: cfg.Username, keychain: true}, nil
	case cfg.ClientID != "":
		return nil, fmt.Errorf("no client secret (CLIENT_SECRET) for API client %q; the login keychain is only read on macOS", cfg.ClientID)
	case cfg.Username != "":
		return nil, fmt.Errorf("no password (API_PASSWORD) for user %q; the login keychain is only read on macOS", cfg.Username)
	case cfg.ClientSecret != "":
		return nil, errors.New("a client secret but no client id (CLIENT_ID) given")
	case cfg.Password != "":
		return nil, errors.New("a password but no user name (API_USERNAME) given")
	case darwin:
		// Only JSS_URL given: the login keychain holds account and secret,
		// as JamfUploader's set-credentials.sh leaves them.
		return &credentials{keychain: true, discover: true}, nil
	}
	return nil, errors.New("no credentials: give API_USERNAME and API_PASSWORD, CLIENT_ID and CLIENT_SECRET, or BEARER_TOKEN (on macOS the login keychain may hold them)")
}

// resolveSecret reads a missing password or client secret from the macOS
// login keychain, once.
func (c *Client) resolveSecret(ctx context.Context) error {
	cr := c.cred
	if !cr.keychain {
		return nil
	}
	cr.once.Do(func() {
		// The keychain item's server is the Jamf Pro URL as configured; some
		// people store the bare host name, so that is tried second.
		servers := []string{c.base}
		if cr.discover {
			// Only the item for the URL itself: a bare host name could be a
			// browser's saved password for the web interface.
			if cr.err = c.discoverAccount(ctx); cr.err != nil {
				return
			}
		} else if u, err := url.Parse(c.base); err == nil && u.Host != c.base {
			servers = append(servers, u.Host)
		}
		for _, s := range servers {
			out, err := c.hooks.runCmd(ctx, "/usr/bin/security", "find-internet-password", "-s", s, "-a", cr.account, "-w")
			v := strings.TrimRight(string(out), "\r\n")
			if err == nil && v != "" {
				secret.Register(v)
				cr.secret = v
				c.log.Debug().Str("account", cr.account).Str("server", s).Msg("secret read from the login keychain")
				return
			}
		}
		// The command's output is not quoted: on failure it may hold nothing
		// useful, and on partial success it could hold the secret.
		cr.err = fmt.Errorf("authenticate %s at %s: no secret given and none found in the login keychain (security find-internet-password -s %s -a %s)",
			cr.describe(), c.base, c.base, cr.account)
	})
	return cr.err
}

type token struct {
	value   string
	issued  time.Time
	expires time.Time
	own     bool // issued to this run by the server, not read from the cache
}

// ownFreshToken reports whether tok is the token this run got from the
// server and it is not near expiry: a 401 on it is not about the token.
func (c *Client) ownFreshToken(tok string) bool {
	c.mu.Lock()
	t := *c.tok
	c.mu.Unlock()
	return tok != "" && t.value == tok && t.own && c.fresh(t)
}

// fresh reports whether t is usable for a while yet: not within a margin of
// its expiry. The margin is a third of the token's life, at most 5 minutes,
// so short-lived API-client tokens are still reused.
func (c *Client) fresh(t token) bool {
	if t.value == "" {
		return false
	}
	life := t.expires.Sub(t.issued)
	margin := min(5*time.Minute, life/3)
	return c.hooks.now().Add(margin).Before(t.expires)
}

// Authenticate makes sure the client holds a usable token, reusing a cached
// one when it is fresh. With a ready bearer token it sends nothing.
func (c *Client) Authenticate(ctx context.Context) error {
	_, err := c.bearer(ctx)
	return err
}

// EnsureFreshToken renews the token if it is close to expiry; call it before
// a step that follows long work such as a multi-GB upload.
func (c *Client) EnsureFreshToken(ctx context.Context) error {
	_, err := c.bearer(ctx)
	return err
}

// bearer returns a token that is not about to expire.
func (c *Client) bearer(ctx context.Context) (string, error) {
	if c.cred.kind == credBearer {
		return c.cred.secret, nil
	}
	c.mu.Lock()
	t := *c.tok
	c.mu.Unlock()
	if c.fresh(t) {
		return t.value, nil
	}
	return c.obtain(ctx, "")
}

// renewToken replaces a token the server rejected.
func (c *Client) renewToken(ctx context.Context, stale string) error {
	_, err := c.obtain(ctx, stale)
	return err
}

// obtain gets a fresh token, from the shared cache if another run left a
// good one there, else from the server. stale is a token known to be
// rejected, never to be reused. Within the process, one goroutine asks and
// the others (pod pollers, a retry after a 401) wait for its token instead
// of asking too; a waiter whose ctx ends stops waiting. A file lock makes
// concurrent runs wait for the one that is asking, so they share a single
// token request.
func (c *Client) obtain(ctx context.Context, stale string) (string, error) {
	select {
	case c.authSem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("authenticate %s at %s: %w", c.cred.describe(), c.base, context.Cause(ctx))
	}
	defer func() { <-c.authSem }()
	c.mu.Lock()
	t := *c.tok
	c.mu.Unlock()
	if t.value != stale && c.fresh(t) {
		return t.value, nil // another goroutine renewed it meanwhile
	}
	if err := c.resolveSecret(ctx); err != nil {
		return "", err
	}
	fp := c.fingerprint()
	key := c.cacheKey()
	cache := c.cache
	if cache != nil {
		unlock, err := cache.lock(ctx, key)
		if err != nil {
			c.log.Warn().Err(err).Msg("token cache not locked; asking for a token of our own")
			cache = nil
		} else {
			defer unlock()
			if e, ok := cache.load(key); ok {
				t := token{value: e.Token, issued: e.Issued, expires: e.Expires}
				switch {
				case e.Fingerprint != fp:
					c.log.Debug().Msg("cached token belongs to other credentials; not reused")
				case e.Token == stale:
					c.log.Debug().Msg("cached token was rejected; not reused")
				case !c.fresh(t):
					c.log.Debug().Time("expires", e.Expires).Msg("cached token expires soon; not reused")
				default:
					secret.Register(e.Token)
					c.setToken(t)
					c.log.Debug().Time("expires", e.Expires).Msg("reusing cached token")
					return t.value, nil
				}
			}
		}
	}
	t, err := c.requestToken(ctx)
	if err != nil {
		return "", err
	}
	c.setToken(t)
	if cache != nil {
		e := cacheEntry{Token: t.value, Issued: t.issued, Expires: t.expires, Fingerprint: fp, URL: c.base, Account: c.cred.account}
		if err := cache.store(key, e); err != nil {
			c.log.Warn().Err(err).Msg("token not cached")
		}
	}
	return t.value, nil
}

func (c *Client) setToken(t token) {
	c.mu.Lock()
	*c.tok = t
	c.mu.Unlock()
}

// cacheKey names the cache file: a hash of URL, kind and account, so the
// file name says nothing about the server and nothing secret.
func (c *Client) cacheKey() string {
	h := sha256.Sum256([]byte("jcds2-uploader token key\x00" + c.base + "\x00" + c.cred.kind.String() + "\x00" + c.cred.account))
	return hex.EncodeToString(h[:16])
}

// fingerprint identifies the credentials a cached token was made with, so a
// changed password does not keep using a token issued to the old one.
func (c *Client) fingerprint() string {
	h := sha256.Sum256([]byte("jcds2-uploader token fingerprint\x00" + c.base + "\x00" + c.cred.kind.String() + "\x00" + c.cred.account + "\x00" + c.cred.secret))
	return hex.EncodeToString(h[:])
}

// OAuth client-credentials token paths: the current one, and the deprecated
// one older servers offer instead.
const (
	oauthPath       = "/api/v1/oauth/token"
	oauthLegacyPath = "/api/oauth/token"
)

// requestToken asks the server for a new token.
func (c *Client) requestToken(ctx context.Context) (token, error) {
	c.tokenRequests.Add(1)
	issued := c.hooks.now()
	r := request{
		step:   fmt.Sprintf("authenticate %s at %s", c.cred.describe(), c.base),
		method: http.MethodPost,
		noAuth: true,
		header: http.Header{},
	}
	switch c.cred.kind {
	case credOAuth:
		r.path = oauthPath
		form := url.Values{"client_id": {c.cred.account}, "client_secret": {c.cred.secret}, "grant_type": {"client_credentials"}}
		secret.Register(url.QueryEscape(c.cred.secret))
		r.body = bytesBody([]byte(form.Encode()))
		r.contentType = "application/x-www-form-urlencoded"
		r.statusHint = map[int]string{
			http.StatusUnauthorized: "wrong client id or secret, or the API client is disabled",
			http.StatusBadRequest:   "wrong client id or secret, or the API client is disabled",
		}
	default:
		r.path = "/api/v1/auth/token"
		basic := base64.StdEncoding.EncodeToString([]byte(c.cred.account + ":" + c.cred.secret))
		secret.Register(basic)
		r.header.Set("Authorization", "Basic "+basic)
		r.statusHint = map[int]string{
			http.StatusUnauthorized: "wrong user name or password, or the account is disabled",
		}
	}
	resp, err := c.do(ctx, r)
	if c.cred.kind == credOAuth && isNotFound(err) {
		// /api/v1/oauth/token is the current path (the only one in the
		// 11.23+ schemas); only a server that lacks it gets the deprecated
		// one.
		c.log.Debug().Msg("no " + oauthPath + "; using the deprecated " + oauthLegacyPath)
		r.path = oauthLegacyPath
		r.statusHint[http.StatusNotFound] = "this Jamf Pro is older than 10.49 and has no API clients; use a user name and password"
		resp, err = c.do(ctx, r)
	}
	if err != nil {
		return token{}, err
	}
	t := token{issued: issued, own: true}
	if c.cred.kind == credOAuth {
		var out struct {
			AccessToken string      `json:"access_token"`
			ExpiresIn   json.Number `json:"expires_in"`
		}
		if err := json.Unmarshal(resp.body, &out); err != nil || out.AccessToken == "" {
			return token{}, fmt.Errorf("%s: POST %s: HTTP %d: reply has no access_token", r.step, r.path, resp.status)
		}
		t.value = out.AccessToken
		secs, err := out.ExpiresIn.Float64()
		if err != nil || secs <= 0 {
			secs = 60 // the shortest lifetime Jamf Pro lets an API client have
		}
		t.expires = issued.Add(time.Duration(secs * float64(time.Second)))
	} else {
		var out struct {
			Token   string          `json:"token"`
			Expires json.RawMessage `json:"expires"`
		}
		if err := json.Unmarshal(resp.body, &out); err != nil || out.Token == "" {
			return token{}, fmt.Errorf("%s: POST %s: HTTP %d: reply has no token", r.step, r.path, resp.status)
		}
		t.value = out.Token
		exp, ok := parseTime(out.Expires)
		if !ok || !exp.After(issued) {
			exp = issued.Add(20 * time.Minute) // Jamf Pro's default is 30
		}
		t.expires = exp
	}
	secret.Register(t.value)
	c.log.Debug().Str("credential", c.cred.describe()).Time("expires", t.expires).Msg("new token")
	return t, nil
}

// parseTime reads a time sent as an ISO 8601 string or as epoch seconds or
// milliseconds; Jamf Pro versions differ.
func parseTime(raw json.RawMessage) (time.Time, bool) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return time.Time{}, false
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if json.Unmarshal(raw, &str) != nil {
			return time.Time{}, false
		}
		s = strings.TrimSpace(str)
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t, true
			}
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	if n > 1e11 { // milliseconds
		return time.UnixMilli(int64(n)), true
	}
	return time.Unix(int64(n), 0), true
}
