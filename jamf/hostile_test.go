package jamf

// A hostile or broken server: redirects that would carry credentials away,
// error bodies that echo secrets or forge log lines, huge bodies and
// page counts, odd upload targets, endless Retry-After.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
)

// sink is a server that must never be reached; it counts what reached it.
type sink struct {
	srv  *httptest.Server
	hits atomic.Int64
	seen atomic.Value // string: the last request's Authorization and body
}

func newSink(t *testing.T, tlsServer bool) *sink {
	s := &sink{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		s.seen.Store(r.Header.Get("Authorization") + " " + string(b))
		jsonReply(w, 200, map[string]any{"token": "stolen", "access_token": "stolen", "expires_in": 60, "version": "11.25.0"})
	})
	if tlsServer {
		s.srv = httptest.NewTLSServer(h)
	} else {
		s.srv = httptest.NewServer(h)
	}
	t.Cleanup(s.srv.Close)
	return s
}

// otherPort returns u with the port of another server on the same host.
func otherPort(u, other string) string {
	a, _ := url.Parse(u)
	b, _ := url.Parse(other)
	a.Host = a.Hostname() + ":" + b.Port()
	return a.String()
}

func TestRedirectsNeverCarryCredentials(t *testing.T) {
	plain := newSink(t, false)
	tests := []struct {
		name  string
		oauth bool
		// redirect answers a request on path with a Location built from
		// the sink's URL; the status is 307 unless given.
		path     string
		status   int
		location func(self string) string
		want     string
	}{
		{"oauth secret to another host", true, "/api/v1/oauth/token", 307,
			func(string) string {
				return strings.Replace(plain.srv.URL, "127.0.0.1", "localhost", 1) + "/api/v1/oauth/token"
			}, "another server"},
		{"oauth secret, same host other port", true, "/api/v1/oauth/token", 308,
			func(self string) string { return otherPort(self, plain.srv.URL) + "/api/v1/oauth/token" }, "another server"},
		{"basic auth, same host other port", false, "/api/v1/auth/token", 307,
			func(self string) string { return otherPort(self, plain.srv.URL) + "/api/v1/auth/token" }, "another server"},
		{"bearer, same host other port", false, "/api/v1/jamf-pro-version", 302,
			func(self string) string { return otherPort(self, plain.srv.URL) + "/api/v1/jamf-pro-version" }, "another server"},
		{"bearer, same origin", false, "/api/v1/jamf-pro-version", 301,
			func(self string) string { return self + "/x" }, "set JSS_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := plain.hits.Load()
			f := newFake(t, versionAPI)
			inner := f.srv.Config.Handler
			f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == tt.path {
					io.Copy(io.Discard, r.Body)
					http.Redirect(w, r, tt.location(f.srv.URL), tt.status)
					return
				}
				inner.ServeHTTP(w, r)
			})
			c, _ := f.client(t, func(cfg *Config, _ *hooks) {
				if tt.oauth {
					cfg.Username, cfg.Password = "", ""
					cfg.ClientID, cfg.ClientSecret = f.id, f.secret
				}
			})
			_, err := c.Version(context.Background())
			if err == nil {
				t.Fatal("a redirected request succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if n := plain.hits.Load() - before; n != 0 {
				t.Errorf("the redirect target got %d requests (last: %v)", n, plain.seen.Load())
			}
		})
	}
}

