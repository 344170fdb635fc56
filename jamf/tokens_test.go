package jamf

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/memnet"
)

// bubbleSim serves sim's Jamf API on an in-memory network inside the
// calling synctest bubble and returns a client for it with default hooks
// (the bubble's fake clock), no token cache, and either OAuth client
// credentials or basic auth. The simulator itself is built outside the
// bubble (its S3 side listens on loopback); its handler runs on the
// bubble's goroutines and clock.
func bubbleSim(t *testing.T, sim *jamfsim.Server, oauth bool) *Client {
	t.Helper()
	l := memnet.Listen("jamf.test")
	srv := &http.Server{Handler: sim.Handler()}
	go func() { _ = srv.Serve(l) }()
	tr := l.Transport()
	cfg := Config{URL: "http://jamf.test", CacheDir: "off", MaxTries: 3, HTTPClient: &http.Client{Transport: tr},
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	if oauth {
		cfg.ClientID, cfg.ClientSecret = "client-id", "client-secret"
	} else {
		cfg.Username, cfg.Password = "admin", "password"
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = srv.Close()
	})
	return c
}

func newShortTokenSim(t *testing.T) *jamfsim.Server {
	t.Helper()
	sim, err := jamfsim.New(jamfsim.Options{TokenTTL: 60 * time.Second, ClusterNodes: 4, Contract: t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

// status401s counts the requests the simulator refused for their token.
func status401s(sim *jamfsim.Server) int {
	n := 0
	for _, c := range sim.State().Calls {
		if c.Status == http.StatusUnauthorized {
			n++
		}
	}
	return n
}

func tokenRequests(sim *jamfsim.Server) int {
	c := sim.State().Counts
	return c.TokenRequests + c.OAuthTokenRequests
}

// pollPods has one poller per pod refresh the file's inventory and read
// the package every interval until d has passed, as the settle step's pod
// pollers do, all waking at the same instants (so they need a new token at
// the same instant too). mid, if set, runs once at midAt.
func pollPods(ctx context.Context, t *testing.T, c *Client, id string, d, interval time.Duration, midAt time.Duration, mid func()) {
	t.Helper()
	pods := []Pod{}
	for n := 1; n <= 4; n++ {
		pods = append(pods, Pod{Cookie: CookieJproIngress, Value: "aws.jamfsim.node" + strconv.Itoa(n)})
	}
	end := time.Now().Add(d)
	if mid != nil {
		time.AfterFunc(midAt, mid)
	}
	var wg sync.WaitGroup
	for _, p := range pods {
		pc := c.OnPod(p)
		wg.Go(func() {
			for time.Now().Before(end) {
				// The version read stands in for the inventory refresh: the
				// simulator's refresh reads its S3 side through a connection
				// made outside the bubble, which synctest does not allow.
				if _, err := pc.Version(ctx); err != nil {
					t.Errorf("%s at %s: version: %v", p, time.Now().Format(time.TimeOnly), err)
					return
				}
				if _, err := pc.GetPackage(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
					// Not found: this pod has not caught up with the create.
					t.Errorf("%s at %s: read: %v", p, time.Now().Format(time.TimeOnly), err)
					return
				}
				time.Sleep(interval)
			}
		})
	}
	wg.Wait()
}

// Tokens that live 60 s (an API client's default, jamf-upload #297) hold
// through a long upload and a 15-minute verify on four pods: a token is
// renewed before the request that needs it, so the server refuses nothing,
// and the four pod pollers share each renewal.
func TestShortTokensHold(t *testing.T) {
	for _, oauth := range []bool{true, false} {
		name := "basic"
		if oauth {
			name = "oauth"
		}
		t.Run(name, func(t *testing.T) {
			sim := newShortTokenSim(t)
			synctest.Test(t, func(t *testing.T) {
				c := bubbleSim(t, sim, oauth)
				ctx := context.Background()
				start := time.Now()
				id, err := c.CreatePackage(ctx, &Package{Name: "App", FileName: "App.pkg", CategoryID: "-1", Priority: 10})
				if err != nil {
					t.Fatal(err)
				}
				// Five minutes with no Jamf request (the bytes go to S3 with
				// their own credentials), then one request: the token from
				// before is long expired and is renewed first, not sent.
				time.Sleep(5 * time.Minute)
				if _, err := c.GetPackage(ctx, id); err != nil {
					t.Fatal(err)
				}
				// Then a 15-minute verify on four pods, a look every 5 s.
				pollPods(ctx, t, c, id, 15*time.Minute, 5*time.Second, 0, nil)
				took := time.Since(start)
				if n := status401s(sim); n != 0 {
					t.Errorf("the server refused %d requests for their token, want none", n)
				}
				// A 60 s token is renewed 20 s before it expires (a third
				// of its life): at most one token per 40 s, whatever the
				// number of pods, plus the one after the idle upload.
				most := int(took/(40*time.Second)) + 2
				got := tokenRequests(sim)
				if got > most || got < 1 {
					t.Errorf("%d token requests in %s, want 1..%d (one renewal shared by the four pods)", got, took, most)
				}
				if oauth && got < int(took/time.Minute) {
					t.Errorf("%d token requests in %s with 60 s tokens: tokens outlived their life?", got, took)
				}
				if s := c.Stats(); s.TokenRequests != int64(got) {
					t.Errorf("client counted %d token requests, the server %d", s.TokenRequests, got)
				}
			})
		})
	}
}

// A token the server stops accepting mid-run (revoked, or a clock that
// disagrees) is renewed once, by one of the pod pollers, and each refused
// request is sent again: the caller sees no error.
func TestRevokedTokenRenewsOnce(t *testing.T) {
	sim := newShortTokenSim(t)
	synctest.Test(t, func(t *testing.T) {
		c := bubbleSim(t, sim, true)
		ctx := context.Background()
		id, err := c.CreatePackage(ctx, &Package{Name: "App", FileName: "App.pkg", CategoryID: "-1", Priority: 10})
		if err != nil {
			t.Fatal(err)
		}
		// The token from the create is renewed at 40 s, before its last
		// 20 s; the next renewal would be due at 80 s. The revocation at
		// 52.5 s makes the pollers' requests at 55 s refused; the run ends
		// at 90 s, before the renewal after that one (95 s) is due.
		var before int
		pollPods(ctx, t, c, id, 90*time.Second, 5*time.Second, 52500*time.Millisecond, func() {
			before = tokenRequests(sim)
			sim.ExpireTokens()
		})
		refused := status401s(sim)
		if refused < 1 || refused > 4 {
			t.Errorf("%d requests refused after the revocation, want 1..4 (one per poller at most)", refused)
		}
		// The revocation costs one token request, shared by the four.
		after := tokenRequests(sim)
		if after-before != 1 {
			t.Errorf("%d token requests after the revocation, want 1 shared by the four pollers", after-before)
		}
	})
}

// slowReader gives at most chunk bytes per Read, each after pause: a
// multi-GB upload's pace, on the bubble's clock.
type slowReader struct {
	r     io.Reader
	chunk int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), s.chunk)])
}

