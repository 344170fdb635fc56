package jamfsim

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

type recordingReporter struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recordingReporter) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recordingReporter) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.msgs
	r.msgs = nil
	return m
}

// The checker reports what the documents do not allow, requests and
// responses alike.
func TestContractReportsViolations(t *testing.T) {
	rep := &recordingReporter{}
	c := newTC(t, Options{Contract: rep, ClusterNodes: 1})
	c.login()
	tests := []struct {
		name string
		do   func() resp
		want string // in the report; "" for none
	}{
		{"valid exchange", func() resp { return c.do("GET", "/api/v1/jamf-pro-version", nil, nil) }, ""},
		{"request without a required field", func() resp {
			b := v1Body("X", "x.pkg", "-1", "MD5")
			delete(b, "osInstall")
			return c.jsonBody("POST", "/api/v1/packages", b)
		}, `property "osInstall" is missing`},
		{"request with a read-only field", func() resp {
			b := v1Body("Y", "y.pkg", "-1", "MD5")
			b["size"] = "12"
			return c.jsonBody("POST", "/api/v1/packages", b)
		}, "size"},
		{"request query of the wrong type", func() resp { return c.do("GET", "/api/v1/packages?page=first", nil, nil) }, "page"},
		{"response body of the wrong type", func() resp {
			c.sim.InjectFault(Fault{Path: "/api/v1/jamf-pro-version", Status: 200, Body: `{"version": 5}`})
			return c.do("GET", "/api/v1/jamf-pro-version", nil, nil)
		}, "version"},
		{"success status not in the document", func() resp {
			c.sim.InjectFault(Fault{Path: "/api/v1/jcds/files", Method: "POST", Status: 200, Body: `{}`})
			return c.do("POST", "/api/v1/jcds/files", nil, nil)
		}, "status 200 is not in the document"},
		{"error body that is not ApiError", func() resp {
			c.sim.InjectFault(Fault{Path: "/api/v1/packages", Status: 500, Body: `<html>oops</html>`})
			return c.do("GET", "/api/v1/packages", nil, nil)
		}, "not JSON"},
		{"a request marked invalid on purpose", func() resp {
			return c.do("GET", "/api/v1/packages?page=first", nil, map[string]string{expectInvalidHeader: "test"})
		}, ""},
		{"Classic API: not in the documents", func() resp { return c.do("GET", "/JSSResource/packages/name/x", nil, nil) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.do()
			got := rep.take()
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("reported %q", got)
				}
				return
			}
			if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tt.want) {
				t.Errorf("report %q, want one mentioning %q", got, tt.want)
			}
		})
	}
}

func samplePath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	r := strings.NewReplacer("{id}", "1", "{name}", "Cover.pkg")
	return method, r.Replace(path)
}