func TestRedirectHTTPSToHTTPRefused(t *testing.T) {
	plain := newSink(t, false)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, plain.srv.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	hc := srv.Client()
	hc.CheckRedirect = nil // as a caller-supplied client would have it
	c, err := newClient(Config{URL: srv.URL, Username: "admin", Password: "https-only-pass", CacheDir: "off",
		MaxTries: 1, HTTPClient: hc, Logger: zerolog.Nop()}, testHooks(&testEnv{}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Version(context.Background())
	if err == nil || !strings.Contains(err.Error(), "from https to") {
		t.Errorf("err = %v, want a refused https→http redirect", err)
	}
	if plain.hits.Load() != 0 {
		t.Errorf("credentials went to the http server: %v", plain.seen.Load())
	}
}

// NewHTTPClient on its own (the S3 side builds on it) follows a redirect
// only within the origin.
func TestNewHTTPClientSameOriginRedirects(t *testing.T) {
	other := newSink(t, false)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/away":
			http.Redirect(w, r, other.srv.URL+"/final", http.StatusFound)
		case "/port":
			http.Redirect(w, r, otherPort("http://"+r.Host, other.srv.URL)+"/final", http.StatusFound)
		default:
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(srv.Close)
	hc, err := NewHTTPClient(false)
	if err != nil {
		t.Fatal(err)
	}
	for path, wantOK := range map[string]bool{"/same": true, "/away": false, "/port": false} {
		resp, err := hc.Get(srv.URL + path)
		if resp != nil {
			resp.Body.Close()
		}
		if (err == nil) != wantOK {
			t.Errorf("GET %s: err = %v, want followed %v", path, err, wantOK)
		}
	}
	if other.hits.Load() != 0 {
		t.Errorf("a cross-origin redirect was followed")
	}
}

// An error body that echoes the credentials, in every spelling: masked
// before the message is cut, so no prefix of a secret survives the cut.
func TestErrorBodySecretsMaskedBeforeCut(t *testing.T) {
	secret.Reset()
	t.Cleanup(secret.Reset)
	const user, pass = "admin", `Pw"Zeb\ra&<x>!%7-0123456789-abcdefgh`
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	jsonPass, _ := json.Marshal(pass)
	pad := strings.Repeat("x", 280)
	bodies := map[string]string{
		"basic header across the cut":  pad + " Authorization: Basic " + basic,
		"password across the cut":      pad + " password=" + pass,
		"URL-encoded across the cut":   pad + " password=" + url.QueryEscape(pass),
		"Go-quoted":                    "bad login " + strconv.Quote(pass),
		"JSON-escaped in plain text":   "echo " + string(jsonPass),
		"JSON error with escapes":      `{"httpStatus":400,"errors":[{"code":"X","description":"bad password ` + strings.Trim(string(jsonPass), `"`) + `"}]}`,
		"HTML page":                    "<html><body><p>Error: bad " + strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(pass) + "</p></body></html>",
		"URL-encoded in a JSON error":  `{"error":"invalid_client","error_description":"got ` + url.QueryEscape(pass) + `"}`,
		"JSON-escaped ASCII only":      `{"message":"` + strings.Trim(strconv.QuoteToASCII(pass), `"`) + `"}`,
		"header with secret in middle": strings.Repeat("y", 290) + basic + strings.Repeat("z", 100),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(400)
				io.WriteString(w, body)
			})
			f.pass = pass
			c, _ := f.client(t, nil)
			_, err := c.Version(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, s := range []string{pass, basic} {
				// Any 8 characters in a row of the secret, in any spelling.
				for _, form := range []string{s, url.QueryEscape(s), strconv.Quote(s), string(jsonPass)} {
					for i := 0; i+8 <= len(form); i++ {
						if strings.Contains(msg, form[i:i+8]) {
							t.Fatalf("message holds %q, part of a secret:\n%s", form[i:i+8], msg)
						}
					}
				}
			}
		})
	}
}

// Server text with terminal escapes, carriage returns and a forged
// ProcessorError line comes out escaped, on one line.
func TestServerTextEscaped(t *testing.T) {
	evil := "denied\x1b[2K\r\nProcessorError: all good\x1b]0;title\x07 \u202eevil\u202c"
	for name, body := range map[string]string{
		"JSON": `{"httpStatus":400,"errors":[{"code":"X\u001b[31m","description":` + mustJSON(evil) + `}]}`,
		"text": evil,
		"HTML": "<html><body><p>Error: " + evil + "</p></body></html>",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(400)
				io.WriteString(w, body)
			})
			c, _ := f.client(t, nil)
			_, err := c.Version(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, bad := range []string{"\x1b", "\r", "\n", "\x07", "\u202e"} {
				if strings.Contains(msg, bad) {
					t.Errorf("message holds %q: %q", bad, msg)
				}
			}
			if !strings.Contains(msg, `\x1b`) {
				t.Errorf("escape not shown escaped: %q", msg)
			}
		})
	}
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// countingTransport counts the reply body bytes the client read.
type countingTransport struct {
	rt   http.RoundTripper
	read atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(r)
	if resp != nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.read}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// A 60 MiB error body is neither read whole nor quoted whole.
