package jamfsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestClassicPackages(t *testing.T) {
	c := newTC(t, Options{JamfVersion: "11.4.0"})
	c.sim.AddCategory("Apps")
	c.login()
	xmlHdr := map[string]string{"Content-Type": "text/xml", "Accept": "application/xml"}
	body := func(name, file, cat, hashType string) *strings.Reader {
		return strings.NewReader(`<package><name>` + name + `</name><filename>` + file + `</filename><category>` + cat +
			`</category><info/><notes/><priority>10</priority><reboot_required>false</reboot_required>` +
			`<required_processor>None</required_processor><os_requirements/><send_notification>false</send_notification>` +
			`<hash_type>` + hashType + `</hash_type><hash_value>abc</hash_value></package>`)
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   *strings.Reader
		hdr    map[string]string
		status int
		want   string // substring of the body
	}{
		{"create", "POST", "/JSSResource/packages/id/0", body("Firefox &amp; Co", "Firefox 1.pkg", "Apps", "SHA_512"), xmlHdr, 201, `<package><id>1</id></package>`},
		{"create duplicate", "POST", "/JSSResource/packages/id/0", body("Firefox &amp; Co", "x.pkg", "Apps", "SHA_512"), xmlHdr, 409, "<p>Error: Duplicate name</p>"},
		{"create missing category", "POST", "/JSSResource/packages/id/0", body("Other", "o.pkg", "Nope", "SHA_512"), xmlHdr, 409, "<p>Error: Problem with category name</p>"},
		{"create duplicate other case", "POST", "/JSSResource/packages/id/0", body("FIREFOX &amp; co", "x.pkg", "Apps", "SHA_512"), xmlHdr, 409, "<p>Error: Duplicate name</p>"},
		{"create SHA3 before 11.11", "POST", "/JSSResource/packages/id/0", body("Other", "o.pkg", "", "SHA3_512"), xmlHdr, 400, "<p>Error: "},
		{"create no category", "POST", "/JSSResource/packages/id/0", body("Other", "o.pkg", "No category assigned", "MD5"), xmlHdr, 201, `<id>2</id>`},
		{"get by name JSON", "GET", "/JSSResource/packages/name/Firefox%20&%20Co", nil, nil, 200, `"filename": "Firefox 1.pkg"`},
		{"get by name XML", "GET", "/JSSResource/packages/name/Firefox%20&%20Co", nil, map[string]string{"Accept": "application/xml"}, 200, `<category>Apps</category>`},
		{"get by name other case", "GET", "/JSSResource/packages/name/firefox%20&%20CO", nil, nil, 200, `"filename": "Firefox 1.pkg"`},
		{"get by id", "GET", "/JSSResource/packages/id/2", nil, nil, 200, `"category": "No category assigned"`},
		{"get absent", "GET", "/JSSResource/packages/name/Absent", nil, nil, 404, "<p>Error: The server has not found anything matching the request URI</p>"},
		{"update", "PUT", "/JSSResource/packages/id/1", strings.NewReader(`<package><hash_value>def</hash_value></package>`), xmlHdr, 201, `<id>1</id>`},
		{"update absent", "PUT", "/JSSResource/packages/id/99", strings.NewReader(`<package/>`), xmlHdr, 404, "<p>Error: "},
		{"update bad category", "PUT", "/JSSResource/packages/id/1", strings.NewReader(`<package><category>Nope</category></package>`), xmlHdr, 409, "<p>Error: Problem with category name</p>"},
		{"category other case", "PUT", "/JSSResource/packages/id/2", strings.NewReader(`<package><category>APPS</category></package>`), xmlHdr, 201, `<id>2</id>`},
		{"update to no category assigned", "PUT", "/JSSResource/packages/id/2", strings.NewReader(`<package><category>No category assigned</category></package>`), xmlHdr, 409, "<p>Error: Problem with category name</p>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r resp
			if tt.body != nil {
				r = c.do(tt.method, tt.path, tt.body, tt.hdr)
			} else {
				r = c.do(tt.method, tt.path, nil, tt.hdr)
			}
			if r.status != tt.status || !contains(string(r.body), tt.want) {
				t.Fatalf("got %d %s; want %d containing %q", r.status, r.body, tt.status, tt.want)
			}
		})
	}
	st := c.sim.State()
	if len(st.Packages) != 2 {
		t.Fatalf("packages %+v", st.Packages)
	}
	p := st.Packages[0]
	if p.Name != "Firefox & Co" || p.HashValue != "def" || p.HashType != "SHA_512" || p.CategoryID != "1" || p.FileName != "Firefox 1.pkg" {
		t.Errorf("package after update %+v", p)
	}
}

