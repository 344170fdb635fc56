package jamfsim

import (
	"bytes"
	"mime/multipart"
	"strings"
	"testing"
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
		{"create missing category", "POST", "/JSSResource/packages/id/0", body("Other", "o.pkg", "Nope", "SHA_512"), xmlHdr, 400, "<p>Error: Problem with category</p>"},
		{"create SHA3 before 11.25", "POST", "/JSSResource/packages/id/0", body("Other", "o.pkg", "", "SHA3_512"), xmlHdr, 400, "<p>Error: "},
		{"create no category", "POST", "/JSSResource/packages/id/0", body("Other", "o.pkg", "No category assigned", "MD5"), xmlHdr, 201, `<id>2</id>`},
		{"get by name JSON", "GET", "/JSSResource/packages/name/Firefox%20&%20Co", nil, nil, 200, `"filename": "Firefox 1.pkg"`},
		{"get by name XML", "GET", "/JSSResource/packages/name/Firefox%20&%20Co", nil, map[string]string{"Accept": "application/xml"}, 200, `<category>Apps</category>`},
		{"get by id", "GET", "/JSSResource/packages/id/2", nil, nil, 200, `"category": "No category assigned"`},
		{"get absent", "GET", "/JSSResource/packages/name/Absent", nil, nil, 404, "<p>Error: The server has not found anything matching the request URI</p>"},
		{"update", "PUT", "/JSSResource/packages/id/1", strings.NewReader(`<package><hash_value>def</hash_value></package>`), xmlHdr, 201, `<id>1</id>`},
		{"update absent", "PUT", "/JSSResource/packages/id/99", strings.NewReader(`<package/>`), xmlHdr, 404, "<p>Error: "},
		{"update bad category", "PUT", "/JSSResource/packages/id/1", strings.NewReader(`<package><category>Nope</category></package>`), xmlHdr, 400, "<p>Error: Problem with category</p>"},
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
	c := newTC(t, Options{JamfVersion: "11.24.0"})
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
		{"create SHA3 before 11.25", "POST", "/api/v1/packages", v1Body("Y", "y.pkg", "-1", "SHA3_512"), 400, "INVALID_FIELD", "hashType"},
		{"create missing boolean", "POST", "/api/v1/packages", missingBool, 400, "INVALID_FIELD", "suppressEula"},
		{"list filter exact", "GET", "/api/v1/packages?page=0&page-size=100&sort=id&filter=" + q(`packageName=="Firefox"`), nil, 200, "", `"totalCount": 1`},
		{"list filter absent", "GET", "/api/v1/packages?filter=" + q(`packageName=="Fire"`), nil, 200, "", `"totalCount": 0`},
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
				r = c.jsonBody(tt.method, tt.path, tt.body)
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

func TestV1SizeWrite(t *testing.T) {
	c := newTC(t, Options{})
	c.sim.AddFile("App.pkg", []byte("twelve bytes"))
	c.login()
	if r := c.jsonBody("POST", "/api/v1/packages", v1Body("App", "App.pkg", "-1", "SHA3_512")); r.status != 201 {
		t.Fatalf("create with SHA3_512 on 11.25: %d %s", r.status, r.body)
	}
	if p := c.sim.State().Packages[0]; p.Size != "12" {
		t.Fatalf("size from the JCDS file: %+v", p)
	}
	b := v1Body("App", "App.pkg", "-1", "SHA3_512")
	b["size"] = nil
	if r := c.jsonBody("PUT", "/api/v1/packages/1", b); r.status != 200 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	p := c.sim.State().Packages[0]
	if p.Size != "" || !contains(strings.Join(p.Writes, ","), "size-written") {
		t.Errorf("a PUT carrying size must overwrite the server's value: %+v", p)
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

func TestV1Upload(t *testing.T) {
	c := newTC(t, Options{})
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := multipartBody(t, tt.field, tt.file, data)
			r := c.do("POST", tt.path, body, map[string]string{"Content-Type": ct})
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.code != "" && r.apiCode(t) != tt.code {
				t.Errorf("body %s, want code %s", r.body, tt.code)
			}
		})
	}
	md5hex, sha3hex := sums(data)
	f := fileNamed(c.files(), "Tool 1.0.pkg")
	if f == nil || f.Size != int64(len(data)) || f.MD5 != md5hex || f.SHA3 != sha3hex {
		t.Fatalf("JCDS file after v1 upload: %+v", f)
	}
	if p := c.sim.State().Packages[0]; p.Size != "3145745" {
		t.Errorf("package size %q", p.Size)
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
	c.do("GET", "/api/v1/categories?filter="+q(`name=="Apps & Tools"`), nil, nil).json(t, &list)
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