// Every simulator route that the documents describe is exercised and
// checked, on the document of its version: 11.30.1, and 11.23.2 for a
// simulated 11.23.
func TestContractCoversEveryRoute(t *testing.T) {
	for _, version := range []string{"11.30.1", "11.23.2"} {
		t.Run(version, func(t *testing.T) {
			c := newTC(t, Options{JamfVersion: version, ClusterNodes: 1, FullRefreshInterval: -1})
			c.sim.AddCategory("Apps")
			// auth
			r := c.do("POST", "/api/v1/oauth/token", strings.NewReader(url.Values{"client_id": {"client-id"},
				"client_secret": {"client-secret"}, "grant_type": {"client_credentials"}}.Encode()),
				map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			if r.status != 200 {
				t.Fatalf("oauth: %d %s", r.status, r.body)
			}
			c.login()
			c.do("POST", "/api/v1/auth/keep-alive", nil, nil)
			c.login()
			c.do("GET", "/api/v1/jamf-pro-version", nil, nil)
			// packages and categories
			if r := c.jsonBody("POST", "/api/v1/packages", v1Body("Cover", "Cover.pkg", "1", "SHA3_512")); r.status != 201 {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			c.do("GET", "/api/v1/packages?page=0&page-size=10&sort=id:asc&filter="+q(`packageName=="cover"`), nil, nil)
			c.jsonBody("PUT", "/api/v1/packages/1", v1Body("Cover", "Cover.pkg", "-1", "MD5"))
			body, ct := multipartBody(t, "file", "Cover.pkg", []byte("cover bytes"))
			c.do("POST", "/api/v1/packages/1/upload", body, map[string]string{"Content-Type": ct})
			c.refreshUntil("Cover.pkg", func() bool { return c.pkg("1")["cloudTransferStatus"] == "READY" })
			c.do("GET", "/api/v1/categories?filter="+q(`name=="apps"`), nil, nil)
			c.do("GET", "/api/v1/categories/1", nil, nil)
			// JCDS
			cr := c.initiate()
			if err := upload(context.Background(), s3For(c.sim.S3Endpoint(), cr), cr.BucketName, cr.Path+"Other.pkg", []byte("other")); err != nil {
				t.Fatal(err)
			}
			c.do("POST", "/api/v1/jcds/renew-credentials", nil, nil)
			c.files()
			c.do("GET", "/api/v1/jcds/files/Cover.pkg", nil, nil)
			c.do("POST", "/api/v1/jcds/refresh-inventory?file-name=Cover.pkg", nil, nil)
			c.do("DELETE", "/api/v1/jcds/files/Other.pkg", nil, nil)
			// cloud distribution point
			c.do("GET", "/api/v1/cloud-distribution-point", nil, nil)
			c.do("GET", "/api/v1/cloud-distribution-point/files?page=0&page-size=100", nil, nil)
			c.do("GET", "/api/v1/cloud-distribution-point/upload-capability", nil, nil)
			c.do("POST", "/api/v1/cloud-distribution-point/refresh-inventory?file-name=Cover.pkg", nil, nil)
			c.do("POST", "/api/v1/cloud-distribution-point/fail-upload/1?file-name=Cover.pkg&type=PACKAGE", nil, nil)
			// the end
			c.do("DELETE", "/api/v1/packages/1", nil, nil)
			c.do("POST", "/api/v1/auth/invalidate-token", nil, nil)

			covered := c.sim.contract.coverage()
			inDoc := 0
			for _, rt := range jamfRoutes {
				method, path := samplePath(rt.pattern)
				route, _ := c.sim.contract.findRoute(method, path)
				if route == nil {
					continue
				}
				inDoc++
				if covered[method+" "+route.Path] == 0 {
					t.Errorf("route %s (document path %s) was not exercised with success", rt.pattern, route.Path)
				}
			}
			t.Logf("%d simulator routes in %s, all checked; %d exchanges", inDoc, c.sim.contract.sd.name, len(covered))
			if inDoc < 20 {
				t.Errorf("only %d routes matched the document; route matching is broken", inDoc)
			}
		})
	}
}

// BenchmarkContractCheck measures what the check adds to one exchange (a
// package list with ten results), against the same exchange unchecked.
func BenchmarkContractCheck(b *testing.B) {
	for _, checked := range []bool{false, true} {
		b.Run(fmt.Sprintf("checked=%t", checked), func(b *testing.B) {
			opts := Options{ClusterNodes: 1, NoContract: !checked}
			if checked {
				opts.Contract = b
			}
			s, err := New(opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.mu.Lock()
			tok := s.issueToken(s.accounts["admin"], false).value
			s.mu.Unlock()
			for i := 0; i < 10; i++ {
				s.AddPackage(Package{Name: fmt.Sprintf("P%d", i), FileName: fmt.Sprintf("P%d.pkg", i), HashType: "SHA_512", HashValue: "abc"})
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("GET", "/api/v1/packages?page=0&page-size=100&sort=id:asc", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				s.Handler().ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
