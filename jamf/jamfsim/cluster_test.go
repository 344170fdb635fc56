package jamfsim

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// onNode sends a request pinned to one node with the balancer's cookie.
func (c *tc) onNode(node int, method, path string, body map[string]any) resp {
	c.t.Helper()
	hdr := map[string]string{"Cookie": CookieJproIngress + "=" + nodeCookieValue(node)}
	if body != nil {
		return c.jsonBodyHdr(method, path, body, hdr)
	}
	return c.do(method, path, nil, hdr)
}

func TestClusterLag(t *testing.T) {
	t.Parallel() // waits out real delays
	const lag = 2 * time.Second
	c := newTC(t, Options{ClusterNodes: 2, ClusterLag: lag})
	c.client = &http.Client{} // no jar: the test picks nodes itself
	c.login()
	// beforeLag guards the assertions that only hold within the lag: on a
	// starved machine the lag may pass first, and the check says so.
	beforeLag := func(since time.Time) bool {
		if time.Since(since) >= lag {
			t.Logf("machine too slow: %v passed, the lag is over; skipping a within-lag check", time.Since(since))
			return false
		}
		return true
	}
	if r := c.onNode(0, "POST", "/api/v1/packages", v1Body("App", "App.pkg", "-1", "SHA_512")); r.status != 201 {
		t.Fatalf("create on node 0: %d %s", r.status, r.body)
	}
	written := time.Now()
	if r := c.onNode(0, "GET", "/api/v1/packages/1", nil); r.status != 200 {
		t.Errorf("the writer's node must read its write: %d", r.status)
	}
	notYet := []struct {
		name   string
		do     func() resp
		status int
	}{
		{"get", func() resp { return c.onNode(1, "GET", "/api/v1/packages/1", nil) }, 404},
		{"list", func() resp {
			r := c.onNode(1, "GET", "/api/v1/packages?filter="+q(`packageName=="App"`), nil)
			if !contains(string(r.body), `"totalCount": 0`) {
				r.status = 299 // found
			}
			return r
		}, 200},
		{"put", func() resp { return c.onNode(1, "PUT", "/api/v1/packages/1", v1Body("App", "App.pkg", "-1", "MD5")) }, 404},
		{"classic get", func() resp { return c.onNode(1, "GET", "/JSSResource/packages/id/1", nil) }, 404},
		// Uniqueness is the database's: node 1 cannot create a second "App".
		{"duplicate create", func() resp { return c.onNode(1, "POST", "/api/v1/packages", v1Body("app", "b.pkg", "-1", "SHA_512")) }, 400},
	}
	for _, tt := range notYet {
		if r := tt.do(); r.status != tt.status && beforeLag(written) {
			t.Errorf("node 1 %s before the cluster refresh: %d, want %d: %s", tt.name, r.status, tt.status, r.body)
		}
	}
	time.Sleep(time.Until(written.Add(lag)) + 50*time.Millisecond)
	// Node 1 now sees it; its update is seen by node 1 at once, by node 0
	// only after the lag.
	if r := c.onNode(1, "PUT", "/api/v1/packages/1", v1Body("App", "App.pkg", "-1", "MD5")); r.status != 200 {
		t.Fatalf("update on node 1 after the lag: %d %s", r.status, r.body)
	}
	updated := time.Now()
	var p map[string]any
	c.onNode(1, "GET", "/api/v1/packages/1", nil).json(t, &p)
	if p["hashType"] != "MD5" {
		t.Errorf("node 1 reads its own update: %v", p["hashType"])
	}
	c.onNode(0, "GET", "/api/v1/packages/1", nil).json(t, &p)
	if p["hashType"] != "SHA_512" && beforeLag(updated) {
		t.Errorf("node 0 sees node 1's update before the lag: %v", p["hashType"])
	}
	if st := c.sim.State(); len(st.Packages) != 1 || st.Packages[0].HashType != "MD5" {
		t.Errorf("State shows the database: %+v", st.Packages)
	}
	// Deletion travels the same way; the stale node finds it gone on write.
	if r := c.onNode(1, "DELETE", "/api/v1/packages/1", nil); r.status != 204 {
		t.Fatal(r.status)
	}
	deleted := time.Now()
	if r := c.onNode(0, "GET", "/api/v1/packages/1", nil); r.status != 200 && beforeLag(deleted) {
		t.Errorf("node 0 still has the deleted package until the refresh: %d", r.status)
	}
	if r := c.onNode(0, "PUT", "/api/v1/packages/1", v1Body("App", "App.pkg", "-1", "MD5")); r.status != 404 {
		t.Errorf("a PUT on the stale node resurrected a deleted package: %d", r.status)
	}
	if r := c.onNode(1, "GET", "/api/v1/packages/1", nil); r.status != 404 {
		t.Errorf("node 1 after its delete: %d", r.status)
	}
	time.Sleep(time.Until(deleted.Add(lag)) + 50*time.Millisecond)
	if r := c.onNode(0, "GET", "/api/v1/packages/1", nil); r.status != 404 {
		t.Errorf("node 0 after the lag: %d", r.status)
	}
}

// Without a cookie a request may land on any node (round robin here); the
// first response sets APBALANCEID, and a client with a cookie jar stays on
// one node and reads its own writes.
func TestClusterStickiness(t *testing.T) {
	c := newTC(t, Options{}) // the default: 2 nodes, 60 s lag
	noJar := &http.Client{}
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		res, err := noJar.Get(c.sim.URL() + "/api/v1/jamf-pro-version")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		set := res.Header.Get("Set-Cookie")
		if !strings.HasPrefix(set, CookieJproIngress+"=") {
			t.Fatalf("no APBALANCEID on a first response: %q", set)
		}
		seen[strings.SplitN(strings.TrimPrefix(set, CookieJproIngress+"="), ";", 2)[0]] = true
	}
	if len(seen) != 2 {
		t.Errorf("cookieless requests landed on %v, want both nodes", seen)
	}
	c.login() // the jar now holds a cookie
	r := c.do("GET", "/api/v1/jamf-pro-version", nil, nil)
	if r.header.Get("Set-Cookie") != "" {
		t.Errorf("a request with the cookie got a new one: %q", r.header.Get("Set-Cookie"))
	}
	for i := 0; i < 3; i++ {
		name := "Sticky " + string(rune('A'+i))
		if r := c.jsonBody("POST", "/api/v1/packages", v1Body(name, "s.pkg", "-1", "SHA_512")); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		if r := c.do("GET", "/api/v1/packages?filter="+q(`packageName=="`+name+`"`), nil, nil); !contains(string(r.body), `"totalCount": 1`) {
			t.Errorf("a sticky client must read its own write: %s", r.body)
		}
	}
	// A client without the jar sees them on one node only.
	noJarTC := &tc{t: t, sim: c.sim, token: c.token, client: noJar}
	found := 0
	for i := 0; i < 2; i++ {
		if r := noJarTC.do("GET", "/api/v1/packages/1", nil, nil); r.status == 200 {
			found++
		}
	}
	if found != 1 {
		t.Errorf("package 1 found on %d of 2 nodes within the lag, want 1", found)
	}
}