func v1Body(name, file, cat, hashType string) map[string]any {
	return map[string]any{"packageName": name, "fileName": file, "categoryId": cat, "priority": 10,
		"fillUserTemplate": false, "uninstall": false, "rebootRequired": false, "osInstall": false,
		"suppressUpdates": false, "suppressFromDock": false, "suppressEula": false, "suppressRegistration": false,
		"info": "", "notes": "", "osRequirements": "", "hashType": hashType, "hashValue": "abc"}
}

func TestV1Packages(t *testing.T) {
	c := newTC(t, Options{JamfVersion: "11.10.0"})
	cat := c.sim.AddCategory("Apps")
	c.login()
	missingBool := v1Body("NoBool", "nb.pkg", "-1", "SHA_512")
	delete(missingBool, "suppressEula")
	tests := []struct {
		name   string
		method string
		path   string
		body   map[string]any
		status int
		code   string
		want   string
	}{
		{"create", "POST", "/api/v1/packages", v1Body("Firefox", "Firefox.pkg", cat, "SHA_512"), 201, "", `"id": "1"`},
		{"create similar name", "POST", "/api/v1/packages", v1Body("Firefox ESR", "FirefoxESR.pkg", "-1", "MD5"), 201, "", `"id": "2"`},
		{"create duplicate", "POST", "/api/v1/packages", v1Body("Firefox", "F2.pkg", "-1", "SHA_512"), 400, "DUPLICATE_FIELD", ""},
		{"create bad category", "POST", "/api/v1/packages", v1Body("X", "x.pkg", "77", "SHA_512"), 400, "INVALID_FIELD", "categoryId"},
		{"create SHA3 before 11.11", "POST", "/api/v1/packages", v1Body("Y", "y.pkg", "-1", "SHA3_512"), 400, "INVALID_FIELD", "hashType"},
		{"create duplicate other case", "POST", "/api/v1/packages", v1Body("FIREFOX", "F3.pkg", "-1", "SHA_512"), 400, "DUPLICATE_FIELD", ""},
		{"create missing boolean", "POST", "/api/v1/packages", missingBool, 400, "INVALID_FIELD", "suppressEula"},
		{"list filter exact", "GET", "/api/v1/packages?page=0&page-size=100&sort=id&filter=" + q(`packageName=="Firefox"`), nil, 200, "", `"totalCount": 1`},
		{"list filter absent", "GET", "/api/v1/packages?filter=" + q(`packageName=="Fire"`), nil, 200, "", `"totalCount": 0`},
		{"list filter other case", "GET", "/api/v1/packages?filter=" + q(`packageName=="fIREFOX"`), nil, 200, "", `"totalCount": 1`},
		{"get", "GET", "/api/v1/packages/1", nil, 200, "", `"fileName": "Firefox.pkg"`},
		{"get absent", "GET", "/api/v1/packages/99", nil, 404, "NOT_FOUND", ""},
		{"update", "PUT", "/api/v1/packages/1", v1Body("Firefox", "Firefox.pkg", "-1", "MD5"), 200, "", `"hashType": "MD5"`},
		{"update to taken name", "PUT", "/api/v1/packages/1", v1Body("Firefox ESR", "Firefox.pkg", "-1", "MD5"), 400, "DUPLICATE_FIELD", ""},
		{"update absent", "PUT", "/api/v1/packages/99", v1Body("Z", "z.pkg", "-1", "MD5"), 404, "NOT_FOUND", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r resp
			if tt.body != nil {
				var hdr map[string]string
				if tt.name == "create missing boolean" {
					hdr = map[string]string{expectInvalidHeader: "required field left out on purpose"}
				}
				r = c.jsonBodyHdr(tt.method, tt.path, tt.body, hdr)
			} else {
				r = c.do(tt.method, tt.path, nil, nil)
			}
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.code != "" {
				if code := r.apiCode(t); code != tt.code {
					t.Errorf("code %q, want %q", code, tt.code)
				}
			}
			if !contains(string(r.body), tt.want) {
				t.Errorf("body %s lacks %q", r.body, tt.want)
			}
		})
	}
	var list struct {
		TotalCount int
		Results    []map[string]any
	}
	c.do("GET", "/api/v1/packages?filter="+q(`packageName=="Firefox"`), nil, nil).json(t, &list)
	if len(list.Results) != 1 || list.Results[0]["id"] != "1" || list.Results[0]["packageName"] != "Firefox" {
		t.Errorf("filter results %+v", list.Results)
	}
}

