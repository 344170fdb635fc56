package jamfsim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// A JCDS upload (S3 object under tmp/, processed into the distribution
// point) shows in the package record only through a refresh after the
// service finished: a refresh during processing changes nothing (not even
// size "0"), processing alone changes nothing, the refresh after it fills
// size, hashes and READY.
func TestJCDSCommitShowsOnlyAfterRefresh(t *testing.T) {
	t.Parallel() // waits out real delays
	const delay = 3 * time.Second
	c := newTC(t, Options{ClusterNodes: 1, ProcessingDelay: delay, ListWait: 100 * time.Millisecond})
	c.login()
	id := c.sim.AddPackage(Package{Name: "J", FileName: "J.pkg", HashType: "MD5", HashValue: "client"})
	cr := c.initiate()
	data := []byte("jcds payload")
	if err := upload(context.Background(), s3For(c.sim.S3Endpoint(), cr), cr.BucketName, cr.Path+"J.pkg", data); err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	unchanged := func(when string) {
		t.Helper()
		if p := c.pkg(id); p["hashValue"] != "client" || p["size"] != nil || p["cloudTransferStatus"] != "" {
			t.Errorf("%s: %v", when, p)
		}
	}
	c.refresh("J.pkg")
	if time.Since(committed) < delay {
		unchanged("refresh during processing")
	}
	waitFor(t, func() bool { return fileNamed(c.files(), "J.pkg") != nil })
	unchanged("processed, before a refresh")
	c.refresh("J.pkg")
	md5hex, sha3hex := sums(data)
	if p := c.pkg(id); p["hashValue"] != sha3hex || p["md5"] != md5hex || p["size"] != "12" || p["cloudTransferStatus"] != "READY" {
		t.Errorf("refresh after processing: %v", p)
	}
}

// A v1 PUT is a full replace: fields left out are cleared, the hash fields
// included; size is blanked; read-only fields in the body are ignored.
func TestV1PutIsFullReplace(t *testing.T) {
	c := newTC(t, Options{ClusterNodes: 1})
	c.sim.AddFile("R.pkg", []byte("replace me"))
	c.login()
	b := v1Body("R", "R.pkg", "-1", "SHA_512")
	b["info"], b["notes"] = "some info", "some notes"
	if r := c.jsonBody("POST", "/api/v1/packages", b); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	c.refresh("R.pkg")
	if p := c.pkg("1"); p["md5"] == nil || p["sha256"] == nil || p["sha3512"] == nil || p["size"] != "10" {
		t.Fatalf("after refresh: %v", p)
	}
	put := map[string]any{}
	for k, v := range v1Body("R", "R.pkg", "-1", "") {
		put[k] = v
	}
	delete(put, "hashType")
	delete(put, "hashValue")
	put["id"], put["size"], put["cloudTransferStatus"] = "99", "12345", "ERROR"
	r := c.jsonBodyHdr("PUT", "/api/v1/packages/1", put, map[string]string{expectInvalidHeader: "read-only fields on purpose"})
	if r.status != 200 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	p := c.pkg("1")
	for _, k := range []string{"hashType", "hashValue", "md5", "sha256", "sha3512", "size"} {
		if p[k] != nil {
			t.Errorf("%s left out of a full-replace PUT: %v, want null", k, p[k])
		}
	}
	if p["info"] != "" || p["notes"] != "" || p["id"] != "1" || p["cloudTransferStatus"] != "READY" {
		t.Errorf("after the PUT: %v", p)
	}
}