// A 60 s token holds through an {id}/upload that takes 21 minutes (a
// multi-GB file's pace) and the 15-minute verify after it: the token is
// checked when the upload starts, as a server checks it, and the first
// request after the upload gets a renewed token instead of the expired one.
func TestShortTokensHoldThroughALongUpload(t *testing.T) {
	sim := newShortTokenSim(t)
	synctest.Test(t, func(t *testing.T) {
		var (
			mu       sync.Mutex
			uploads  []time.Duration // how long each upload took to arrive
			refused  int
			received int64
		)
		api := sim.Handler()
		mux := http.NewServeMux()
		mux.Handle("/", api)
		// The simulator's {id}/upload stores to its S3 side over loopback,
		// which a bubble cannot use; this one checks the token with the
		// simulator at the start, as the server does, then takes the body.
		mux.HandleFunc("POST /api/v1/packages/{id}/upload", func(w http.ResponseWriter, r *http.Request) {
			check := httptest.NewRequest(http.MethodGet, "/api/v1/jamf-pro-version", nil)
			check.Header.Set("Authorization", r.Header.Get("Authorization"))
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, check)
			if rec.Code != http.StatusOK {
				mu.Lock()
				refused++
				mu.Unlock()
				w.WriteHeader(rec.Code)
				return
			}
			start := time.Now()
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				t.Errorf("upload body: %v", err)
			}
			mu.Lock()
			uploads = append(uploads, time.Since(start))
			received += n
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id":"1","href":"/api/v1/packages/`+r.PathValue("id")+`"}`)
		})
		l := memnet.Listen("jamf.test")
		srv := &http.Server{Handler: mux}
		go func() { _ = srv.Serve(l) }()
		tr := l.Transport()
		defer func() { tr.CloseIdleConnections(); _ = srv.Close() }()
		c, err := NewClient(Config{URL: "http://jamf.test", ClientID: "client-id", ClientSecret: "client-secret", CacheDir: "off",
			HTTPClient: &http.Client{Transport: tr}, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		id, err := c.CreatePackage(ctx, &Package{Name: "App", FileName: "App.pkg", CategoryID: "-1", Priority: 10})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "App.pkg")
		if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 1<<20), 0o600); err != nil {
			t.Fatal(err)
		}
		// 128 reads of 8 KiB, 10 s apart: 21 minutes and 20 seconds.
		slow := func(r io.Reader) io.Reader { return &slowReader{r: r, chunk: 8 << 10, pause: 10 * time.Second} }
		if err := c.UploadPackageV1(ctx, id, path, "App.pkg", slow); err != nil {
			t.Fatal(err)
		}
		pollPods(ctx, t, c, id, 15*time.Minute, 5*time.Second, 0, nil)
		mu.Lock()
		defer mu.Unlock()
		if len(uploads) != 1 || uploads[0] < 21*time.Minute || received < 1<<20 {
			t.Fatalf("uploads %v (%d bytes), want one of 1 MiB over 21 minutes", uploads, received)
		}
		if n := status401s(sim) + refused; n != 0 {
			t.Errorf("%d requests refused for their token, want none", n)
		}
		// Renewals only while requests are made: one before the upload
		// (the create's token is still good), none during it, then one
		// per 40 s of the verify.
		if got, most := tokenRequests(sim), 1+1+int(15*time.Minute/(40*time.Second))+1; got > most {
			t.Errorf("%d token requests, want at most %d", got, most)
		}
	})
}