// Real Java-backed servers accept what JamfPackageUploader sent for years:
// 0/1 and "true"/"false" booleans, "10" for priority, a number for
// categoryId, unknown fields, and no `uninstall` (not in `required`).
func TestV1LenientBodies(t *testing.T) {
	c := newTC(t, Options{ClusterNodes: 1})
	cat := c.sim.AddCategory("Apps")
	c.login()
	lenient := map[string]any{"packageName": "Lenient", "fileName": "Lenient.pkg", "categoryId": atoi(cat), "priority": "10",
		"fillUserTemplate": 0, "rebootRequired": "true", "osInstall": 1, "suppressUpdates": "false", "suppressFromDock": false,
		"suppressEula": 0, "suppressRegistration": 0, "someFutureField": "x"}
	if r := c.jsonBodyHdr("POST", "/api/v1/packages", lenient, map[string]string{expectInvalidHeader: "lenient on purpose"}); r.status != 201 {
		t.Fatalf("lenient body refused: %d %s", r.status, r.body)
	}
	p := c.pkg("1")
	if p["priority"] != float64(10) || p["rebootRequired"] != true || p["osInstall"] != true || p["fillUserTemplate"] != false || p["categoryId"] != cat {
		t.Errorf("stored %v", p)
	}
	bad := []struct {
		name  string
		field string
		value any
	}{
		{"boolean word", "suppressEula", "yes"},
		{"boolean 2", "osInstall", 2},
		{"priority word", "priority", "ten"},
		{"required null", "fileName", nil},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			b := v1Body("Bad "+tt.name, "bad.pkg", "-1", "SHA_512")
			b[tt.field] = tt.value
			r := c.jsonBodyHdr("POST", "/api/v1/packages", b, map[string]string{expectInvalidHeader: "bad on purpose"})
			if r.status != 400 || r.apiCode(t) != "INVALID_FIELD" || !contains(string(r.body), tt.field) {
				t.Errorf("%d %s", r.status, r.body)
			}
		})
	}
}