// Each node has its own inventory: a refresh on node 0 updates node 0's
// inventory and record, and node 1's stay as they were, after the cluster
// lag too (Jamf Support's hit_all_pods_internet.zsh refreshes every pod);
// the object write itself reaches node 1 after the lag. A refresh on node
// 1 then shows the file there. /_sim/state shows each node and the
// database.
func TestInventoryPerNode(t *testing.T) {
	t.Parallel() // waits out real delays
	const lag = 2 * time.Second
	c := newTC(t, Options{ClusterNodes: 2, ClusterLag: lag, ListWait: 100 * time.Millisecond})
	c.client = &http.Client{} // no jar: the test picks nodes itself
	c.login()
	if r := c.onNode(0, "POST", "/api/v1/packages", v1Body("N", "N.pkg", "-1", "SHA_512")); r.status != 201 {
		t.Fatalf("create on node 0: %d %s", r.status, r.body)
	}
	created := time.Now()
	const id = "1"
	cr := c.initiate()
	if err := upload(context.Background(), s3For(c.sim.S3Endpoint(), cr), cr.BucketName, cr.Path+"N.pkg", []byte("node")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return fileNamed(c.files(), "N.pkg") != nil })
	if r := c.onNode(0, "POST", "/api/v1/cloud-distribution-point/refresh-inventory?file-name=N.pkg", nil); r.status != 204 {
		t.Fatalf("refresh on node 0: %d %s", r.status, r.body)
	}
	get := func(node int) map[string]any {
		var p map[string]any
		if r := c.onNode(node, "GET", "/api/v1/packages/"+id, nil); r.status != 200 {
			t.Fatalf("node %d: package %s: %d %s", node, id, r.status, r.body)
		} else {
			r.json(t, &p)
		}
		return p
	}
	nodeFiles := func(node int) int {
		var files struct{ TotalCount int }
		c.onNode(node, "GET", "/api/v1/cloud-distribution-point/files", nil).json(t, &files)
		return files.TotalCount
	}
	if p := get(0); p["cloudTransferStatus"] != "READY" || p["size"] != "4" || p["hashType"] != "SHA3_512" {
		t.Errorf("node 0 after its refresh: %v", p)
	}
	st := c.sim.State()
	if len(st.Views) != 1 || st.Views[0]["cloudTransferStatus"] != "READY" || st.Views[0]["size"] != "4" {
		t.Errorf("state database view: %v", st.Views)
	}
	// Past the lag: node 1 has the object (an object write), not the
	// refresh.
	time.Sleep(time.Until(created.Add(lag)) + 50*time.Millisecond)
	if p := get(1); p["cloudTransferStatus"] != "" || p["size"] != nil || p["hashType"] != "SHA_512" {
		t.Errorf("node 1 after the lag, without a refresh of its own: %v", p)
	}
	if n := nodeFiles(1); n != 0 {
		t.Errorf("node 1 inventory after the lag, without a refresh of its own: %d files", n)
	}
	st = c.sim.State()
	if got, want := st.NotServedBy("N.pkg", 4, st.Files[0].SHA3), []string{CookieJproIngress + "=" + nodeCookieValue(1)}; !slices.Equal(got, want) {
		t.Errorf("NotServedBy after node 0's refresh: %v, want %v", got, want)
	}
	if len(st.Nodes) != 2 || len(st.Nodes[0].Inventory) != 1 || len(st.Nodes[1].Inventory) != 0 ||
		st.Nodes[0].Packages[0]["cloudTransferStatus"] != "READY" || st.Nodes[1].Packages[0]["cloudTransferStatus"] != "" ||
		st.Nodes[1].Packages[0]["size"] != nil {
		t.Errorf("state nodes after the lag: %+v", st.Nodes)
	}
	// Node 1's own refresh shows the file there.
	if r := c.onNode(1, "POST", "/api/v1/cloud-distribution-point/refresh-inventory?file-name=N.pkg", nil); r.status != 204 {
		t.Fatalf("refresh on node 1: %d %s", r.status, r.body)
	}
	if p := get(1); p["cloudTransferStatus"] != "READY" || p["size"] != "4" {
		t.Errorf("node 1 after its refresh: %v", p)
	}
	if n := nodeFiles(1); n != 1 {
		t.Errorf("node 1 inventory after its refresh: %d files", n)
	}
	if got := c.sim.State().NotServedBy("N.pkg", 4, st.Files[0].SHA3); len(got) != 0 {
		t.Errorf("NotServedBy after both refreshes: %v", got)
	}
	if got := c.sim.State().NotServedBy("N.pkg", 5, st.Files[0].SHA3); len(got) != 2 {
		t.Errorf("NotServedBy with another size: %v, want both nodes", got)
	}
	// /_sim/state over HTTP names the cookie that pins each node and shows
	// each node's record.
	res, err := http.Get(c.sim.URL() + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var js struct {
		Nodes []struct {
			Cookie   string
			Packages []map[string]any
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&js); err != nil {
		t.Fatal(err)
	}
	if len(js.Nodes) != 2 || js.Nodes[1].Cookie != CookieJproIngress+"="+nodeCookieValue(1) {
		t.Fatalf("/_sim/state nodes: %+v", js.Nodes)
	}
	for n, node := range js.Nodes {
		if p := node.Packages[0]; p["cloudTransferStatus"] != "READY" || p["size"] != "4" || p["sha3512"] != st.Files[0].SHA3 {
			t.Errorf("/_sim/state node %d: %v", n, p)
		}
	}
}

// The balancer cookie is jpro-ingress by default and APBALANCEID when asked
// for; a cookie of the other name does not pin a node.
func TestBalanceCookieName(t *testing.T) {
	if _, err := New(Options{BalanceCookie: "SESSION"}); err == nil {
		t.Error("an unknown cookie name was accepted")
	}
	for _, name := range []string{CookieJproIngress, CookieAPBalanceID} {
		t.Run(name, func(t *testing.T) {
			c := newTC(t, Options{BalanceCookie: name})
			c.client = &http.Client{}
			other := CookieAPBalanceID
			if name == CookieAPBalanceID {
				other = CookieJproIngress
			}
			for i, tt := range []struct {
				cookie string
				pinned bool
			}{{name, true}, {other, false}} {
				r := c.do("GET", "/api/v1/jamf-pro-version", nil, map[string]string{"Cookie": tt.cookie + "=" + nodeCookieValue(1)})
				set := r.header.Get("Set-Cookie")
				if pinned := set == ""; pinned != tt.pinned {
					t.Errorf("%d: cookie %s: Set-Cookie %q, pinned %v, want %v", i, tt.cookie, set, pinned, tt.pinned)
				}
				if !tt.pinned && !contains(set, name+"=") {
					t.Errorf("Set-Cookie %q, want %s", set, name)
				}
			}
		})
	}
}

// "201 but never landed" (jamfplatform PR #273): {id}/upload and a JCDS
// commit answer success, processing ends with no file, and the refresh
// after it shows size "0". Resending works.
func TestNeverLandsFault(t *testing.T) {
	c := newTC(t, Options{ClusterNodes: 1, ListWait: 100 * time.Millisecond})
	c.sim.AddFile("L.pkg", []byte("old file"))
	c.login()
	if r := c.jsonBody("POST", "/api/v1/packages", v1Body("L", "L.pkg", "-1", "SHA_512")); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	c.refresh("L.pkg")
	f, err := ParseFault("POST /api/v1/packages/1/upload never-lands")
	if err != nil {
		t.Fatal(err)
	}
	c.sim.InjectFault(f)
	send := func(data []byte) {
		t.Helper()
		body, ct := multipartBody(t, "file", "L.pkg", data)
		if r := c.do("POST", "/api/v1/packages/1/upload", body, map[string]string{"Content-Type": ct}); r.status != 201 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		waitFor(t, func() bool { return c.uploadDone("L.pkg") })
	}
	send([]byte("new file"))
	before := c.pkg("1")
	if before["size"] != "8" || before["cloudTransferStatus"] != "READY" {
		t.Errorf("never landed, before a refresh: %v", before)
	}
	_, newHash := sums([]byte("new file"))
	c.refresh("L.pkg")
	// As terraform-provider-jamfplatform's classifyPollTick sees a failed
	// upload: in the same record the hash moved away from the one before
	// the upload (and is not ours), and size reads "0".
	if p := c.pkg("1"); p["size"] != "0" || p["cloudTransferStatus"] != "" || fileNamed(c.files(), "L.pkg") != nil ||
		p["hashValue"] == before["hashValue"] || p["hashValue"] == newHash || p["hashValue"] != lostFile(1).SHA3 {
		t.Errorf("never landed, after a refresh: %v (before: %v)", p, before["hashValue"])
	}
	send([]byte("new file, again"))
	c.refresh("L.pkg")
	if p := c.pkg("1"); p["size"] != "15" || p["cloudTransferStatus"] != "READY" {
		t.Errorf("sent again: %v", p)
	}

	// JCDS: the commit answers 200, nothing lands.
	c.sim.InjectFault(Fault{Method: "PUT", Path: "/" + c.sim.Bucket() + "/tmp/*", S3: true, NeverLands: true})
	id := c.sim.AddPackage(Package{Name: "M", FileName: "M.pkg"})
	cr := c.initiate()
	if err := upload(context.Background(), s3For(c.sim.S3Endpoint(), cr), cr.BucketName, cr.Path+"M.pkg", []byte("jcds")); err != nil {
		t.Fatalf("JCDS commit: %v", err)
	}
	c.refresh("M.pkg")
	if p := c.pkg(id); p["size"] != "0" || fileNamed(c.files(), "M.pkg") != nil {
		t.Errorf("JCDS upload that never landed: %v", p)
	}
	// A multipart upload: the parts land in tmp/, the commit answers 200,
	// nothing lands.
	c.sim.InjectFault(Fault{Method: "POST", Path: "/" + c.sim.Bucket() + "/tmp/*", S3: true, NeverLands: true})
	if err := upload(context.Background(), s3For(c.sim.S3Endpoint(), cr), cr.BucketName, cr.Path+"M.pkg", payload(6<<20, 3)); err != nil {
		t.Fatalf("JCDS multipart commit: %v", err)
	}
	c.refresh("M.pkg")
	if p := c.pkg(id); p["size"] != "0" || fileNamed(c.files(), "M.pkg") != nil {
		t.Errorf("JCDS multipart upload that never landed: %v", p)
	}
}

// A refresh that answers 500 now and then (jamf-cli ignores those as
// expected): every=N fires the fault on every N-th call only.
func TestRefresh500NowAndThen(t *testing.T) {
	c := newTC(t, Options{ClusterNodes: 1})
	c.login()
	f, err := ParseFault("POST /api/v1/cloud-distribution-point/refresh-inventory 500 * every=3")
	if err != nil {
		t.Fatal(err)
	}
	c.sim.InjectFault(f)
	var got []int
	for i := 0; i < 6; i++ {
		got = append(got, c.refresh("x.pkg").status)
	}
	if want := []int{204, 204, 500, 204, 204, 500}; !equalInts(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Over HTTPS the SDK sends aws-chunked bodies with checksum trailers; the
// in-process S3 stores the payload, not the framing (issue 21: 12583050
// bytes listed for a 12582912-byte file), for PutObject and multipart.
func TestS3OverHTTPSDecodesAWSChunked(t *testing.T) {
	c := newTC(t, Options{ClusterNodes: 1})
	c.login()
	target, err := url.Parse(c.sim.S3Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	chunked := 0
	front := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAWSChunked(r) {
			mu.Lock()
			chunked++
			mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	for _, tt := range []struct {
		name string
		size int
	}{{"PutObject", 12345}, {"multipart", 12 << 20}} {
		t.Run(tt.name, func(t *testing.T) {
			cr := c.initiate()
			cl := s3.New(s3.Options{
				Region: cr.Region, BaseEndpoint: aws.String(front.URL), UsePathStyle: true, HTTPClient: front.Client(),
				Credentials: credentials.NewStaticCredentialsProvider(cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken),
			})
			data := payload(tt.size, 9)
			name := tt.name + ".pkg"
			if err := upload(context.Background(), cl, cr.BucketName, cr.Path+name, data); err != nil {
				t.Fatal(err)
			}
			_, sha3hex := sums(data)
			waitFor(t, func() bool { return fileNamed(c.files(), name) != nil })
			if f := fileNamed(c.files(), name); f.Size != int64(tt.size) || f.SHA3 != sha3hex {
				t.Errorf("listed %d bytes (sha3 match %v), want %d", f.Size, f.SHA3 == sha3hex, tt.size)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if chunked == 0 {
		t.Error("the SDK sent no aws-chunked body over HTTPS; the test no longer tests the decoding")
	}
	// A malformed aws-chunked body is refused, not stored.
	req, _ := http.NewRequest("PUT", c.sim.S3Endpoint()+"/"+c.sim.Bucket()+"/bad.pkg", bytes.NewReader([]byte("zz\r\nabc\r\n")))
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", "3")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+c.sim.rootKey+"/x")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode < 400 {
		t.Errorf("malformed aws-chunked body: %d", res.StatusCode)
	}
}
