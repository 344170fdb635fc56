package jamf

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestOAuthPath: the current /api/v1/oauth/token is asked first; only a
// server that lacks it gets the deprecated /api/oauth/token.
func TestOAuthPath(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		f := newFake(t, versionAPI)
		f.legacyOAuth.Store(legacy)
		c, _ := f.client(t, func(cfg *Config, h *hooks) {
			cfg.Username, cfg.Password, cfg.ClientID, cfg.ClientSecret = "", "", f.id, f.secret
		})
		if err := c.Authenticate(context.Background()); err != nil {
			t.Fatalf("legacy=%v: %v", legacy, err)
		}
		want := []string{"/api/v1/oauth/token"}
		if legacy {
			want = append(want, "/api/oauth/token")
		}
		if !slices.Equal(f.oauthPaths, want) {
			t.Errorf("legacy=%v: token paths %v, want %v", legacy, f.oauthPaths, want)
		}
	}
}

// TestCookieJarKeepsOneNode: the APBALANCEID cookie a Jamf Cloud node sets
// comes back on every later request of the same client, token requests
// included, and a new client (a new run) starts without it.
func TestCookieJarKeepsOneNode(t *testing.T) {
	var seen []string
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie("APBALANCEID")
		if err != nil {
			seen = append(seen, "")
			http.SetCookie(w, &http.Cookie{Name: "APBALANCEID", Value: "aws.node2", Path: "/"})
		} else {
			seen = append(seen, ck.Value)
		}
		versionAPI(w, r)
	})
	ctx := context.Background()
	c, _ := f.client(t, nil)
	for range 3 {
		if _, err := c.Version(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"", "aws.node2", "aws.node2"}; !slices.Equal(seen, want) {
		t.Errorf("cookies seen %q, want %q", seen, want)
	}
	seen = nil
	c2, _ := f.client(t, nil)
	if _, err := c2.Version(ctx); err != nil {
		t.Fatal(err)
	}
	if seen[0] != "" {
		t.Errorf("a new client sent the old run's cookie %q", seen[0])
	}
}

// TestFindIgnoresCase: names match as Jamf Pro matches them, without case;
// two objects that differ only in case stop the run with both named.
func TestFindIgnoresCase(t *testing.T) {
	results := []map[string]any{{"id": "4", "packageName": "firefox.PKG", "name": "firefox.PKG"}}
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		jsonReply(w, 200, map[string]any{"totalCount": len(results), "results": results})
	})
	c, _ := f.client(t, nil)
	ctx := context.Background()
	p, err := c.FindPackage(ctx, "Firefox.pkg")
	if err != nil || p == nil || p.ID != "4" {
		t.Fatalf("FindPackage = %+v, %v; want id 4", p, err)
	}
	cat, err := c.FindCategory(ctx, "FIREFOX.pkg")
	if err != nil || cat == nil || cat.Name != "firefox.PKG" {
		t.Fatalf("FindCategory = %+v, %v", cat, err)
	}
	results = append(results, map[string]any{"id": "9", "packageName": "Firefox.pkg", "name": "Firefox.pkg"})
	_, err = c.FindPackage(ctx, "Firefox.pkg")
	if err == nil || !strings.Contains(err.Error(), `"firefox.PKG" (id 4)`) || !strings.Contains(err.Error(), `"Firefox.pkg" (id 9)`) {
		t.Errorf("two names differing in case: err = %v", err)
	}
}

// TestClassicStatuses: on the Classic API a 401 on a token this run just
// got names the privilege instead of renewing the token, a 409 about the
// category says it does not exist, and "No category assigned" is never
// sent back as a category name.
func TestClassicStatuses(t *testing.T) {
	var bodies []string
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "GET":
			io.WriteString(w, `{"package":{"id":7,"name":"App","filename":"App.pkg","category":"No category assigned","priority":10}}`)
		case r.Method == "POST":
			w.WriteHeader(401)
			io.WriteString(w, `<html><body><p>Error: Unauthorized</p></body></html>`)
		case r.Method == "PUT":
			b, _ := io.ReadAll(r.Body)
			bodies = append(bodies, string(b))
			w.WriteHeader(409)
			io.WriteString(w, `<html><body><p>Error: Problem with category name</p></body></html>`)
		}
	})
	c, _ := f.client(t, nil)
	ctx := context.Background()
	_, err := c.CreatePackageClassic(ctx, &Package{Name: "App", FileName: "App.pkg", Priority: 10})
	if err == nil || !strings.Contains(err.Error(), `"Create Packages" privilege`) {
		t.Errorf("Classic 401: %v", err)
	}
	if n := f.tokens.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1 (a Classic 401 is no reason to renew)", n)
	}
	p, err := c.FindPackageClassic(ctx, "App")
	if err != nil || p.Category != "" {
		t.Fatalf("FindPackageClassic = %+v, %v", p, err)
	}
	err = c.UpdatePackageClassic(ctx, p)
	if err == nil || !strings.Contains(err.Error(), "category does not exist") {
		t.Errorf("Classic 409 category: %v", err)
	}
	p.Category = "No category assigned"
	_ = c.UpdatePackageClassic(ctx, p)
	for _, b := range bodies {
		if strings.Contains(b, "No category assigned") || strings.Contains(b, "<category>") {
			t.Errorf("sent a category name for no category: %s", b)
		}
	}
}
