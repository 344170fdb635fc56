package jamfsim

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The default processing time grows with the size at jamf-upload#399's
// pace: 10.85 GB in about 15 minutes.
func TestDefaultProcessingTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		size     int64
		min, max time.Duration
	}{
		{0, 0, 0},
		{-1, 0, 0},
		{12_000_000, time.Second, time.Second},
		{1 << 30, 89 * time.Second, 90 * time.Second},
		{10_850_000_000, 904 * time.Second, 905 * time.Second}, // #399: "allow 15 minutes"
		{30_000_000_000, 2500 * time.Second, 2500 * time.Second},
	}
	for _, tt := range tests {
		if got := DefaultProcessingTime(tt.size); got < tt.min || got > tt.max {
			t.Errorf("DefaultProcessingTime(%d) = %v, want %v–%v", tt.size, got, tt.min, tt.max)
		}
	}
	if got := ProcessingTimeAtRate(1000)(500); got != 500*time.Millisecond {
		t.Errorf("ProcessingTimeAtRate(1000)(500) = %v", got)
	}
}

// Processing takes the time Options.ProcessingTime gives the upload's
// size (a small file standing in for a 10 GB one), divided by the time
// scale: a refresh before it ends shows the old record, one after it the
// file.
func TestProcessingTimeStandsInForSize(t *testing.T) {
	t.Parallel() // waits out real delays
	const scale = 600
	tenGiB := DefaultProcessingTime(10 << 30) // about 15 minutes
	var (
		mu    sync.Mutex
		asked []int64
	)
	c := newTC(t, Options{ClusterNodes: 1, TimeScale: scale, ListWait: 100 * time.Millisecond,
		ProcessingTime: func(size int64) time.Duration {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, size)
			return tenGiB
		}})
	c.login()
	if r := c.jsonBody("POST", "/api/v1/packages", v1Body("Big", "Big.pkg", "-1", "SHA_512")); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	data := []byte("stands in for 10 GiB")
	body, ct := multipartBody(t, "file", "Big.pkg", data)
	// Processing starts when the bytes are in, before the answer reaches
	// the client: the time is taken before the request.
	uploaded := time.Now()
	if r := c.do("POST", "/api/v1/packages/1/upload", body, map[string]string{"Content-Type": ct}); r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	took := tenGiB / scale // about 1.5 s
	c.refresh("Big.pkg")
	if p := c.pkg("1"); time.Since(uploaded) < took && (p["cloudTransferStatus"] != "" || p["size"] != nil) {
		t.Errorf("refresh during processing: %v", p)
	}
	waitFor(t, func() bool { return c.uploadDone("Big.pkg") })
	if d := time.Since(uploaded); d < took {
		t.Errorf("processing ended after %v, want at least %v", d, took)
	}
	c.refresh("Big.pkg")
	_, sha3hex := sums(data)
	if p := c.pkg("1"); p["cloudTransferStatus"] != "READY" || p["hashValue"] != sha3hex || p["size"] != "20" {
		t.Errorf("refresh after processing: %v", p)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) == 0 || asked[0] != int64(len(data)) {
		t.Errorf("ProcessingTime asked for sizes %v, want %d", asked, len(data))
	}
}

// A file's first refresh on a pod takes about 4 s, later ones about
// 200 ms (terraform-provider-jamfplatform helpers.go); a new upload of
// the file makes the next one a first again, on each pod. The time scale
// divides both.
func TestRefreshTimes(t *testing.T) {
	t.Parallel()    // waits out real delays
	const scale = 8 // first 500 ms, later 25 ms
	c := newTC(t, Options{ClusterNodes: 2, TimeScale: scale, FirstRefreshTime: FirstRefreshTime, LaterRefreshTime: LaterRefreshTime,
		ListWait: 100 * time.Millisecond, ProcessingDelay: -1})
	c.client = &http.Client{}
	c.login()
	c.sim.AddPackage(Package{Name: "R", FileName: "R.pkg"})
	first, later := FirstRefreshTime/scale, LaterRefreshTime/scale
	timed := func(node int) time.Duration {
		t.Helper()
		start := time.Now()
		if r := c.onNode(node, "POST", "/api/v1/cloud-distribution-point/refresh-inventory?file-name=R.pkg", nil); r.status != 204 {
			t.Fatalf("refresh on node %d: %d %s", node, r.status, r.body)
		}
		return time.Since(start)
	}
	if d := timed(0); d < first {
		t.Errorf("first refresh on node 0 took %v, want at least %v", d, first)
	}
	if d := timed(0); d < later || d >= first {
		t.Errorf("second refresh on node 0 took %v, want %v up to %v", d, later, first)
	}
	if d := timed(1); d < first {
		t.Errorf("first refresh on node 1 took %v, want at least %v", d, first)
	}
	body, ct := multipartBody(t, "file", "R.pkg", []byte("new"))
	if r := c.do("POST", "/api/v1/packages/1/upload", body, map[string]string{"Content-Type": ct}); r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if d := timed(0); d < first {
		t.Errorf("first refresh on node 0 after a new upload took %v, want at least %v", d, first)
	}
}

