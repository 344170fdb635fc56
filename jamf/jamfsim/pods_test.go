package jamfsim

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Jamf Support's hit_all_pods_internet.zsh finds the pods by probing
// /healthCheck.html without a cookie (curl -sI) and collecting the
// distinct jpro-ingress values until 10 probes in a row bring no new one.
// Premium (4 pods) is -cluster-nodes 4; with a cookie the probe stays on
// its pod.
func TestHealthCheckFindsEveryPod(t *testing.T) {
	t.Parallel()
	for _, nodes := range []int{2, 4} {
		c := newTC(t, Options{ClusterNodes: nodes})
		noJar := &http.Client{}
		seen := map[string]bool{}
		for quiet := 0; quiet < 10; {
			req, _ := http.NewRequest(http.MethodHead, c.sim.URL()+"/healthCheck.html", nil)
			res, err := noJar.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("HEAD /healthCheck.html: %d", res.StatusCode)
			}
			quiet++
			for _, ck := range res.Cookies() {
				if ck.Name == CookieJproIngress && !seen[ck.Value] {
					seen[ck.Value] = true
					quiet = 0
				}
			}
		}
		if len(seen) != nodes {
			t.Errorf("%d nodes: the probes found %d pods: %v", nodes, len(seen), seen)
		}
		for v := range seen {
			r := c.do("GET", "/healthCheck.html", nil, map[string]string{"Cookie": CookieJproIngress + "=" + v})
			if r.status != 200 || r.header.Get("Set-Cookie") != "" || string(r.body) != "[]" {
				t.Errorf("with cookie %s: %d, Set-Cookie %q, body %q", v, r.status, r.header.Get("Set-Cookie"), r.body)
			}
		}
	}
}

// A "corrupt" fault: the bytes land with the right length but the server's
// SHA3-512 is neither ours nor the previous one (classifyPollTick's
// corruption), on v1 {id}/upload and on a JCDS commit.
func TestCorruptFault(t *testing.T) {
	t.Parallel()
	c := newTC(t, Options{ClusterNodes: 1, ListWait: 100 * time.Millisecond})
	c.sim.AddFile("C.pkg", []byte("old bytes"))
	c.login()
	if r := c.jsonBody("POST", "/api/v1/packages", v1Body("C", "C.pkg", "-1", "SHA_512")); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	c.refresh("C.pkg")
	before := c.pkg("1")["hashValue"]
	f, err := ParseFault("POST /api/v1/packages/1/upload corrupt")
	if err != nil {
		t.Fatal(err)
	}
	c.sim.InjectFault(f)
	data := []byte("new bytes, sent intact")
	_, ours := sums(data)
	body, ct := multipartBody(t, "file", "C.pkg", data)
	if r := c.do("POST", "/api/v1/packages/1/upload", body, map[string]string{"Content-Type": ct}); r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	waitFor(t, func() bool { return c.uploadDone("C.pkg") })
	c.refresh("C.pkg")
	if p := c.pkg("1"); p["size"] != "22" || p["cloudTransferStatus"] != "READY" || p["hashValue"] == ours || p["hashValue"] == before || p["sha3512"] != p["hashValue"] {
		t.Errorf("corrupt v1 upload after a refresh: %v (ours %s, before %v)", p, ours, before)
	}

	c.sim.InjectFault(Fault{Method: "PUT", Path: "/" + c.sim.Bucket() + "/tmp/*", S3: true, Corrupt: true})
	id := c.sim.AddPackage(Package{Name: "D", FileName: "D.pkg"})
	cr := c.initiate()
	if err := upload(context.Background(), s3For(c.sim.S3Endpoint(), cr), cr.BucketName, cr.Path+"D.pkg", data); err != nil {
		t.Fatalf("JCDS commit: %v", err)
	}
	waitFor(t, func() bool { return fileNamed(c.files(), "D.pkg") != nil })
	c.refresh("D.pkg")
	if p := c.pkg(id); p["size"] != "22" || p["cloudTransferStatus"] != "READY" || p["hashValue"] == ours || p["hashValue"] == nil {
		t.Errorf("corrupt JCDS upload after a refresh: %v", p)
	}
	if f := fileNamed(c.files(), "D.pkg"); f == nil || f.SHA3 == ours || f.Size != 22 {
		t.Errorf("corrupt JCDS file: %+v", f)
	}
}

