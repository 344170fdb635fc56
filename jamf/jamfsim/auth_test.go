package jamfsim

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestAuthEndpoints(t *testing.T) {
	c := newTC(t, Options{})
	form := func(id, secret string) *strings.Reader {
		return strings.NewReader(url.Values{"client_id": {id}, "client_secret": {secret}, "grant_type": {"client_credentials"}}.Encode())
	}
	formHdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	tests := []struct {
		name   string
		do     func() resp
		status int
		check  func(t *testing.T, r resp)
	}{
		{"basic token", func() resp {
			return c.do("POST", "/api/v1/auth/token", nil, map[string]string{"Authorization": basic("admin", "password")})
		}, 200, func(t *testing.T, r resp) {
			var tok struct{ Token, Expires string }
			r.json(t, &tok)
			exp, err := time.Parse(time.RFC3339Nano, tok.Expires)
			if tok.Token == "" || err != nil || time.Until(exp) < 29*time.Minute {
				t.Errorf("token %q expires %q (%v)", tok.Token, tok.Expires, err)
			}
		}},
		{"basic token wrong password", func() resp {
			return c.do("POST", "/api/v1/auth/token", nil, map[string]string{"Authorization": basic("admin", "nope")})
		}, 401, func(t *testing.T, r resp) { r.apiCode(t) }},
		{"basic token without credentials", func() resp { return c.do("POST", "/api/v1/auth/token", nil, nil) }, 401, nil},
		{"oauth token", func() resp { return c.do("POST", "/api/oauth/token", form("client-id", "client-secret"), formHdr) }, 200,
			func(t *testing.T, r resp) {
				var tok struct {
					AccessToken string `json:"access_token"`
					TokenType   string `json:"token_type"`
					ExpiresIn   int    `json:"expires_in"`
					Scope       string `json:"scope"`
				}
				r.json(t, &tok)
				if tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn != 60 || tok.Scope == "" {
					t.Errorf("oauth reply %+v", tok)
				}
			}},
		{"oauth current path", func() resp { return c.do("POST", "/api/v1/oauth/token", form("client-id", "client-secret"), formHdr) }, 200, nil},
		{"oauth without grant_type", func() resp {
			return c.do("POST", "/api/v1/oauth/token", strings.NewReader("client_id=client-id&client_secret=client-secret"),
				map[string]string{"Content-Type": "application/x-www-form-urlencoded", expectInvalidHeader: "grant_type left out on purpose"})
		}, 400, func(t *testing.T, r resp) {
			var e map[string]string
			r.json(t, &e)
			if e["error"] != "invalid_request" || e["error_description"] == "" {
				t.Errorf("body %s", r.body)
			}
		}},
		{"oauth wrong secret", func() resp { return c.do("POST", "/api/oauth/token", form("client-id", "x"), formHdr) }, 401,
			func(t *testing.T, r resp) {
				if !contains(string(r.body), "invalid_client") {
					t.Errorf("body %s", r.body)
				}
			}},
		{"version without token", func() resp { return c.do("GET", "/api/v1/jamf-pro-version", nil, nil) }, 401,
			func(t *testing.T, r resp) {
				if code := r.apiCode(t); code != "INVALID_TOKEN" {
					t.Errorf("code %q", code)
				}
			}},
		{"version with garbage token", func() resp {
			return c.do("GET", "/api/v1/jamf-pro-version", nil, map[string]string{"Authorization": "Bearer nope"})
		}, 401, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.do()
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
	st := c.sim.State().Counts
	if st.TokenRequests != 3 || st.OAuthTokenRequests != 4 {
		t.Errorf("counts %+v", st)
	}
}

func TestTokenLifecycle(t *testing.T) {
	c := newTC(t, Options{TokenTTL: 300 * time.Millisecond})
	c.login()
	r0 := c.do("GET", "/api/v1/jamf-pro-version", nil, nil)
	var ver struct{ Version string }
	r0.json(t, &ver)
	if r0.status != 200 || !regexp.MustCompile(`^11\.25\.0-t[0-9]{13}$`).MatchString(ver.Version) {
		t.Fatalf("version: %d %s, want 11.25.0-t and 13 digits", r0.status, r0.body)
	}
	// keep-alive: a fresh token, the old one stops working
	old := c.token
	r := c.do("POST", "/api/v1/auth/keep-alive", nil, nil)
	if r.status != 200 {
		t.Fatalf("keep-alive: %d %s", r.status, r.body)
	}
	var tok struct{ Token string }
	r.json(t, &tok)
	if r := c.do("GET", "/api/v1/jamf-pro-version", nil, nil); r.status != 401 {
		t.Errorf("old token after keep-alive: %d", r.status)
	}
	c.token = tok.Token
	if old == tok.Token {
		t.Fatal("keep-alive returned the same token")
	}
	// lifetime
	time.Sleep(400 * time.Millisecond)
	if r := c.do("GET", "/api/v1/jamf-pro-version", nil, nil); r.status != 401 || r.apiCode(t) != "INVALID_TOKEN" {
		t.Errorf("expired token: %d %s", r.status, r.body)
	}
	// Classic API answers 401 with its HTML page
	if r := c.do("GET", "/JSSResource/packages/name/x", nil, nil); r.status != 401 || !contains(string(r.body), "<p>Error:") {
		t.Errorf("classic expired: %d %s", r.status, r.body)
	}
	// ExpireTokens, invalidate
	c.login()
	c.sim.ExpireTokens()
	if r := c.do("GET", "/api/v1/jamf-pro-version", nil, nil); r.status != 401 {
		t.Errorf("after ExpireTokens: %d", r.status)
	}
	c.login()
	if r := c.do("POST", "/api/v1/auth/invalidate-token", nil, nil); r.status != 204 {
		t.Errorf("invalidate: %d", r.status)
	}
	if r := c.do("GET", "/api/v1/jamf-pro-version", nil, nil); r.status != 401 {
		t.Errorf("after invalidate: %d", r.status)
	}
}

func TestOAuthTokenCannotKeepAlive(t *testing.T) {
	c := newTC(t, Options{})
	r := c.do("POST", "/api/oauth/token", strings.NewReader("client_id=client-id&client_secret=client-secret&grant_type=client_credentials"),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	r.json(t, &tok)
	c.token = tok.AccessToken
	if r := c.do("GET", "/api/v1/jcds/files", nil, nil); r.status != 200 {
		t.Fatalf("oauth token use: %d %s", r.status, r.body)
	}
	if r := c.do("POST", "/api/v1/auth/keep-alive", nil, nil); r.status != 401 {
		t.Errorf("keep-alive with an OAuth token: %d", r.status)
	}
}

func TestPrivileges(t *testing.T) {
	tests := []struct {
		version, method, path string
		privs                 []string
		status                int
		missing               string
	}{
		{"11.19.0", "POST", "/api/v1/jcds/files", nil, 403, "Create Jamf Content Distribution Server Files"},
		{"11.20.0", "POST", "/api/v1/jcds/files", nil, 403, "Create Jamf Cloud Distribution Service Files"},
		{"11.20.0", "POST", "/api/v1/jcds/files", []string{"Create Jamf Content Distribution Server Files"}, 403, "Create Jamf Cloud Distribution Service Files"},
		{"11.19.0", "POST", "/api/v1/jcds/files", []string{"Create Jamf Content Distribution Server Files"}, 201, ""},
		{"11.25.0", "POST", "/api/v1/packages/1/upload", []string{"Update Packages"}, 403, "Read Packages"},
		{"11.25.0", "POST", "/api/v1/packages/1/upload", []string{"Read Packages"}, 403, "Update Packages"},
		{"11.25.0", "GET", "/api/v1/cloud-distribution-point/files", nil, 403, "Read Cloud Distribution Point"},
		{"11.25.0", "GET", "/api/v1/jcds/files", []string{"Read Jamf Cloud Distribution Service Files"}, 200, ""},
		{"11.25.0", "DELETE", "/api/v1/jcds/files/x.pkg", []string{"Read Jamf Cloud Distribution Service Files"}, 403, "Delete Jamf Cloud Distribution Service Files"},
		{"11.25.0", "GET", "/api/v1/packages", nil, 403, "Read Packages"},
		{"11.25.0", "GET", "/api/v1/categories", nil, 403, "Read Categories"},
		{"11.25.0", "POST", "/api/v1/cloud-distribution-point/refresh-inventory", nil, 403, "Read Cloud Distribution Point"},
		{"11.25.0", "GET", "/api/v1/jamf-pro-version", nil, 200, ""},
		{"11.4.0", "GET", "/JSSResource/packages/name/x", nil, 401, "Read Packages"}, // Classic: 401
	}
	for _, tt := range tests {
		t.Run(tt.version+" "+tt.method+" "+tt.path, func(t *testing.T) {
			c := newTC(t, Options{JamfVersion: tt.version})
			c.sim.AddAccount("limited", "pw12345", tt.privs...)
			c.token = c.loginAs("limited", "pw12345")
			r := c.do(tt.method, tt.path, nil, map[string]string{expectInvalidHeader: "no body"})
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.missing != "" && !contains(string(r.body), tt.missing) {
				t.Errorf("body does not name %q: %s", tt.missing, r.body)
			}
			if tt.status == 403 && !strings.HasPrefix(tt.path, "/JSSResource") && r.apiCode(t) != "INVALID_PRIVILEGE" {
				t.Errorf("code: %s", r.body)
			}
		})
	}
}

func TestVersionGates(t *testing.T) {
	tests := []struct {
		version, method, path string
		status                int
	}{
		{"10.48.0", "POST", "/api/oauth/token", 404},
		{"10.49.0", "POST", "/api/oauth/token", 400}, // exists; no grant_type
		{"10.48.0", "POST", "/api/v1/oauth/token", 404},
		{"11.30.1", "POST", "/api/v1/oauth/token", 400},
		{"11.4.0", "GET", "/api/v1/packages", 404},
		{"11.5.0", "GET", "/api/v1/packages", 200},
		{"11.4.0", "POST", "/api/v1/packages/1/upload", 404},
		{"11.10.0", "POST", "/api/v1/jcds/refresh-inventory", 404},
		{"11.11.0", "POST", "/api/v1/jcds/refresh-inventory", 204},
		{"11.23.0", "POST", "/api/v1/cloud-distribution-point/refresh-inventory", 404},
		{"11.24.0", "POST", "/api/v1/cloud-distribution-point/refresh-inventory?file-name=x.pkg", 204},
		{"11.18.0", "GET", "/api/v1/jcds/properties", 200},
		{"11.19.0", "GET", "/api/v1/jcds/properties", 404},
		{"11.22.0", "GET", "/api/v1/cloud-distribution-point/upload-capability", 404},
		{"11.23.0", "GET", "/api/v1/cloud-distribution-point/upload-capability", 200},
		{"11.23.0", "GET", "/api/v1/cloud-distribution-point", 200},
		{"11.23.0", "GET", "/api/v1/cloud-distribution-point/files", 200},
		{"10.49.0", "GET", "/JSSResource/packages/name/absent", 404},
	}
	for _, tt := range tests {
		t.Run(tt.version+" "+tt.path, func(t *testing.T) {
			c := newTC(t, Options{JamfVersion: tt.version})
			if !strings.Contains(tt.path, "oauth") {
				c.login()
			}
			if r := c.do(tt.method, tt.path, nil, map[string]string{expectInvalidHeader: "no body"}); r.status != tt.status {
				t.Errorf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
		})
	}
}

func TestNoJCDS(t *testing.T) {
	// Before 11.25.2 an instance without JCDS 2.0 answered 500 on the JCDS
	// file endpoints; on 11.26.1 404 "JCDS Settings record not found" with
	// "id": null (jamf/JamfSync#80, #85).
	for _, tt := range []struct {
		version string
		status  int
		msg     string
	}{
		{"11.25.0", 500, ""},
		{"11.26.1", 404, "JCDS Settings record not found"},
	} {
		t.Run(tt.version, func(t *testing.T) {
			c := newTC(t, Options{NoJCDS: true, JamfVersion: tt.version})
			c.login()
			for _, p := range []struct{ method, path string }{
				{"GET", "/api/v1/jcds/files"},
				{"POST", "/api/v1/jcds/files"},
				{"POST", "/api/v1/jcds/renew-credentials"},
				{"POST", "/api/v1/jcds/refresh-inventory"},
			} {
				r := c.do(p.method, p.path, nil, nil)
				if r.status != tt.status || !contains(string(r.body), tt.msg) {
					t.Errorf("%s %s: %d %s", p.method, p.path, r.status, r.body)
				}
				if tt.status == 404 && !contains(string(r.body), `"id": null`) {
					t.Errorf("%s %s: want \"id\": null: %s", p.method, p.path, r.body)
				}
			}
			for _, p := range []string{"/api/v1/cloud-distribution-point/refresh-inventory", "/api/v1/cloud-distribution-point/files", "/api/v1/cloud-distribution-point"} {
				method := "GET"
				if strings.HasSuffix(p, "refresh-inventory") {
					method = "POST"
				}
				if r := c.do(method, p, nil, nil); r.status != 404 || !contains(string(r.body), "Cloud distribution point not found or is null") {
					t.Errorf("%s: %d %s", p, r.status, r.body)
				}
			}
			var capab struct{ DirectUploadCapable bool }
			c.do("GET", "/api/v1/cloud-distribution-point/upload-capability", nil, nil).json(t, &capab)
			if capab.DirectUploadCapable {
				t.Error("an instance without a distribution point claims direct upload")
			}
		})
	}
}

// With -jcds-removed every /api/v1/jcds/* path is an unknown endpoint; the
// cloud distribution point and v1 {id}/upload keep working.
func TestJCDSRemoved(t *testing.T) {
	c := newTC(t, Options{JCDSRemoved: true, ClusterNodes: 1})
	c.login()
	for _, p := range []struct{ method, path string }{
		{"GET", "/api/v1/jcds/files"}, {"POST", "/api/v1/jcds/files"}, {"POST", "/api/v1/jcds/renew-credentials"},
		{"GET", "/api/v1/jcds/files/a.pkg"}, {"DELETE", "/api/v1/jcds/files/a.pkg"}, {"POST", "/api/v1/jcds/refresh-inventory"},
		{"GET", "/api/v1/jcds/properties"}, {"GET", "/api/v1/jcds/anything"},
	} {
		if r := c.do(p.method, p.path, nil, nil); r.status != 404 || r.apiCode(t) != "NOT_FOUND" {
			t.Errorf("%s %s: %d %s", p.method, p.path, r.status, r.body)
		}
	}
	if r := c.jsonBody("POST", "/api/v1/packages", v1Body("Tool", "Tool.pkg", "-1", "SHA_512")); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	body, ct := multipartBody(t, "file", "Tool.pkg", []byte("tool bytes"))
	if r := c.do("POST", "/api/v1/packages/1/upload", body, map[string]string{"Content-Type": ct}); r.status != 201 {
		t.Fatalf("v1 upload: %d %s", r.status, r.body)
	}
	c.refreshUntil("Tool.pkg", func() bool { return c.pkg("1")["cloudTransferStatus"] == "READY" })
	if p := c.pkg("1"); p["size"] != "10" {
		t.Errorf("after refresh: %v", p)
	}
	var files struct {
		TotalCount int
		Results    []map[string]any
	}
	c.do("GET", "/api/v1/cloud-distribution-point/files", nil, nil).json(t, &files)
	if files.TotalCount != 1 || files.Results[0]["fileName"] != "Tool.pkg" || files.Results[0]["status"] != "READY" || files.Results[0]["fileObjectId"] != "1" {
		t.Errorf("cdp files %+v", files)
	}
}
