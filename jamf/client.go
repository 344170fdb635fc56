// Package jamf is the Jamf Pro API client of the uploader: authentication
// with a shared token cache, retried requests, the Classic and v1 package
// endpoints, categories and the JCDS 2.0 endpoints.
package jamf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
	"github.com/rs/zerolog"
)

// Config says where Jamf Pro is and how to authenticate.
type Config struct {
	URL                    string // trailing "/" dropped
	Username, Password     string // basic auth, exchanged for a bearer token
	ClientID, ClientSecret string // OAuth client credentials; preferred when both pairs are given
	BearerToken            string // a ready token, used as is
	Insecure               bool   // skip TLS verification
	MaxTries               int    // 1..10, anything else means 5
	Sleep                  time.Duration
	// Sleep is the base pause between tries; the backoff grows from it.
	// 0 means a one second base.
	CacheDir   string // token cache; "" = CacheDir()/tokens; "off" disables
	Logger     zerolog.Logger
	HTTPClient *http.Client // optional; default NewHTTPClient(Insecure)
}

// Stats counts what the client sent; benchmarks check that a no-op run
// stays within its request budget.
type Stats struct {
	Requests      int64 // every HTTP request sent to Jamf Pro, token requests included
	TokenRequests int64 // requests for a new token
}

// Client talks to one Jamf Pro server. It is safe for concurrent use.
type Client struct {
	base     string // scheme://host[:port][/prefix], no trailing slash
	hc       *http.Client
	log      zerolog.Logger
	maxTries int
	sleepFor time.Duration
	cred     *credentials
	cache    *tokenCache // nil when caching is off

	hooks hooks

	// The token and the counters are shared by a client and its pod views
	// (OnPod): one renewal serves every pod, and Stats counts them all.
	authSem chan struct{} // holds one token request at a time in this process
	mu      *sync.Mutex   // guards tok and version
	tok     *token
	version *Version

	requests      *atomic.Int64
	tokenRequests *atomic.Int64

	// pods is the instance's pods as Pods found them, shared with the pod
	// views like the token: discovery runs once per client.
	pods *podsMemo

	// pod is the pod this client is pinned to (OnPod); zero for a client
	// that follows its own cookie jar.
	pod Pod
}

// hooks are the parts of the outside world tests replace: the clock, sleeping
// between tries, the keychain command and the operating system name.
type hooks struct {
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	runCmd func(ctx context.Context, name string, args ...string) ([]byte, error)
	goos   string
	// apiTimeout bounds one ordinary API request; uploads use idle timeouts.
	apiTimeout time.Duration
	// uploadIdle is how long an upload may go without progress.
	uploadIdle time.Duration
	// uploadReply bounds the wait for the answer after the last byte is sent.
	uploadReply time.Duration
}

func defaultHooks() hooks {
	return hooks{
		now:         time.Now,
		sleep:       Sleep,
		runCmd:      runCommand,
		goos:        runtime.GOOS,
		apiTimeout:  60 * time.Second,
		uploadIdle:  2 * time.Minute,
		uploadReply: 15 * time.Minute,
	}
}

// Sleep waits d, or less when ctx ends first (then it returns ctx's error):
// the one wait of every retry and poll loop.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func runCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, name, args...).Output()
}

// NewClient checks cfg and returns a client. It sends nothing; Authenticate
// is the preflight.
func NewClient(cfg Config) (*Client, error) {
	return newClient(cfg, defaultHooks())
}

func newClient(cfg Config, h hooks) (*Client, error) {
	base, err := normalizeURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	for _, s := range []string{cfg.Password, cfg.ClientSecret, cfg.BearerToken} {
		secret.Register(s)
	}
	cred, err := pickCredentials(cfg, h.goos)
	if err != nil {
		return nil, fmt.Errorf("jamf %s: %w", base, err)
	}
	c := &Client{
		base:     base,
		log:      cfg.Logger,
		maxTries: cfg.MaxTries,
		sleepFor: cfg.Sleep,
		cred:     cred,
		hooks:    h,
		hc:       cfg.HTTPClient,

		authSem:       make(chan struct{}, 1),
		mu:            new(sync.Mutex),
		tok:           new(token),
		requests:      new(atomic.Int64),
		tokenRequests: new(atomic.Int64),
		pods:          &podsMemo{sem: make(chan struct{}, 1)},
	}
	if c.maxTries < 1 || c.maxTries > 10 {
		c.maxTries = 5
	}
	if c.sleepFor <= 0 {
		c.sleepFor = time.Second
	}
	if c.hc == nil {
		if c.hc, err = NewHTTPClient(cfg.Insecure); err != nil {
			return nil, err
		}
	}
	// Jamf Cloud is a cluster whose nodes sync about once a minute; the
	// load balancer's cookie (jpro-ingress, APBALANCEID in older docs)
	// keeps every request of this run on one node, so a create is found, a
	// delete confirmed and a refresh seen by the next read. The jar lives in
	// memory only, for this run, and only this client (never the S3 upload)
	// uses it; OnPod pins a view to another node.
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	hc := *c.hc
	hc.Jar = jar
	// Every Jamf request carries a credential (a bearer token, basic auth,
	// or the OAuth client secret in its body), and Go's client would resend
	// a body on a 307/308 and keep Authorization for the same host name on
	// another port. So no Jamf request follows a redirect, whatever client
	// the caller gave; the error names where it pointed.
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		return &RedirectError{Status: redirectStatus(req), From: via[0].URL, To: req.URL}
	}
	c.hc = &hc
	if cred.kind != credBearer {
		c.cache, err = openTokenCache(cfg.CacheDir)
		if err != nil {
			// A missing cache costs one token request per run, nothing more.
			c.log.Warn().Err(err).Msg("token cache unavailable; a new token is requested for this run")
			c.cache = nil
		}
	}
	return c, nil
}

func normalizeURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("jamf: no Jamf Pro URL given (JSS_URL)")
	}
	// Messages show the URL without user information, parsed or not: a
	// password in a malformed URL must not reach the log either.
	shown := secret.RedactURL(raw)
	userinfo := secret.URLUserinfo(raw)
	if _, pw, ok := strings.Cut(userinfo, ":"); ok {
		secret.Register(pw)
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the raw URL url.Error repeats
		}
		if userinfo != "" {
			// The parse error may quote part of the password.
			return "", fmt.Errorf("jamf: Jamf Pro URL %q is not a valid URL, and must not carry credentials; use the username and password settings", shown)
		}
		return "", fmt.Errorf("jamf: Jamf Pro URL %q: %v", shown, err)
	}
	if u.User != nil || userinfo != "" {
		return "", fmt.Errorf("jamf: Jamf Pro URL %q must not carry credentials; use the username and password settings", shown)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("jamf: Jamf Pro URL %q must start with https://", shown)
	}
	if u.Host == "" {
		return "", fmt.Errorf("jamf: Jamf Pro URL %q has no host name", shown)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("jamf: Jamf Pro URL %q must not have a query or fragment", shown)
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath(), nil
}

// Stats returns the request counters.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), TokenRequests: c.tokenRequests.Load()}
}

// NewHTTPClient returns a client that trusts the system roots plus any PEM
// certificates in SSL_CERT_FILE, uses HTTPS_PROXY/NO_PROXY, and has no overall
// timeout: a multi-GB upload must not be cut off by a single deadline. It
// follows a redirect only within the origin (sameOriginRedirects); the Jamf
// client made from it follows none (newClient), and the S3 upload tunes its
// own clone of the transport (s3upload).
func NewHTTPClient(insecure bool) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read SSL_CERT_FILE: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("SSL_CERT_FILE %s holds no PEM certificate", f)
		}
	}
	// A proxy's password rides in its URL; it is a secret like any other.
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if u, err := url.Parse(os.Getenv(v)); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok {
				secret.Register(pw)
			}
		}
	}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   30 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig: &tls.Config{
			RootCAs:            pool,
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: insecure, //nolint:gosec // only when the user asks for insecure mode
		},
	}
	tr.OnProxyConnectResponse = proxyConnectResponse
	return &http.Client{Transport: tr, CheckRedirect: sameOriginRedirects}, nil
}

// ProxyError is a proxy's refusal to open a tunnel (CONNECT) to a server.
// Go reports it as the bare status text ("Forbidden"), which names neither
// the proxy nor the cause.
type ProxyError struct {
	Proxy  string // the proxy's URL, user information redacted
	Target string // host:port the tunnel was asked for
	Status int
}

func (e *ProxyError) Error() string {
	msg := fmt.Sprintf("the proxy %s refused a connection to %s: HTTP %d %s", e.Proxy, e.Target, e.Status, http.StatusText(e.Status))
	switch e.Status {
	case http.StatusProxyAuthRequired:
		return msg + " (the proxy wants credentials: give them in HTTPS_PROXY as http://user:password@host:port, or exempt this host with NO_PROXY)"
	case http.StatusForbidden:
		return msg + " (the proxy does not allow this host: ask its administrator to allow it, or exempt the host with NO_PROXY)"
	}
	return msg
}

// Permanent reports whether trying again cannot help: the proxy's policy
// or missing credentials, unlike a 502 or 503 of a proxy that could not
// reach the server at that moment.
func (e *ProxyError) Permanent() bool { return e.Status < 500 }

func proxyConnectResponse(_ context.Context, proxy *url.URL, req *http.Request, res *http.Response) error {
	if res.StatusCode/100 == 2 {
		return nil
	}
	return &ProxyError{Proxy: secret.RedactURL(proxy.String()), Target: req.Host, Status: res.StatusCode}
}

// sameOriginRedirects follows a redirect only within the first request's
// scheme, host and port: Go itself keeps Authorization (an S3 request's
// signature) for another port of the same host, and resends a body on
// 307/308.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if !sameOrigin(via[0].URL, req.URL) {
		return &RedirectError{Status: redirectStatus(req), From: via[0].URL, To: req.URL}
	}
	return nil
}