// A "landed" fault serves v1 {id}/upload, so the bytes land and are
// processed, then answers 504 (or 502) late, as jamf-upload#221 reports:
// a refresh shows our file without a second send. Without a status the
// real 201 comes late.
func TestUploadAnswersAfterLanding(t *testing.T) {
	t.Parallel()
	c := newTC(t, Options{ClusterNodes: 1, TimeScale: 600, ListWait: 100 * time.Millisecond})
	c.login()
	if r := c.jsonBody("POST", "/api/v1/packages", v1Body("G", "G.pkg", "-1", "SHA_512")); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	for i, tt := range []struct {
		spec   string
		status int
	}{
		{"POST /api/v1/packages/1/upload 504 landed latency=3m", 504},
		{"POST /api/v1/packages/1/upload 502 landed latency=3m", 502},
		{"POST /api/v1/packages/1/upload delay landed latency=3m", 201},
	} {
		f, err := ParseFault(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		c.sim.InjectFault(f)
		data := []byte(strings.Repeat("g", 10+i))
		_, ours := sums(data)
		body, ct := multipartBody(t, "file", "G.pkg", data)
		start := time.Now()
		r := c.do("POST", "/api/v1/packages/1/upload", body, map[string]string{"Content-Type": ct})
		if r.status != tt.status {
			t.Errorf("%s: answer %d %s", tt.spec, r.status, r.body)
		}
		if d := time.Since(start); d < 3*time.Minute/600 {
			t.Errorf("%s: answered after %v, want at least %v", tt.spec, d, 3*time.Minute/600)
		}
		waitFor(t, func() bool { return c.uploadDone("G.pkg") })
		c.refresh("G.pkg")
		if p := c.pkg("1"); p["hashValue"] != ours || p["size"] != itoa(len(data)) || p["cloudTransferStatus"] != "READY" {
			t.Errorf("%s: the bytes landed, yet after a refresh: %v", tt.spec, p)
		}
	}
	if n := c.sim.CallCount("POST", "/api/v1/packages/1/upload"); n != 3 {
		t.Errorf("%d upload calls, want 3", n)
	}
}

// POST cloud-distribution-point/fail-upload/{id} (11.25.2+ documents):
// 204 for a file in the serving node's inventory, listed ERROR there
// until that node's next refresh of it; 404 for an unknown file; absent
// before 11.25.2.
func TestFailUpload(t *testing.T) {
	t.Parallel()
	old := newTC(t, Options{JamfVersion: "11.25.0", ClusterNodes: 1})
	old.login()
	if r := old.do("POST", "/api/v1/cloud-distribution-point/fail-upload/1?file-name=F.pkg&type=PACKAGE", nil, nil); r.status != 404 {
		t.Errorf("11.25.0: %d", r.status)
	}
	c := newTC(t, Options{JamfVersion: "11.30.1", ClusterNodes: 2})
	c.client = &http.Client{}
	c.login()
	c.sim.AddFile("F.pkg", []byte("f"))
	status := func(node int) string {
		var files struct {
			Results []struct{ FileName, Status, ID string }
		}
		c.onNode(node, "GET", "/api/v1/cloud-distribution-point/files", nil).json(t, &files)
		if len(files.Results) != 1 {
			t.Fatalf("node %d files: %+v", node, files)
		}
		return files.Results[0].Status
	}
	if r := c.onNode(0, "POST", "/api/v1/cloud-distribution-point/fail-upload/2?file-name=F.pkg&type=PACKAGE", nil); r.status != 404 || r.apiCode(t) != "NOT_FOUND" {
		t.Errorf("unknown id: %d %s", r.status, r.body)
	}
	if r := c.onNode(0, "POST", "/api/v1/cloud-distribution-point/fail-upload/1?file-name=F.pkg&type=PACKAGE", nil); r.status != 204 {
		t.Fatalf("fail-upload: %d %s", r.status, r.body)
	}
	if s0, s1 := status(0), status(1); s0 != "ERROR" || s1 != "READY" {
		t.Errorf("after fail-upload on node 0: node 0 %s, node 1 %s", s0, s1)
	}
	c.onNode(0, "POST", "/api/v1/cloud-distribution-point/refresh-inventory?file-name=F.pkg", nil)
	if s := status(0); s != "READY" {
		t.Errorf("node 0 after its refresh: %s", s)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
