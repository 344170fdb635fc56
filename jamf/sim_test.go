package jamf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/rs/zerolog"
)

// simClient makes a client for a jamfsim server with the default account.
func simClient(t *testing.T, s *jamfsim.Server, mod func(*Config, *hooks)) (*Client, *testEnv) {
	t.Helper()
	env := &testEnv{}
	h := testHooks(env)
	h.apiTimeout = 20 * time.Second
	cfg := Config{URL: s.URL(), Username: "admin", Password: "password", CacheDir: filepath.Join(t.TempDir(), "tokens"),
		MaxTries: 4, Sleep: time.Millisecond, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)}
	if mod != nil {
		mod(&cfg, &h)
	}
	c, err := newClient(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	return c, env
}

func TestSimV1Flow(t *testing.T) {
	// Jamf Cloud's pace at a twentieth: each name's first refresh takes
	// 200 ms instead of 4 s.
	s := jamfsim.Start(t, jamfsim.Options{TimeScale: 20})
	catID := s.AddCategory("Tools & Utilities (Beta)")
	c, _ := simClient(t, s, nil)
	ctx := context.Background()

	v, err := c.Version(ctx)
	if err != nil || !v.AtLeast(11, 25) {
		t.Fatalf("Version = %v, %v", v, err)
	}
	cat, err := c.FindCategory(ctx, "Tools & Utilities (Beta)")
	if err != nil || cat == nil || cat.ID != catID {
		t.Fatalf("FindCategory = %+v, %v", cat, err)
	}
	if cat, err := c.FindCategory(ctx, "Tools"); cat != nil || err != nil {
		t.Errorf("FindCategory(prefix) = %+v, %v", cat, err)
	}
	for _, name := range oddNames {
		t.Run(name, func(t *testing.T) {
			if p, err := c.FindPackage(ctx, name); p != nil || err != nil {
				t.Fatalf("FindPackage before create = %+v, %v", p, err)
			}
			id, err := c.CreatePackage(ctx, &Package{Name: name, FileName: name + ".pkg", CategoryID: catID, Priority: 10,
				HashType: "SHA_512", HashValue: strings.Repeat("a", 128)})
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.FindPackage(ctx, name)
			if err != nil || p == nil || p.ID != id || p.FileName != name+".pkg" || p.CategoryID != catID {
				t.Fatalf("FindPackage = %+v, %v", p, err)
			}
			file := filepath.Join(t.TempDir(), "x.pkg")
			data := []byte("package bytes for " + name)
			if err := os.WriteFile(file, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := c.UploadPackageV1(ctx, id, file, p.FileName, nil); err != nil {
				t.Fatal(err)
			}
			// Processing is asynchronous: refresh and poll the record until
			// it shows the file, as the uploader does.
			deadline := time.Now().Add(20 * time.Second)
			for {
				if _, err := c.RefreshInventory(ctx, p.FileName, v); err != nil {
					t.Fatal(err)
				}
				got, err := c.GetPackage(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if got.TransferStatus == "READY" && got.SizeKnown && got.Size == int64(len(data)) {
					p = got
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("record never ready: %+v", got)
				}
				time.Sleep(100 * time.Millisecond)
			}
			p.Notes, p.HashType, p.HashValue = "updated", "SHA3_512", strings.Repeat("b", 128)
			if err := c.UpdatePackage(ctx, p); err != nil {
				t.Fatal(err)
			}
			if files, err := c.JCDSFiles(ctx); err != nil || !listed(files, p.FileName) {
				t.Errorf("JCDSFiles = %+v, %v; want %s listed", files, err, p.FileName)
			}
			if f, ok := s.File(p.FileName); !ok || f.Size != int64(len(data)) {
				t.Errorf("sim file %+v, %v", f, ok)
			}
			if err := c.DeleteJCDSFile(ctx, p.FileName); err != nil {
				t.Fatal(err)
			}
			if files, err := c.JCDSFiles(ctx); err != nil || listed(files, p.FileName) {
				t.Errorf("JCDSFiles after delete = %+v, %v; want %s gone", files, err, p.FileName)
			}
			if err := c.DeleteJCDSFile(ctx, p.FileName); !errors.Is(err, ErrNotFound) {
				t.Errorf("DeleteJCDSFile after delete: %v, want ErrNotFound", err)
			}
		})
	}
	if len(s.State().Packages) < len(oddNames)-1 {
		t.Fatalf("only %d packages made", len(s.State().Packages))
	}
	for _, p := range s.State().Packages {
		for _, w := range p.Writes {
			if strings.Contains(w, "size") {
				t.Errorf("package %q written with size: %v", p.Name, p.Writes)
			}
		}
		if p.Notes != "updated" || p.HashType != "SHA3_512" {
			t.Errorf("package %q not updated: %+v", p.Name, p)
		}
	}
	cr, err := c.InitiateUpload(ctx)
	if err != nil || cr.BucketName == "" || cr.Path == "" || time.Until(cr.Expiration) < time.Minute {
		t.Fatalf("InitiateUpload = %v, %v", cr, err)
	}
	cr2, err := c.RenewCredentials(ctx)
	if err != nil || cr2.Path != cr.Path {
		t.Fatalf("RenewCredentials = %v, %v (first %v)", cr2, err, cr)
	}
	if st := c.Stats(); st.TokenRequests != 1 {
		t.Errorf("token requests %d, want 1", st.TokenRequests)
	}
}

func TestSimClassicFlow(t *testing.T) {
	s := jamfsim.Start(t, jamfsim.Options{JamfVersion: "11.4.0"})
	s.AddCategory("Apps & More")
	c, _ := simClient(t, s, nil)
	ctx := context.Background()
	name := `Tom & Jerry "#1" (Beta)!`
	if p, err := c.FindPackageClassic(ctx, name); p != nil || err != nil {
		t.Fatalf("FindPackageClassic before = %+v, %v", p, err)
	}
	id, err := c.CreatePackageClassic(ctx, &Package{Name: name, FileName: "Tom & Jerry.pkg", Category: "Apps & More",
		Priority: 10, RequiredProcessor: "None", HashType: "SHA_512", HashValue: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.FindPackageClassic(ctx, name)
	if err != nil || p == nil || p.ID != id || p.Category != "Apps & More" || p.FileName != "Tom & Jerry.pkg" {
		t.Fatalf("FindPackageClassic = %+v, %v", p, err)
	}
	p.Info = "<info> & more"
	if err := c.UpdatePackageClassic(ctx, p); err != nil {
		t.Fatal(err)
	}
	if p2, _ := c.FindPackageClassic(ctx, name); p2 == nil || p2.Info != p.Info {
		t.Errorf("after update: %+v", p2)
	}
	_, err = c.CreatePackageClassic(ctx, &Package{Name: "x", FileName: "x.pkg", Category: "No Such Category", Priority: 10})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 409 && ae.Status != 400 || ae.Message == "" {
		t.Errorf("missing category: %v", err)
	}
	if _, err := c.RefreshInventory(ctx, "x.pkg", Version{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("RefreshInventory on 11.4: %v", err)
	}
}

func TestSimAuthAndCache(t *testing.T) {
	s := jamfsim.Start(t, jamfsim.Options{TokenTTL: 10 * time.Minute})
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "tokens")

	// Four runs at once: one token request.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		c, _ := simClient(t, s, func(cfg *Config, h *hooks) { cfg.CacheDir = dir })
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Version(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := s.State().Counts.TokenRequests; n != 1 {
		t.Errorf("4 concurrent runs: %d token requests, want 1", n)
	}

	// OAuth client credentials.
	oc, _ := simClient(t, s, func(cfg *Config, h *hooks) {
		cfg.CacheDir, cfg.ClientID, cfg.ClientSecret = dir, "client-id", "client-secret"
	})
	if _, err := oc.Version(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.State().Counts.OAuthTokenRequests; n != 1 {
		t.Errorf("oauth token requests = %d", n)
	}

	// Tokens expire server-side: the next call renews once and succeeds.
	s.ExpireTokens()
	c, _ := simClient(t, s, func(cfg *Config, h *hooks) { cfg.CacheDir = dir })
	if _, err := c.JCDSFiles(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.State().Counts.TokenRequests; n != 2 {
		t.Errorf("after expiry: %d token requests, want 2", n)
	}
	// A wrong password says who, where, what.
	bad, _ := simClient(t, s, func(cfg *Config, h *hooks) { cfg.Password = "wrong-pass-123" })
	err := bad.Authenticate(ctx)
	if err == nil || !strings.Contains(err.Error(), `user "admin"`) || !strings.Contains(err.Error(), s.URL()) ||
		!strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), "wrong-pass-123") {
		t.Errorf("bad password error: %v", err)
	}
}

func TestSimFaults(t *testing.T) {
	s := jamfsim.Start(t, jamfsim.Options{})
	tests := []struct {
		name      string
		fault     jamfsim.Fault
		wantCalls int
		wantWait  time.Duration // exact wait, when Retry-After decides it
	}{
		{"503 twice", jamfsim.Fault{Method: "GET", Path: "/api/v1/jcds/files", Status: 503, Count: 2}, 3, 0},
		{"429 retry-after", jamfsim.Fault{Method: "GET", Path: "/api/v1/jcds/files", Status: 429, RetryAfter: 3}, 2, 3 * time.Second},
		// A POST, because net/http itself replays a GET whose reused
		// connection closed without an answer.
		{"drop", jamfsim.Fault{Method: "POST", Path: "/api/v1/jcds/files", Drop: true}, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, env := simClient(t, s, nil)
			if err := c.Authenticate(context.Background()); err != nil {
				t.Fatal(err)
			}
			before := c.Stats().Requests
			s.InjectFault(tt.fault)
			var err error
			if tt.fault.Method == "POST" {
				_, err = c.InitiateUpload(context.Background())
			} else {
				_, err = c.JCDSFiles(context.Background())
			}
			if err != nil {
				t.Fatal(err)
			}
			// The client's count: the simulator logs a dropped call only
			// after the connection is gone, which can be after the retry.
			if n := c.Stats().Requests - before; n != int64(tt.wantCalls) {
				t.Errorf("calls = %d, want %d", n, tt.wantCalls)
			}
			w := env.slept()
			if len(w) != tt.wantCalls-1 {
				t.Errorf("waits %v, want %d", w, tt.wantCalls-1)
			}
			if tt.wantWait != 0 && (len(w) == 0 || w[0] != tt.wantWait) {
				t.Errorf("waits %v, want %v", w, tt.wantWait)
			}
		})
	}
}

func TestSimPrivilegeHints(t *testing.T) {
	tests := []struct{ version, want string }{
		{"11.19.0", `Create "Jamf Content Distribution Server Files"`},
		{"11.25.0", `Create "Jamf Cloud Distribution Service Files"`},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			s := jamfsim.Start(t, jamfsim.Options{JamfVersion: tt.version})
			s.AddAccount("limited", "limited-pass", jamfsim.PrivReadPackages, jamfsim.JCDSPrivilege(tt.version, "Read"))
			c, _ := simClient(t, s, func(cfg *Config, h *hooks) { cfg.Username, cfg.Password = "limited", "limited-pass" })
			ctx := context.Background()
			if _, err := c.Version(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := c.JCDSFiles(ctx); err != nil {
				t.Fatalf("read is allowed: %v", err)
			}
			_, err := c.InitiateUpload(ctx)
			var ae *APIError
			if !errors.As(err, &ae) || (ae.Status != 401 && ae.Status != 403) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want naming %s", err, tt.want)
			}
		})
	}
	// From 11.26.1 an instance without JCDS 2.0 answers 404 "JCDS Settings
	// record not found" (jamf/JamfSync#80, #85); before 11.25.2 it was 500.
	s := jamfsim.Start(t, jamfsim.Options{NoJCDS: true, JamfVersion: "11.26.1"})
	c, _ := simClient(t, s, nil)
	if _, err := c.JCDSFiles(context.Background()); err == nil || !strings.Contains(err.Error(), "is JCDS 2.0 enabled") || !NoJCDS(err) || JCDSGone(err) {
		t.Errorf("no JCDS: %v", err)
	}
}

func listed(files []JCDSFile, name string) bool {
	for _, f := range files {
		if f.FileName == name {
			return true
		}
	}
	return false
}
