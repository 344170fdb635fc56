package jamfsim

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFault(t *testing.T) {
	tests := []struct {
		spec string
		want Fault
		bad  bool
	}{
		{"POST /api/v1/jcds/files 503", Fault{Method: "POST", Path: "/api/v1/jcds/files", Status: 503, Count: 1}, false},
		{"get /api/v1/jcds/files* 429 2 retry-after=3", Fault{Method: "GET", Path: "/api/v1/jcds/files*", Status: 429, Count: 2, RetryAfter: 3}, false},
		{"* /api/* drop *", Fault{Path: "/api/*", Drop: true, Count: -1}, false},
		{"GET /api/v1/jamf-pro-version delay 1 latency=250ms", Fault{Method: "GET", Path: "/api/v1/jamf-pro-version", Count: 1, Latency: 250 * time.Millisecond}, false},
		{"PUT /jcds-sim/tmp/* 500 3 s3", Fault{Method: "PUT", Path: "/jcds-sim/tmp/*", Status: 500, Count: 3, S3: true}, false},
		{"POST /x 400 body=<p>Error: no way</p>", Fault{Method: "POST", Path: "/x", Status: 400, Count: 1, Body: "<p>Error: no way</p>"}, false},
		{"PUT /jcds-sim/tmp/* expire-credentials s3", Fault{Method: "PUT", Path: "/jcds-sim/tmp/*", Count: 1, S3: true, ExpireCredentials: true}, false},
		{"POST /api/v1/packages expire-tokens", Fault{Method: "POST", Path: "/api/v1/packages", Count: 1, ExpireTokens: true}, false},
		{"POST /api/v1/packages/1/upload never-lands", Fault{Method: "POST", Path: "/api/v1/packages/1/upload", Count: 1, NeverLands: true}, false},
		{"POST /jcds-sim/tmp/* never-lands 2 s3", Fault{Method: "POST", Path: "/jcds-sim/tmp/*", Count: 2, S3: true, NeverLands: true}, false},
		{"POST /api/v1/jcds/refresh-inventory 500 * every=4", Fault{Method: "POST", Path: "/api/v1/jcds/refresh-inventory", Status: 500, Count: -1, Every: 4}, false},
		{"POST /api/v1/packages/1/upload corrupt", Fault{Method: "POST", Path: "/api/v1/packages/1/upload", Count: 1, Corrupt: true}, false},
		{"PUT /jcds-sim/tmp/* corrupt s3", Fault{Method: "PUT", Path: "/jcds-sim/tmp/*", Count: 1, S3: true, Corrupt: true}, false},
		{"POST /api/v1/packages/1/upload 504 landed latency=20m", Fault{Method: "POST", Path: "/api/v1/packages/1/upload", Status: 504, Count: 1, AfterLanding: true, Latency: 20 * time.Minute}, false},
		{"POST /api/v1/packages/1/upload 502 2 landed", Fault{Method: "POST", Path: "/api/v1/packages/1/upload", Status: 502, Count: 2, AfterLanding: true}, false},
		{"POST /api/v1/packages/1/upload delay landed latency=1s", Fault{Method: "POST", Path: "/api/v1/packages/1/upload", Count: 1, AfterLanding: true, Latency: time.Second}, false},
		{"POST /x 500 every=0", Fault{}, true},
		{"POST /x", Fault{}, true},
		{"POST /x 99", Fault{}, true},
		{"POST /x delay", Fault{}, true},
		{"POST /x 500 two", Fault{}, true},
		{"POST /x 500 1 colour=red", Fault{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseFault(tt.spec)
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	c := newTC(t, Options{})
	c.login()
	// Without keep-alive: net/http silently retries an idempotent request
	// whose reused connection was closed, which would hide the drop.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) (*http.Response, error) {
		req, _ := http.NewRequest("GET", c.sim.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
		}
		return res, err
	}

	c.sim.InjectFault(Fault{Method: "GET", Path: "/api/v1/jcds/files", Status: 429, Count: 2, RetryAfter: 7})
	for i := 0; i < 2; i++ {
		r := c.do("GET", "/api/v1/jcds/files", nil, nil)
		if r.status != 429 || r.header.Get("Retry-After") != "7" || r.apiCode(t) == "" {
			t.Fatalf("call %d: %d %v %s", i, r.status, r.header, r.body)
		}
	}
	if r := c.do("GET", "/api/v1/jcds/files", nil, nil); r.status != 200 {
		t.Fatalf("after the fault ran out: %d", r.status)
	}

	c.sim.InjectFault(Fault{Path: "/api/v1/jamf-pro-version", Drop: true})
	if _, err := get("/api/v1/jamf-pro-version"); err == nil {
		t.Error("dropped connection answered")
	}
	if res, err := get("/api/v1/jamf-pro-version"); err != nil || res.StatusCode != 200 {
		t.Errorf("after drop: %v", err)
	}

	c.sim.InjectFault(Fault{Path: "/api/v1/jamf-pro-version", Latency: 300 * time.Millisecond})
	start := time.Now()
	if res, err := get("/api/v1/jamf-pro-version"); err != nil || res.StatusCode != 200 || time.Since(start) < 300*time.Millisecond {
		t.Errorf("latency fault: %v after %v", err, time.Since(start))
	}

	c.sim.InjectFault(Fault{Path: "/api/v1/jcds/files", ExpireTokens: true})
	if r := c.do("GET", "/api/v1/jcds/files", nil, nil); r.status != 401 {
		t.Errorf("expire-tokens fault: %d", r.status)
	}
	c.login()

	c.sim.InjectFault(Fault{Path: "/JSSResource/packages/*", Status: 502})
	if r := c.do("GET", "/JSSResource/packages/name/x", nil, nil); r.status != 502 || !contains(string(r.body), "<p>Error:") {
		t.Errorf("classic fault: %d %s", r.status, r.body)
	}

	// The control endpoint takes the flag format and JSON.
	for _, body := range []string{"POST /api/v1/jcds/files 503 1", `{"method":"POST","path":"/api/v1/jcds/files","status":504}`} {
		res, err := http.Post(c.sim.URL()+"/_sim/fault", "text/plain", strings.NewReader(body))
		if err != nil || res.StatusCode != 204 {
			t.Fatalf("/_sim/fault %q: %v %v", body, res, err)
		}
		res.Body.Close()
	}
	if r := c.do("POST", "/api/v1/jcds/files", nil, nil); r.status != 503 {
		t.Errorf("first injected: %d", r.status)
	}
	if r := c.do("POST", "/api/v1/jcds/files", nil, nil); r.status != 504 {
		t.Errorf("second injected: %d", r.status)
	}
	if r := c.do("POST", "/api/v1/jcds/files", nil, nil); r.status != 201 {
		t.Errorf("no fault left: %d", r.status)
	}
	c.sim.InjectFault(Fault{Path: "/api/*", Status: 500, Count: -1})
	c.sim.ClearFaults()
	if r := c.do("GET", "/api/v1/jcds/files", nil, nil); r.status != 200 {
		t.Errorf("after ClearFaults: %d", r.status)
	}
}

func TestStateEndpoint(t *testing.T) {
	c := newTC(t, Options{JamfVersion: "11.10.0"})
	c.sim.AddFile("B.dmg", []byte("bbb"))
	c.login()
	c.do("GET", "/api/v1/jcds/files", nil, nil)
	c.sim.InjectFault(Fault{Path: "/api/v1/jcds/files", Status: 503})
	c.do("GET", "/api/v1/jcds/files", nil, nil)
	for _, p := range []string{"/_sim/expire-tokens", "/_sim/expire-credentials", "/_sim/fail-s3-parts?n=2", "/_sim/clear-faults"} {
		res, err := http.Post(c.sim.URL()+p, "", nil)
		if err != nil || res.StatusCode != 204 {
			t.Fatalf("%s: %v %v", p, res, err)
		}
		res.Body.Close()
	}
	if r := c.do("GET", "/api/v1/jcds/files", nil, nil); r.status != 401 {
		t.Errorf("/_sim/expire-tokens did not expire: %d", r.status)
	}
	res, err := http.Get(c.sim.URL() + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st State
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	_, sha := sums([]byte("bbb"))
	if st.Version != "11.10.0" || len(st.Files) != 1 || st.Files[0].Name != "B.dmg" || st.Files[0].SHA3 != sha || st.Files[0].Size != 3 {
		t.Errorf("state %+v", st)
	}
	want := []Call{
		{Method: "POST", Path: "/api/v1/auth/token", Status: 200, Auth: "basic"},
		{Method: "GET", Path: "/api/v1/jcds/files", Status: 200, Auth: "bearer"},
		{Method: "GET", Path: "/api/v1/jcds/files", Status: 503, Auth: "bearer"},
		{Method: "GET", Path: "/api/v1/jcds/files", Status: 401, Auth: "bearer"},
	}
	if !reflect.DeepEqual(st.Calls, want) {
		t.Errorf("calls\n got %+v\nwant %+v", st.Calls, want)
	}
	if st.Counts.TokenRequests != 1 || c.sim.CallCount("GET", "/api/v1/jcds/*") != 3 {
		t.Errorf("counts %+v", st.Counts)
	}
}