// size belongs to the server: a body's size is ignored, any metadata PUT
// (v1 or Classic) on a package whose file is in the distribution point
// blanks it, and only an inventory refresh (either endpoint, full or one
// file) fills it again, with the server's hashes.
func TestV1SizeIsTheServers(t *testing.T) {
	c := newTC(t, Options{ClusterNodes: 1, FullRefreshInterval: -1})
	data := []byte("twelve bytes")
	c.sim.AddFile("App.pkg", data)
	c.login()
	b := v1Body("App", "App.pkg", "-1", "SHA3_512")
	b["size"] = "999"
	if r := c.jsonBodyHdr("POST", "/api/v1/packages", b, map[string]string{expectInvalidHeader: "readOnly size on purpose"}); r.status != 201 {
		t.Fatalf("create with size and SHA3_512: %d %s", r.status, r.body)
	}
	if p := c.pkg("1"); p["size"] != nil || p["hashValue"] != "abc" || p["cloudTransferStatus"] != "READY" {
		t.Fatalf("after create: %v", p)
	}
	md5hex, sha3hex := sums(data)
	sha256hex := fmt.Sprintf("%x", sha256.Sum256(data))
	refreshed := func(how string) {
		t.Helper()
		p := c.pkg("1")
		if p["size"] != "12" || p["hashType"] != "SHA3_512" || p["hashValue"] != sha3hex || p["md5"] != md5hex ||
			p["sha256"] != sha256hex || p["sha3512"] != sha3hex {
			t.Errorf("after %s: %v", how, p)
		}
	}
	blanked := func(how string) {
		t.Helper()
		if p := c.pkg("1"); p["size"] != nil {
			t.Errorf("after %s size is %v, want null", how, p["size"])
		}
	}
	steps := []struct {
		name string
		do   func() resp
		then func(string)
	}{
		{"jcds full refresh", func() resp { return c.do("POST", "/api/v1/jcds/refresh-inventory", nil, nil) }, refreshed},
		{"v1 PUT without size", func() resp {
			return c.jsonBody("PUT", "/api/v1/packages/1", v1Body("App", "App.pkg", "-1", "MD5"))
		}, blanked},
		{"cdp refresh of the file", func() resp {
			return c.refresh("App.pkg")
		}, refreshed},
		{"v1 PUT with size", func() resp {
			b := v1Body("App", "App.pkg", "-1", "SHA_512")
			b["size"] = "12"
			return c.jsonBodyHdr("PUT", "/api/v1/packages/1", b, map[string]string{expectInvalidHeader: "readOnly size on purpose"})
		}, func(how string) {
			blanked(how)
			if p := c.pkg("1"); p["hashType"] != "SHA_512" || p["hashValue"] != "abc" {
				t.Errorf("a client-written hash stays until the next refresh: %v", p)
			}
		}},
		{"jcds refresh of the file", func() resp {
			return c.do("POST", "/api/v1/jcds/refresh-inventory?file-name=App.pkg", nil, nil)
		}, refreshed},
		{"Classic PUT", func() resp {
			return c.do("PUT", "/JSSResource/packages/id/1", strings.NewReader("<package><notes>n</notes></package>"), map[string]string{"Content-Type": "text/xml"})
		}, blanked},
		{"cdp full refresh", func() resp { return c.do("POST", "/api/v1/cloud-distribution-point/refresh-inventory", nil, nil) }, refreshed},
	}
	for _, st := range steps {
		if r := st.do(); r.status >= 300 {
			t.Fatalf("%s: %d %s", st.name, r.status, r.body)
		}
		st.then(st.name)
	}
	// A package whose file is not in the distribution point: a PUT leaves
	// its size alone, a refresh says "0" (the file never landed), and its
	// cloudTransferStatus is empty, not PENDING ("No CDP binary",
	// terraform-provider-jamfplatform).
	if r := c.jsonBody("POST", "/api/v1/packages", v1Body("Ghost", "Ghost.pkg", "-1", "MD5")); r.status != 201 {
		t.Fatal(r.status)
	}
	c.refresh("Ghost.pkg")
	if p := c.pkg("2"); p["size"] != "0" || p["cloudTransferStatus"] != "" {
		t.Errorf("ghost after refresh: %v", p)
	}
	// JSON state shows what a GET shows.
	res, err := http.Get(c.sim.URL() + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st struct{ Packages []map[string]any }
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if len(st.Packages) != 2 || st.Packages[0]["sha3512"] != sha3hex || st.Packages[0]["size"] != "12" || st.Packages[0]["cloudTransferStatus"] != "READY" {
		t.Errorf("/_sim/state packages %v", st.Packages)
	}
}

// A full refresh runs at most once every 15 s; one file may be refreshed
// at any time.
func TestFullRefreshRateLimit(t *testing.T) {
	c := newTC(t, Options{ClusterNodes: 1})
	c.login()
	c.sim.AddFile("A.pkg", []byte("a"))
	c.sim.AddPackage(Package{Name: "A", FileName: "A.pkg"})
	c.sim.AddFile("B.pkg", []byte("bb"))
	c.sim.AddPackage(Package{Name: "B", FileName: "B.pkg"})
	if r := c.refresh("A.pkg"); r.status != 204 {
		t.Fatal(r.status)
	}
	if r := c.do("POST", "/api/v1/jcds/refresh-inventory", nil, nil); r.status != 204 {
		t.Fatal(r.status)
	}
	if p := c.pkg("2"); p["size"] != "2" {
		t.Fatalf("first full refresh: %v", p)
	}
	if _, err := c.sim.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(c.sim.Bucket()), Key: aws.String("B.pkg"), Body: strings.NewReader("bbbb")}); err != nil {
		t.Fatal(err)
	}
	if r := c.do("POST", "/api/v1/cloud-distribution-point/refresh-inventory", nil, nil); r.status != 204 {
		t.Fatal(r.status)
	}
	if p := c.pkg("2"); p["size"] != "2" {
		t.Errorf("a second full refresh within 15 s refreshed: %v", p)
	}
	if r := c.refresh("B.pkg"); r.status != 204 {
		t.Fatal(r.status)
	}
	if p := c.pkg("2"); p["size"] != "4" {
		t.Errorf("refresh of one file: %v", p)
	}
}

