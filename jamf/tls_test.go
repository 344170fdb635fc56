package jamf

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestTLSTrust(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, `{"version":"11.25.0"}`)
	}))
	t.Cleanup(srv.Close)
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(certFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(t.TempDir(), "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)

	tests := []struct {
		name        string
		sslCertFile string
		insecure    bool
		wantErr     string // "" = success; else in NewHTTPClient or the request
	}{
		{"untrusted", "", false, "SSL_CERT_FILE"},
		{"SSL_CERT_FILE", certFile, false, ""},
		{"insecure", "", true, ""},
		{"junk SSL_CERT_FILE", junk, false, "holds no PEM certificate"},
		{"missing SSL_CERT_FILE", filepath.Join(t.TempDir(), "nope.pem"), false, "read SSL_CERT_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SSL_CERT_FILE", tt.sslCertFile)
			hits.Store(0)
			env := &testEnv{}
			c, err := newClient(Config{URL: srv.URL, BearerToken: "tls-test-token", Insecure: tt.insecure, MaxTries: 3}, testHooks(env))
			if err == nil {
				_, err = c.Version(context.Background())
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if len(env.slept()) != 0 {
				t.Errorf("a certificate error was retried: %v", env.slept())
			}
		})
	}
}

func TestCreateAfterLostAnswer(t *testing.T) {
	tests := []struct {
		name      string
		classic   bool
		dropFirst bool // the first try creates, then the answer is lost
		wantID    string
		wantErr   string
	}{
		{"v1 retry meets own object", false, true, "41", ""},
		{"classic retry meets own object", true, true, "41", ""},
		{"v1 real duplicate", false, false, "", "DUPLICATE_FIELD"},
		{"classic real duplicate", true, false, "", "Duplicate name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var posts atomic.Int64
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == "POST":
					io.Copy(io.Discard, r.Body)
					if posts.Add(1) == 1 && tt.dropFirst {
						conn, _, _ := w.(http.Hijacker).Hijack()
						conn.Close()
						return
					}
					if tt.classic {
						w.WriteHeader(http.StatusConflict)
						io.WriteString(w, `<html><body><p>Error: Duplicate name</p></body></html>`)
						return
					}
					writeJSONError(w, 400, "DUPLICATE_FIELD", "packageName must be unique")
				case strings.HasPrefix(r.URL.Path, "/JSSResource/packages/name/"):
					jsonReply(w, 200, map[string]any{"package": map[string]any{"id": 41, "name": "App", "filename": "App.pkg"}})
				case r.URL.Path == "/api/v1/packages":
					jsonReply(w, 200, map[string]any{"totalCount": 1, "results": []map[string]any{{"id": "41", "packageName": "App", "fileName": "App.pkg"}}})
				}
			})
			c, _ := f.client(t, nil)
			p := &Package{Name: "App", FileName: "App.pkg", Priority: 10}
			var id string
			var err error
			if tt.classic {
				id, err = c.CreatePackageClassic(context.Background(), p)
			} else {
				id, err = c.CreatePackage(context.Background(), p)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || id != tt.wantID {
				t.Fatalf("id %q, err %v; want %q", id, err, tt.wantID)
			}
		})
	}
}

// TestProxyFromEnvironment runs a child test process, because net/http reads
// the proxy variables once per process. The child talks to a made-up host
// through HTTPS_PROXY, which is this test's listener on 127.0.0.1: the
// request must arrive as a CONNECT for that host, and no name is resolved.
func TestProxyFromEnvironment(t *testing.T) {
	if os.Getenv("JCDS2_PROXY_CHILD") == "1" {
		c, err := NewClient(Config{URL: "https://jamf.proxy-test.invalid", BearerToken: "proxy-test-token", MaxTries: 1, CacheDir: "off"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Version(context.Background())
		if err == nil {
			t.Fatal("no error through a proxy that refuses")
		}
		return
	}
	var connects atomic.Int64
	var target atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			connects.Add(1)
			target.Store(r.Host)
		}
		http.Error(w, "no", http.StatusForbidden)
	}))
	t.Cleanup(proxy.Close)
	cmd := exec.Command(os.Args[0], "-test.run=^TestProxyFromEnvironment$", "-test.count=1")
	cmd.Env = append(os.Environ(), "JCDS2_PROXY_CHILD=1", "HTTPS_PROXY="+proxy.URL, "https_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if connects.Load() != 1 || target.Load() != "jamf.proxy-test.invalid:443" {
		t.Errorf("proxy saw %d CONNECTs to %v; want 1 to jamf.proxy-test.invalid:443", connects.Load(), target.Load())
	}
}
