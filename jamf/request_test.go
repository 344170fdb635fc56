package jamf

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// scripted answers each API request with the next step of a script; the
// last step repeats. A step of status 0 drops the connection.
type step struct {
	status     int
	retryAfter string
	body       string
}

func scripted(steps ...step) (http.HandlerFunc, *atomic.Int64, *[]string) {
	var n atomic.Int64
	bodies := &[]string{}
	return func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		b, _ := io.ReadAll(r.Body)
		*bodies = append(*bodies, string(b))
		s := steps[min(i, len(steps)-1)]
		if s.status == 0 {
			hj, ok := w.(http.Hijacker)
			if !ok {
				panic("no hijacker")
			}
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
		if strings.HasPrefix(s.body, "{") {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(s.status)
		io.WriteString(w, s.body)
	}, &n, bodies
}

func TestRetryRules(t *testing.T) {
	const okVersion = `{"version":"11.25.0"}`
	const jsonErr500 = `{"httpStatus":500,"errors":[{"code":"X","description":"boom"}]}`
	httpDate := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name      string
		steps     []step
		wantErr   string
		wantCalls int64
		checkWait func(t *testing.T, w []time.Duration)
	}{
		{"5xx then success", []step{{503, "", "<html>maintenance</html>"}, {502, "", ""}, {200, "", okVersion}}, "", 3,
			func(t *testing.T, w []time.Duration) {
				if len(w) != 2 || w[0] < 5*time.Millisecond || w[0] > 10*time.Millisecond || w[1] < 10*time.Millisecond || w[1] > 20*time.Millisecond {
					t.Errorf("waits %v, want ~10ms then ~20ms (exponential, jittered)", w)
				}
			}},
		{"429 Retry-After seconds", []step{{429, "7", ""}, {200, "", okVersion}}, "", 2,
			func(t *testing.T, w []time.Duration) {
				if len(w) != 1 || w[0] != 7*time.Second {
					t.Errorf("waits %v, want [7s]", w)
				}
			}},
		{"429 Retry-After date", []step{{429, httpDate, ""}, {200, "", okVersion}}, "", 2,
			func(t *testing.T, w []time.Duration) {
				if len(w) != 1 || w[0] < 80*time.Second || w[0] > 91*time.Second {
					t.Errorf("waits %v, want ~90s", w)
				}
			}},
		{"429 without Retry-After backs off", []step{{429, "", ""}, {200, "", okVersion}}, "", 2,
			func(t *testing.T, w []time.Duration) {
				if len(w) != 1 || w[0] <= 0 {
					t.Errorf("waits %v", w)
				}
			}},
		{"4xx not retried", []step{{400, "", `{"httpStatus":400,"errors":[{"code":"INVALID_FIELD","description":"bad"}]}`}}, "HTTP 400 INVALID_FIELD: bad", 1,
			func(t *testing.T, w []time.Duration) {
				if len(w) != 0 {
					t.Errorf("waited %v before failing a 400", w)
				}
			}},
		{"404 not retried", []step{{404, "", ""}}, "HTTP 404", 1, nil},
		{"network drop then success", []step{{0, "", ""}, {200, "", okVersion}}, "", 2, nil},
		{"gives up after MaxTries", []step{{500, "", jsonErr500}}, "gave up after 4 tries: read Jamf Pro version: GET /api/v1/jamf-pro-version: HTTP 500 X: boom", 4,
			func(t *testing.T, w []time.Duration) {
				if len(w) != 3 {
					t.Errorf("waits %v, want 3", w)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, calls, _ := scripted(tt.steps...)
			f := newFake(t, h)
			c, env := f.client(t, nil)
			_, err := c.Version(context.Background())
			if tt.wantErr == "" && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			// A dropped connection may be replayed once by net/http itself
			// on a reused connection; count what reached the handler.
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("server saw %d calls, want %d", got, tt.wantCalls)
			}
			if tt.checkWait != nil {
				tt.checkWait(t, env.slept())
			}
		})
	}
}

func TestRetryRewindsBody(t *testing.T) {
	h, calls, bodies := scripted(step{503, "", ""}, step{0, "", ""}, step{201, "", `{"id":"7","href":"x"}`})
	f := newFake(t, h)
	c, _ := f.client(t, nil)
	id, err := c.CreatePackage(context.Background(), &Package{Name: "Firefox 1.0", FileName: "Firefox-1.0.pkg", Priority: 10})
	if err != nil {
		t.Fatal(err)
	}
	if id != "7" || calls.Load() != 3 {
		t.Fatalf("id %q after %d calls", id, calls.Load())
	}
	for i, b := range *bodies {
		if b != (*bodies)[0] || !strings.Contains(b, `"packageName":"Firefox 1.0"`) {
			t.Errorf("try %d sent %q, first try sent %q", i+1, b, (*bodies)[0])
		}
	}
}