func multipartBody(t *testing.T, field, fileName string, data []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile(field, fileName)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	return &buf, mw.FormDataContentType()
}

// uploadDone reports whether the service has finished processing the
// latest v1 upload of file (not visible through the API before a refresh).
func (c *tc) uploadDone(file string) bool {
	c.sim.mu.Lock()
	defer c.sim.mu.Unlock()
	u := c.sim.uploads[file]
	return u == nil || u.done
}

// v1 {id}/upload: 201, then asynchronous processing that the record does
// not show until a refresh after it: the old hash, size and status stay
// (the refresh-inventory schema text: "This will update the status of
// uploads in the Jamf Pro database"; jamf-cli and
// terraform-provider-jamfplatform refresh on every poll tick). A
// refresh during the processing of a replacement flips to the new hash
// with the old size once, then reverts (jamfplatform helpers.go).
// Uploading again to the same object replaces its file under the same name
// (no _1); the old file stays listed until then.
func TestV1Upload(t *testing.T) {
	t.Parallel() // waits out real delays
	const delay = 3 * time.Second
	c := newTC(t, Options{ClusterNodes: 1, ProcessingDelay: delay})
	c.login()
	if r := c.jsonBody("POST", "/api/v1/packages", v1Body("Tool", "Tool 1.0.pkg", "-1", "SHA_512")); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	data := payload(3<<20+17, 4)
	tests := []struct {
		name, path, field, file string
		status                  int
		code                    string
	}{
		{"wrong file name", "/api/v1/packages/1/upload", "file", "Other.pkg", 400, "INVALID_FILE_NAME"},
		{"wrong field", "/api/v1/packages/1/upload", "upload", "Tool 1.0.pkg", 400, "INVALID_FIELD"},
		{"absent package", "/api/v1/packages/9/upload", "file", "Tool 1.0.pkg", 404, "NOT_FOUND"},
		{"upload", "/api/v1/packages/1/upload", "file", "Tool 1.0.pkg", 201, ""},
	}
	var uploaded time.Time
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := multipartBody(t, tt.field, tt.file, data)
			r := c.do("POST", tt.path, body, map[string]string{"Content-Type": ct})
			uploaded = time.Now()
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.code != "" && r.apiCode(t) != tt.code {
				t.Errorf("body %s, want code %s", r.body, tt.code)
			}
		})
	}
	unchanged := func(when string) {
		t.Helper()
		if p := c.pkg("1"); p["cloudTransferStatus"] != "" || p["hashValue"] != "abc" || p["size"] != nil {
			t.Errorf("%s: %v", when, p)
		}
	}
	inTime := func(since time.Time) bool {
		if time.Since(since) >= delay {
			t.Logf("machine too slow: %v passed, processing is over; skipping a during-processing check", time.Since(since))
			return false
		}
		return true
	}
	unchanged("right after the upload")
	c.refresh("Tool 1.0.pkg")
	if inTime(uploaded) {
		unchanged("refresh during processing (no old file)")
	}
	waitFor(t, func() bool { return c.uploadDone("Tool 1.0.pkg") })
	md5hex, sha3hex := sums(data)
	if f := fileNamed(c.files(), "Tool 1.0.pkg"); f == nil || f.Size != int64(len(data)) || f.MD5 != md5hex || f.SHA3 != sha3hex {
		t.Fatalf("JCDS file after v1 upload: %+v", f)
	}
	unchanged("processed, before a refresh")
	c.refresh("Tool 1.0.pkg")
	if p := c.pkg("1"); p["cloudTransferStatus"] != "READY" || p["hashType"] != "SHA3_512" || p["hashValue"] != sha3hex ||
		p["md5"] != md5hex || p["size"] != "3145745" {
		t.Errorf("refresh after processing: %v", p)
	}

	// Replace: the old file stays listed until the new one is processed;
	// refreshes meanwhile flip, revert, then change nothing.
	small := []byte("version two")
	_, sha2 := sums(small)
	body, ct := multipartBody(t, "file", "Tool 1.0.pkg", small)
	if r := c.do("POST", "/api/v1/packages/1/upload", body, map[string]string{"Content-Type": ct}); r.status != 201 {
		t.Fatalf("second upload: %d %s", r.status, r.body)
	}
	uploaded = time.Now()
	if f := fileNamed(c.files(), "Tool 1.0.pkg"); f == nil || f.SHA3 != sha3hex {
		t.Errorf("old file while processing: %+v", f)
	}
	for i, want := range []string{sha2, sha3hex, sha3hex} {
		c.refresh("Tool 1.0.pkg")
		if p := c.pkg("1"); inTime(uploaded) && (p["hashValue"] != want || p["size"] != "3145745" || p["cloudTransferStatus"] != "READY") {
			t.Errorf("refresh %d during processing: hash %v size %v status %v, want hash %s with the old size", i+1, p["hashValue"], p["size"], p["cloudTransferStatus"], want)
		}
	}
	waitFor(t, func() bool { return c.uploadDone("Tool 1.0.pkg") })
	if p := c.pkg("1"); p["hashValue"] != sha3hex || p["size"] != "3145745" || p["cloudTransferStatus"] != "READY" {
		t.Errorf("processed, before a refresh, the old record stays: %v", p)
	}
	c.refresh("Tool 1.0.pkg")
	if p := c.pkg("1"); p["hashValue"] != sha2 || p["size"] != "11" || p["cloudTransferStatus"] != "READY" {
		t.Errorf("refresh after the replacement: %v", p)
	}
	fs := c.files()
	if len(fs) != 1 || fs[0].Name != "Tool 1.0.pkg" || fs[0].SHA3 != sha2 || fs[0].Size != int64(len(small)) {
		t.Errorf("after replacement: %+v", fs)
	}

	// A processing failure: the old file stays; the next refresh reports
	// ERROR, the one after finds the (old) file.
	c.sim.FailProcessing(1)
	body, ct = multipartBody(t, "file", "Tool 1.0.pkg", []byte("three"))
	if r := c.do("POST", "/api/v1/packages/1/upload", body, map[string]string{"Content-Type": ct}); r.status != 201 {
		t.Fatalf("third upload: %d %s", r.status, r.body)
	}
	waitFor(t, func() bool { return c.uploadDone("Tool 1.0.pkg") })
	if p := c.pkg("1"); p["cloudTransferStatus"] != "READY" {
		t.Errorf("failed processing, before a refresh: %v", p)
	}
	if f := fileNamed(c.files(), "Tool 1.0.pkg"); f == nil || f.SHA3 != sha2 {
		t.Errorf("after a failed processing: %+v", f)
	}
	c.refresh("Tool 1.0.pkg")
	if p := c.pkg("1"); p["cloudTransferStatus"] != "ERROR" {
		t.Errorf("refresh after a failed processing: %v", p)
	}
	c.refresh("Tool 1.0.pkg")
	if p := c.pkg("1"); p["cloudTransferStatus"] != "READY" || p["hashValue"] != sha2 || p["size"] != "11" {
		t.Errorf("second refresh after a failed processing: %v", p)
	}
}