func TestHugeErrorBodyCapped(t *testing.T) {
	const size = 60 << 20
	for _, kind := range []string{"json", "text"} {
		t.Run(kind, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(400)
				chunk := bytes.Repeat([]byte("A"), 1<<20)
				if kind == "json" {
					io.WriteString(w, `{"httpStatus":400,"errors":[{"code":"BIG","description":"`)
				}
				for i := 0; i < size>>20; i++ {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
				if kind == "json" {
					io.WriteString(w, `"}]}`)
				}
			})
			ct := &countingTransport{rt: http.DefaultTransport.(*http.Transport).Clone()}
			c, _ := f.client(t, func(cfg *Config, _ *hooks) {
				cfg.HTTPClient = &http.Client{Transport: ct}
			})
			_, err := c.Version(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if n := len(err.Error()); n > 2000 {
				t.Errorf("error message is %d bytes", n)
			}
			// The token reply is small; the rest is the capped error body.
			if n := ct.read.Load(); n > 2*maxErrorBody {
				t.Errorf("read %d bytes of replies, want at most about %d", n, maxErrorBody)
			}
		})
	}
}

// A server that claims a huge totalCount and sends full pages forever is
// paged a bounded number of times.
func TestPagingBounded(t *testing.T) {
	var pages atomic.Int64
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/packages":
			pages.Add(1)
			res := make([]map[string]any, 100)
			for i := range res {
				res[i] = map[string]any{"id": strconv.Itoa(i), "packageName": "Other"}
			}
			jsonReply(w, 200, map[string]any{"totalCount": 1 << 40, "results": res})
		default:
			http.NotFound(w, r)
		}
	})
	c, _ := f.client(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.FindPackage(ctx, "Firefox.pkg")
	if err == nil || !strings.Contains(err.Error(), "100 pages") {
		t.Errorf("err = %v, want a clear stop after too many pages", err)
	}
	if n := pages.Load(); n > 100 {
		t.Errorf("fetched %d pages", n)
	}
}

func TestUploadTargetChecked(t *testing.T) {
	const uuid = "fc041b05-516e-4bde-9882-a08b1cc5473c"
	tests := []struct {
		bucket, path, region string
		want                 string // "" means accepted
	}{
		{"jcds-bucket", "tmp/" + uuid + "/", "us-east-1", ""},
		{"jcds.bucket-01", "tmp/fc04/", "", ""},
		{"jcds-bucket", "tmp/" + uuid + "/../../", "us-east-1", "tmp/<uuid>/"},
		{"jcds-bucket", "tmp/../" + uuid + "/", "us-east-1", "tmp/<uuid>/"},
		{"jcds-bucket", "", "us-east-1", "tmp/<uuid>/"},
		{"jcds-bucket", "/tmp/" + uuid + "/", "us-east-1", "tmp/<uuid>/"},
		{"jcds-bucket", "tmp/" + uuid, "us-east-1", "tmp/<uuid>/"},
		{"jcds-bucket", "tmp/" + uuid + "/x/", "us-east-1", "tmp/<uuid>/"},
		{"jcds-bucket", "tmp/a b/", "us-east-1", "tmp/<uuid>/"},
		{"jcds-bucket", "tmp/%2e%2e/", "us-east-1", "tmp/<uuid>/"},
		{"jcds-bucket", "packages/", "us-east-1", "tmp/<uuid>/"},
		{"Evil_Bucket", "tmp/" + uuid + "/", "us-east-1", "bucket"},
		{"evil.com/x", "tmp/" + uuid + "/", "us-east-1", "bucket"},
		{"a..b", "tmp/" + uuid + "/", "us-east-1", "bucket"},
		{"192.168.1.1", "tmp/" + uuid + "/", "us-east-1", "bucket"},
		{"ab", "tmp/" + uuid + "/", "us-east-1", "bucket"},
		{"jcds-bucket", "tmp/" + uuid + "/", "evil.com/#", "region"},
	}
	for _, tt := range tests {
		t.Run(tt.bucket+" "+tt.path+" "+tt.region, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				jsonReply(w, 201, map[string]any{"accessKeyID": "AKIAHOSTILETEST", "secretAccessKey": "hostile-secret-key",
					"sessionToken": "hostile-session", "region": tt.region, "expiration": time.Now().Add(time.Hour).Unix(),
					"bucketName": tt.bucket, "path": tt.path, "uuid": uuid})
			})
			c, _ := f.client(t, nil)
			_, err := c.InitiateUpload(context.Background())
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused a good answer: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want a refusal naming the %s", err, tt.want)
			}
		})
	}
}