func TestRetryStopsOnCancel(t *testing.T) {
	h, _, _ := scripted(step{503, "", ""})
	f := newFake(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	c, _ := f.client(t, func(cfg *Config, hk *hooks) {
		hk.sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		}
	})
	_, err := c.Version(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestPerRequestTimeout(t *testing.T) {
	var n atomic.Int64
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		io.WriteString(w, `{"version":"11.25.0"}`)
	})
	c, _ := f.client(t, func(cfg *Config, h *hooks) { h.apiTimeout = 100 * time.Millisecond })
	if _, err := c.Version(context.Background()); err != nil {
		t.Fatalf("a slow first try was not retried: %v", err)
	}
	if n.Load() != 2 {
		t.Errorf("calls = %d, want 2", n.Load())
	}
}

func TestErrorMessages(t *testing.T) {
	classic404 := `<html><head><title>Status page</title></head><body><p>Not Found</p><p>The server has not found anything matching the request URI</p><p>You can get technical details <a href="x">here</a>.</p><p>Error: The server has not found anything matching the request URI</p></body></html>`
	tests := []struct {
		name    string
		version string // "" = never read
		status  int
		body    string
		call    func(context.Context, *Client) error
		want    []string
		isNF    bool
	}{
		{"classic html 409", "", 409, `<html><body><p>Conflict</p><p>Error: Duplicate name</p></body></html>`,
			func(ctx context.Context, c *Client) error {
				_, err := c.CreatePackageClassic(ctx, &Package{Name: "A & B"})
				return err
			},
			[]string{`create package "A & B" (Classic API)`, "POST /JSSResource/packages/id/0", "HTTP 409", ": Duplicate name"}, false},
		{"classic html 400 category", "", 400, `<html><body><p>Error: Problem with category</p></body></html>`,
			func(ctx context.Context, c *Client) error {
				return c.UpdatePackageClassic(ctx, &Package{ID: "5", Name: "x"})
			},
			[]string{"PUT /JSSResource/packages/id/5", "HTTP 400", "Problem with category"}, false},
		{"json error", "", 400, `{"httpStatus":400,"errors":[{"code":"DUPLICATE_FIELD","description":"packageName must be unique","id":"0","field":"packageName"}]}`,
			func(ctx context.Context, c *Client) error {
				_, err := c.CreatePackage(ctx, &Package{Name: "x"})
				return err
			},
			[]string{`create package "x"`, "POST /api/v1/packages", "HTTP 400 DUPLICATE_FIELD", "packageName must be unique (field packageName)"}, false},
		{"classic 404 is ErrNotFound", "", 404, classic404,
			func(ctx context.Context, c *Client) error { return c.DeleteJCDSFile(ctx, "a.pkg") },
			[]string{"DELETE /api/v1/jcds/files/a.pkg", "HTTP 404", "The server has not found anything"}, true},
		{"jcds 403 new name", "11.25.0", 403, `{"httpStatus":403,"errors":[{"code":"INVALID_PRIVILEGE","description":"Forbidden"}]}`,
			func(ctx context.Context, c *Client) error { _, err := c.InitiateUpload(ctx); return err },
			[]string{"start JCDS upload", "POST /api/v1/jcds/files", "HTTP 403", `lacks the Create "Jamf Cloud Distribution Service Files" privilege`}, false},
		{"jcds 403 old name", "11.19.2", 403, ``,
			func(ctx context.Context, c *Client) error { return c.DeleteJCDSFile(ctx, "a.pkg") },
			[]string{"HTTP 403: Forbidden", `lacks the Delete "Jamf Content Distribution Server Files" privilege`}, false},
		{"jcds 401 read", "11.20.0", 401, `{"httpStatus":401,"errors":[{"code":"INVALID_TOKEN","description":"Unauthorized"}]}`,
			func(ctx context.Context, c *Client) error { _, err := c.JCDSFiles(ctx); return err },
			[]string{"list JCDS files", "HTTP 401", `Read "Jamf Cloud Distribution Service Files"`}, false},
		{"jcds not enabled", "11.25.0", 404, `{"httpStatus":404,"errors":[{"code":"NOT_FOUND","description":"JCDS Settings record not found"}]}`,
			func(ctx context.Context, c *Client) error { _, err := c.JCDSFiles(ctx); return err },
			[]string{"JCDS Settings record not found", "is JCDS 2.0 enabled"}, true},
		{"plain text 502 after retries", "", 502, "Bad Gateway\n",
			func(ctx context.Context, c *Client) error { _, err := c.FindPackage(ctx, "x"); return err },
			[]string{"gave up after 4 tries", "HTTP 502: Bad Gateway", `find package "x"`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/api/v1/jamf-pro-version" {
					io.WriteString(w, `{"version":"`+tt.version+`"}`)
					return
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			c, _ := f.client(t, nil)
			ctx := context.Background()
			if tt.version != "" {
				if _, err := c.Version(ctx); err != nil {
					t.Fatal(err)
				}
			}
			err := tt.call(ctx, c)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			if got := errors.Is(err, ErrNotFound); got != tt.isNF {
				t.Errorf("errors.Is(err, ErrNotFound) = %v", got)
			}
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tt.status {
				t.Errorf("errors.As APIError: %v %+v", err, ae)
			}
		})
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"12", 12 * time.Second, true},
		{"-3", 0, false},
		{"99999", 10 * time.Minute, true},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	c := &Client{sleepFor: time.Second}
	for try := 1; try <= 12; try++ {
		full := min(time.Second<<(try-1), 2*time.Minute)
		for i := 0; i < 50; i++ {
			d := c.backoff(try)
			if d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", try, d, full/2, full)
			}
		}
	}
}