// Without the flip (NoRefreshFlip), a refresh during processing changes
// nothing at all.
func TestV1UploadNoRefreshFlip(t *testing.T) {
	t.Parallel() // waits out real delays
	const delay = 3 * time.Second
	c := newTC(t, Options{ClusterNodes: 1, ProcessingDelay: delay, NoRefreshFlip: true})
	c.sim.AddFile("F.pkg", []byte("old"))
	c.login()
	if r := c.jsonBody("POST", "/api/v1/packages", v1Body("F", "F.pkg", "-1", "SHA_512")); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	c.refresh("F.pkg")
	_, oldSHA3 := sums([]byte("old"))
	body, ct := multipartBody(t, "file", "F.pkg", []byte("brand new"))
	if r := c.do("POST", "/api/v1/packages/1/upload", body, map[string]string{"Content-Type": ct}); r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	uploaded := time.Now()
	for i := 0; i < 2; i++ {
		c.refresh("F.pkg")
		if p := c.pkg("1"); time.Since(uploaded) < delay && (p["hashValue"] != oldSHA3 || p["size"] != "3") {
			t.Errorf("refresh %d during processing changed the record: %v", i+1, p)
		}
	}
	_, newSHA3 := sums([]byte("brand new"))
	c.refreshUntil("F.pkg", func() bool { return c.pkg("1")["hashValue"] == newSHA3 })
	if p := c.pkg("1"); p["size"] != "9" {
		t.Errorf("after processing and a refresh: %v", p)
	}
}