// A Retry-After of hours is cut to the cap, and the long wait is logged at
// -v (info), not only at debug.
func TestLongRetryAfterCappedAndLogged(t *testing.T) {
	for _, ra := range []string{"99999", time.Now().Add(6 * time.Hour).UTC().Format(http.TimeFormat)} {
		h, _, _ := scripted(step{status: 429, retryAfter: ra}, step{status: 200, body: `{"version":"11.25.0"}`})
		f := newFake(t, h)
		var logBuf bytes.Buffer
		c, env := f.client(t, func(cfg *Config, _ *hooks) {
			cfg.Logger = zerolog.New(&logBuf).Level(zerolog.InfoLevel)
		})
		if _, err := c.Version(context.Background()); err != nil {
			t.Fatal(err)
		}
		w := env.slept()
		if len(w) != 1 || w[0] > maxRetryAfter || w[0] < time.Minute {
			t.Errorf("Retry-After %s: waits %v, want one wait capped at %v", ra, w, maxRetryAfter)
		}
		if !strings.Contains(logBuf.String(), "retrying after a pause") || !strings.Contains(logBuf.String(), `"level":"info"`) {
			t.Errorf("a long wait was not logged at info:\n%s", logBuf.String())
		}
	}
}

// A wait the run's deadline cannot hold ends the run with the server's
// answer instead of a timeout later.
func TestRetryAfterBeyondDeadline(t *testing.T) {
	h, _, _ := scripted(step{status: 429, retryAfter: "90", body: `{"httpStatus":429,"errors":[{"code":"SLOW","description":"slow down"}]}`})
	f := newFake(t, h)
	c, _ := f.client(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Version(ctx)
	if err == nil || !strings.Contains(err.Error(), "longer than this run has left") || !strings.Contains(err.Error(), "slow down") {
		t.Errorf("err = %v", err)
	}
}

func TestMalformedURLRedacted(t *testing.T) {
	secret.Reset()
	t.Cleanup(secret.Reset)
	const pw = "Hunter2-url-secret"
	for _, raw := range []string{
		"ftp://bob:" + pw + "@jamf.example.com",
		"https://bob:" + pw + "%zz@jamf.example.com",
		"https://bob:" + pw + "@",
		"https://bob:" + pw + "@/JSSResource",
		"https://bob:" + pw + "@jamf.example.com:99999",
		"https://bob:p/" + pw + "@jamf.example.com",
		"https://bob:" + pw + "@jamf.example.com/",
		"bob:" + pw + "@jamf.example.com",
		" https://bob:" + pw + "@jamf .example.com",
	} {
		_, err := NewClient(Config{URL: raw, Username: "u", Password: "p4ssword", Logger: zerolog.Nop()})
		if err == nil {
			t.Errorf("%q accepted", raw)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, pw[:7]) || strings.Contains(msg, "Hunter") {
			t.Errorf("%q: error shows the password: %s", raw, msg)
		} else {
			t.Logf("%q: %s", raw, msg)
		}
	}
}