func TestParseErrorBody(t *testing.T) {
	tests := []struct{ body, code, msg string }{
		{`{"httpStatus":400,"errors":[{"code":"INVALID_FILE_NAME","description":"The filename does not correspond"}]}`, "INVALID_FILE_NAME", "The filename does not correspond"},
		{`{"httpStatus":400,"errors":[{"code":"A","description":"one"},{"code":"B","description":"two"}]}`, "A", "one; two"},
		{`{"error":"invalid_client","error_description":"Client authentication failed"}`, "invalid_client", "Client authentication failed"},
		{`<html><body><p>Error: Unable to &amp; update</p></body></html>`, "", "Unable to & update"},
		{"<html><head><title>503 Service Unavailable</title></head></html>", "", "503 Service Unavailable"},
		{"  plain words  ", "", "plain words"},
		{"", "", ""},
	}
	for _, tt := range tests {
		code, msg := parseErrorBody([]byte(tt.body))
		if code != tt.code || msg != tt.msg {
			t.Errorf("parseErrorBody(%q) = %q, %q; want %q, %q", tt.body, code, msg, tt.code, tt.msg)
		}
	}
}

func TestTokenFailureNotRetriedTwice(t *testing.T) {
	f := newFake(t, versionAPI)
	f.tokenFail.Store(503)
	c, _ := f.client(t, nil)
	_, err := c.Version(context.Background())
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), "authenticate") {
		t.Fatalf("err = %v", err)
	}
	if n := f.tokens.Load(); n != 4 {
		t.Errorf("token endpoint called %d times, want MaxTries (4)", n)
	}
	if f.calls.Load() != 0 {
		t.Errorf("API called without a token")
	}
}

// A proxy that refuses the tunnel is named in the error, with what to do,
// and a refusal that no retry can change is not retried.
func TestProxyRefusal(t *testing.T) {
	for _, tt := range []struct {
		status   int
		connects int64
		want     string
	}{
		{http.StatusProxyAuthRequired, 1, "HTTPS_PROXY"},
		{http.StatusForbidden, 1, "does not allow this host"},
		{http.StatusBadGateway, 4, "HTTP 502 Bad Gateway"},
	} {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			var connects atomic.Int64
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodConnect {
					connects.Add(1)
				}
				w.WriteHeader(tt.status)
			}))
			defer proxy.Close()
			proxyURL, _ := url.Parse(proxy.URL)
			proxyURL.User = url.UserPassword("proxyuser", "proxy-pass-123")
			hc, err := NewHTTPClient(false)
			if err != nil {
				t.Fatal(err)
			}
			hc.Transport.(*http.Transport).Proxy = http.ProxyURL(proxyURL)
			f := newFake(t, nil)
			c, _ := f.client(t, func(cfg *Config, _ *hooks) {
				cfg.URL = "https://127.0.0.1:9/"
				cfg.HTTPClient = hc
			})
			_, err = c.Version(context.Background())
			var pe *ProxyError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), proxyURL.Host) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a ProxyError naming %s and saying %q", err, proxyURL.Host, tt.want)
			}
			if strings.Contains(err.Error(), "proxy-pass-123") {
				t.Errorf("proxy password in the error: %v", err)
			}
			if n := connects.Load(); n != tt.connects {
				t.Errorf("CONNECT requests = %d, want %d", n, tt.connects)
			}
		})
	}
}