// Deleting a package object deletes its file in the distribution point.
func TestDeletePackageDeletesFile(t *testing.T) {
	c := newTC(t, Options{ClusterNodes: 1})
	c.login()
	c.sim.AddFile("Gone.pkg", []byte("x"))
	c.sim.AddFile("Gone2.pkg", []byte("y"))
	c.sim.AddFile("Kept.pkg", []byte("z"))
	c.sim.AddPackage(Package{Name: "Gone", FileName: "Gone.pkg"})
	c.sim.AddPackage(Package{Name: "Gone2", FileName: "Gone2.pkg"})
	if r := c.do("DELETE", "/api/v1/packages/1", nil, nil); r.status != 204 {
		t.Fatalf("v1 delete: %d %s", r.status, r.body)
	}
	if r := c.do("DELETE", "/JSSResource/packages/id/2", nil, nil); r.status != 200 {
		t.Fatalf("classic delete: %d %s", r.status, r.body)
	}
	fs := c.files()
	if len(fs) != 1 || fs[0].Name != "Kept.pkg" {
		t.Errorf("files %+v", fs)
	}
}

func TestCategories(t *testing.T) {
	c := newTC(t, Options{})
	c.sim.AddCategory("Apps")
	c.sim.AddCategory("Apps & Tools")
	c.login()
	var list struct {
		TotalCount int
		Results    []Category
	}
	c.do("GET", "/api/v1/categories?filter="+q(`name=="Apps"`), nil, nil).json(t, &list)
	if list.TotalCount != 1 || list.Results[0].Name != "Apps" || list.Results[0].ID != "1" {
		t.Errorf("filter: %+v", list)
	}
	c.do("GET", "/api/v1/categories?filter="+q(`name=="apps & TOOLS"`), nil, nil).json(t, &list)
	if list.TotalCount != 1 || list.Results[0].ID != "2" {
		t.Errorf("filter with &: %+v", list)
	}
	if r := c.do("GET", "/api/v1/categories?filter="+q(`name=="None"`), nil, nil); !contains(string(r.body), `"totalCount": 0`) {
		t.Errorf("absent: %s", r.body)
	}
	if r := c.do("GET", "/api/v1/categories?filter="+q(`bogus=="x"`), nil, nil); r.status != 400 {
		t.Errorf("bad filter: %d", r.status)
	}
	if r := c.do("GET", "/JSSResource/categories/name/Apps", nil, nil); r.status != 200 || !contains(string(r.body), `"name": "Apps"`) {
		t.Errorf("classic category: %d %s", r.status, r.body)
	}
}

// SHA3_512 is a hashType from 11.11 on, in both APIs.
func TestSHA3HashTypeFrom1111(t *testing.T) {
	for _, tt := range []struct {
		version string
		v1      int
		classic int
	}{
		{"11.10.0", 400, 400},
		{"11.11.0", 201, 201},
		{"11.30.1", 201, 201},
	} {
		t.Run(tt.version, func(t *testing.T) {
			c := newTC(t, Options{JamfVersion: tt.version, ClusterNodes: 1})
			c.login()
			if r := c.jsonBody("POST", "/api/v1/packages", v1Body("V1", "v1.pkg", "-1", "SHA3_512")); r.status != tt.v1 {
				t.Errorf("v1: %d %s", r.status, r.body)
			}
			body := strings.NewReader(`<package><name>Classic</name><filename>c.pkg</filename><hash_type>SHA3_512</hash_type><hash_value>ab</hash_value></package>`)
			if r := c.do("POST", "/JSSResource/packages/id/0", body, map[string]string{"Content-Type": "text/xml"}); r.status != tt.classic {
				t.Errorf("classic: %d %s", r.status, r.body)
			}
		})
	}
}