// An API client's token lives 60 s by default (jamf-upload#297), a
// basic-auth token 30 minutes; TokenTTL sets both; the time scale divides
// them.
func TestTokenLifetimes(t *testing.T) {
	t.Parallel()
	oauth := func(c *tc) (string, int) {
		t.Helper()
		r := c.do("POST", "/api/v1/oauth/token", strings.NewReader("grant_type=client_credentials&client_id=client-id&client_secret=client-secret"),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		var tok struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
		}
		r.json(t, &tok)
		return tok.AccessToken, tok.ExpiresIn
	}
	for _, tt := range []struct {
		name         string
		opts         Options
		oauth, basic time.Duration
	}{
		{"default", Options{}, 60 * time.Second, 30 * time.Minute},
		{"TokenTTL", Options{TokenTTL: 10 * time.Minute}, 10 * time.Minute, 10 * time.Minute},
		{"TimeScale 120", Options{TimeScale: 120}, time.Second / 2, 15 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newTC(t, tt.opts)
			if _, in := oauth(c); in != int((tt.oauth+time.Second-1)/time.Second) {
				t.Errorf("oauth expires_in %d, want %v", in, tt.oauth)
			}
			r := c.do("POST", "/api/v1/auth/token", nil, map[string]string{"Authorization": basic("admin", "password")})
			var tok struct{ Expires string }
			r.json(t, &tok)
			exp, err := time.Parse(time.RFC3339Nano, tok.Expires)
			if d := time.Until(exp); err != nil || d > tt.basic || d < tt.basic-5*time.Second {
				t.Errorf("basic token expires in %v (%v), want %v", d, err, tt.basic)
			}
		})
	}
	// The scaled OAuth token is refused once its half second is over.
	c := newTC(t, Options{TimeScale: 120})
	c.token, _ = oauth(c)
	if r := c.do("GET", "/api/v1/jamf-pro-version", nil, nil); r.status != 200 {
		t.Fatalf("fresh token: %d", r.status)
	}
	time.Sleep(600 * time.Millisecond)
	if r := c.do("GET", "/api/v1/jamf-pro-version", nil, nil); r.status != 401 {
		t.Errorf("a 60 s token after 61 scaled seconds: %d", r.status)
	}
}

// The time scale divides the cluster lag and the full-refresh rate limit.
func TestTimeScaleDividesLagAndRateLimit(t *testing.T) {
	t.Parallel()
	s, err := New(Options{TimeScale: 100, NoContract: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.opts.ClusterLag != 600*time.Millisecond || s.opts.FullRefreshInterval != 150*time.Millisecond ||
		s.opts.CredentialsTTL != 36*time.Second || s.opts.FirstRefreshTime != 40*time.Millisecond ||
		s.processingTime(12_000_000) != 10*time.Millisecond {
		t.Errorf("scaled: lag %v, full refresh %v, credentials %v, first refresh %v, processing of 12 MB %v",
			s.opts.ClusterLag, s.opts.FullRefreshInterval, s.opts.CredentialsTTL, s.opts.FirstRefreshTime, s.processingTime(12_000_000))
	}
}

// AtPace fills in only what a rig leaves unset, and nothing with a
// TimeScale.
func TestAtPace(t *testing.T) {
	t.Parallel()
	var o Options
	o.AtPace(12)
	if o.FirstRefreshTime != FirstRefreshTime/12 || o.LaterRefreshTime != LaterRefreshTime/12 || o.ProcessingTime(12_000_000) != time.Second/12 {
		t.Errorf("AtPace(12): first %v, later %v", o.FirstRefreshTime, o.LaterRefreshTime)
	}
	set := Options{FirstRefreshTime: time.Second, ProcessingDelay: time.Minute}
	set.AtPace(12)
	if set.FirstRefreshTime != time.Second || set.ProcessingTime != nil || set.LaterRefreshTime != LaterRefreshTime/12 {
		t.Errorf("AtPace overrode what was set: %+v", set)
	}
	scaled := Options{TimeScale: 5}
	scaled.AtPace(12)
	if scaled.FirstRefreshTime != 0 || scaled.ProcessingTime != nil {
		t.Errorf("AtPace with a TimeScale: %+v", scaled)
	}
}
