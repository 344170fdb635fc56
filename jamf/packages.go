package jamf

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Package is a package object's metadata, read from and written to either
// the Classic API or the Jamf Pro API (v1).
type Package struct {
	ID                string
	Name              string // display name
	FileName          string
	Category          string // category name (Classic)
	CategoryID        string // category id (v1), "-1" for none
	Info, Notes       string
	Priority          int
	RebootRequired    bool
	OSRequirements    string
	RequiredProcessor string
	SendNotification  bool
	HashType          string // "SHA_512" | "SHA3_512" | "MD5"
	HashValue         string
	// Size is the file size the server reports (v1 only, read-only; never
	// sent back because a PUT with it overwrites the server's own value).
	// SizeKnown is false while the server shows it blank: after a metadata
	// write, until an inventory refresh fills it again.
	Size      int64
	SizeKnown bool
	// TransferStatus is cloudTransferStatus: READY, or empty where this
	// node's inventory has no file for the record (PENDING and ERROR are in
	// the schema's enum only; terraform-provider-jamfplatform reads an empty
	// one as "No CDP binary"). StatusShown says the
	// record has the field at all.
	TransferStatus string
	StatusShown    bool
	// The server's own digests of the file (v1, from 11.25 for SHA3512).
	MD5, SHA256, SHA3512 string
	// StaleHashes keeps the server's md5/sha256/sha3512 out of an update:
	// they describe the file this run replaced and would otherwise stick
	// until the next refresh.
	StaleHashes bool

	// raw is the server's v1 object as read, so UpdatePackage sends back
	// every field this type does not model.
	raw map[string]json.RawMessage
}

// rsqlQuote quotes a value for an RSQL filter: in double quotes, with
// backslash and double quote escaped by a backslash.
func rsqlQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}

// classicNoCategory is what the Classic API shows for a package without a
// category.
const classicNoCategory = "No category assigned"

// classicHints explain the Classic API's statuses: it answers 401 (not
// 403) when the account lacks a privilege, and 409 "Problem with category
// name" for a category that does not exist (python-jss, JSSImporter).
func classicHints(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	if ae.Status == http.StatusConflict && strings.Contains(strings.ToLower(ae.Message), "category") {
		ae.Hint = "the category does not exist in Jamf Pro: create it, or fix pkg_category"
	}
	return err
}

// classicPackage is the Classic API's package object.
type classicPackage struct {
	XMLName           xml.Name    `xml:"package" json:"-"`
	ID                json.Number `xml:"-" json:"id"`
	Name              string      `xml:"name" json:"name"`
	Category          string      `xml:"category,omitempty" json:"category"`
	Filename          string      `xml:"filename" json:"filename"`
	Info              string      `xml:"info" json:"info"`
	Notes             string      `xml:"notes" json:"notes"`
	Priority          int         `xml:"priority" json:"priority"`
	RebootRequired    bool        `xml:"reboot_required" json:"reboot_required"`
	RequiredProcessor string      `xml:"required_processor,omitempty" json:"required_processor"`
	OSRequirements    string      `xml:"os_requirements" json:"os_requirements"`
	SendNotification  bool        `xml:"send_notification" json:"send_notification"`
	HashType          string      `xml:"hash_type,omitempty" json:"hash_type"`
	HashValue         string      `xml:"hash_value,omitempty" json:"hash_value"`
}

// FindPackageClassic reads a package object by name through the Classic
// API. It returns nil, nil when there is none.
func (c *Client) FindPackageClassic(ctx context.Context, name string) (*Package, error) {
	var out struct {
		Package classicPackage `json:"package"`
	}
	err := c.doJSON(ctx, request{
		step:      fmt.Sprintf("find package %q (Classic API)", name),
		method:    http.MethodGet,
		path:      "/JSSResource/packages/name/" + url.PathEscape(name),
		privilege: "Read Packages",
		classic:   true,
	}, &out)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cp := out.Package
	if strings.EqualFold(cp.Category, classicNoCategory) {
		// The Classic API's way of saying "none"; sent back as a name it
		// would be a category that does not exist.
		cp.Category = ""
	}
	return &Package{
		ID: cp.ID.String(), Name: cp.Name, FileName: cp.Filename, Category: cp.Category,
		Info: cp.Info, Notes: cp.Notes, Priority: cp.Priority, RebootRequired: cp.RebootRequired,
		OSRequirements: cp.OSRequirements, RequiredProcessor: cp.RequiredProcessor,
		SendNotification: cp.SendNotification, HashType: cp.HashType, HashValue: cp.HashValue,
	}, nil
}

func classicBody(p *Package) (func() (io.ReadCloser, int64, error), error) {
	cat := p.Category
	if strings.EqualFold(cat, classicNoCategory) {
		cat = ""
	}
	cp := classicPackage{
		Name: p.Name, Category: cat, Filename: p.FileName, Info: p.Info, Notes: p.Notes,
		Priority: p.Priority, RebootRequired: p.RebootRequired, RequiredProcessor: p.RequiredProcessor,
		OSRequirements: p.OSRequirements, SendNotification: p.SendNotification,
		HashType: p.HashType, HashValue: p.HashValue,
	}
	b, err := xml.Marshal(cp)
	if err != nil {
		return nil, err
	}
	return bytesBody(append([]byte(xml.Header), b...)), nil
}

// classicID reads the id from a Classic write's reply, which is XML
// (<package><id>13</id></package>) or, on some servers, JSON.
func classicID(body []byte) string {
	var x struct {
		ID string `xml:"id"`
	}
	if xml.Unmarshal(body, &x) == nil && x.ID != "" {
		return strings.TrimSpace(x.ID)
	}
	var j struct {
		Package struct {
			ID json.Number `json:"id"`
		} `json:"package"`
	}
	if json.Unmarshal(body, &j) == nil {
		return j.Package.ID.String()
	}
	return ""
}

// CreatePackageClassic creates a package object through the Classic API.
// The category, if given, must exist.
func (c *Client) CreatePackageClassic(ctx context.Context, p *Package) (string, error) {
	body, err := classicBody(p)
	if err != nil {
		return "", fmt.Errorf("create package %q: %w", p.Name, err)
	}
	sent := 0
	r := request{
		step:        fmt.Sprintf("create package %q (Classic API)", p.Name),
		method:      http.MethodPost,
		path:        "/JSSResource/packages/id/0",
		body:        body,
		contentType: "text/xml; charset=utf-8",
		accept:      "application/xml",
		sent:        &sent,
		privilege:   "Create Packages",
		classic:     true,
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		err = classicHints(err)
		var ae *APIError
		if sent > 1 && errors.As(err, &ae) && ae.Status == http.StatusConflict && ae.Hint == "" {
			if id, ok := c.createdByEarlierTry(ctx, p, err, c.FindPackageClassic); ok {
				return id, nil
			}
		}
		return "", err
	}
	id := classicID(resp.body)
	if id == "" {
		return "", fmt.Errorf("%s: HTTP %d: reply has no package id", r.step, resp.status)
	}
	return id, nil
}

// IsDuplicate reports whether err is Jamf Pro refusing a package object
// because one of that name exists: DUPLICATE_FIELD from the Jamf Pro API,
// 409 "Duplicate name" from the Classic API.
func IsDuplicate(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Code == "DUPLICATE_FIELD" || ae.Status == http.StatusConflict && strings.Contains(strings.ToLower(ae.Message), "duplicate")
}

// createdByEarlierTry handles a create whose earlier try reached the server
// but whose answer was lost (a dropped connection, a 5xx from a proxy): the
// retry then meets the object that try made. It is ours if it has the name
// and file name we sent; anything else stays a duplicate error.
func (c *Client) createdByEarlierTry(ctx context.Context, p *Package, dupErr error,
	find func(context.Context, string) (*Package, error)) (string, bool) {
	got, err := find(ctx, p.Name)
	if err != nil || got == nil || got.FileName != p.FileName || got.ID == "" {
		return "", false
	}
	c.log.Info().Str("package", p.Name).Str("id", got.ID).Err(dupErr).
		Msg("package was created by an earlier try whose answer was lost")
	return got.ID, true
}

// UpdatePackageClassic rewrites a package object's metadata through the
// Classic API. An empty Category leaves the object's category as it is.
func (c *Client) UpdatePackageClassic(ctx context.Context, p *Package) error {
	if p.ID == "" {
		return fmt.Errorf("update package %q (Classic API): no id", p.Name)
	}
	body, err := classicBody(p)
	if err != nil {
		return fmt.Errorf("update package %q: %w", p.Name, err)
	}
	_, err = c.do(ctx, request{
		step:        fmt.Sprintf("update package %q (Classic API)", p.Name),
		method:      http.MethodPut,
		path:        "/JSSResource/packages/id/" + url.PathEscape(p.ID),
		body:        body,
		contentType: "text/xml; charset=utf-8",
		accept:      "application/xml",
		privilege:   "Update Packages",
		classic:     true,
	})
	return classicHints(err)
}

// v1Package mirrors the fields of /api/v1/packages this client models.
type v1Package struct {
	ID             json.Number `json:"id"`
	PackageName    string      `json:"packageName"`
	FileName       string      `json:"fileName"`
	CategoryID     string      `json:"categoryId"`
	Info           *string     `json:"info"`
	Notes          *string     `json:"notes"`
	Priority       int         `json:"priority"`
	OSRequirements *string     `json:"osRequirements"`
	RebootRequired bool        `json:"rebootRequired"`
	HashType       *string     `json:"hashType"`
	HashValue      *string     `json:"hashValue"`
	// size is a string on real servers ("12345", "" while pending, "0" for
	// a file that never landed); a number is accepted too.
	Size          json.RawMessage `json:"size"`
	CloudTransfer *string         `json:"cloudTransferStatus"`
	MD5           *string         `json:"md5"`
	SHA256        *string         `json:"sha256"`
	SHA3512       *string         `json:"sha3512"`
}

// parseSize reads a v1 size: ok is false while the server shows none.
func parseSize(raw json.RawMessage) (int64, bool) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func packageFromV1(raw map[string]json.RawMessage) (*Package, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var v v1Package
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	size, known := parseSize(v.Size)
	_, shown := raw["cloudTransferStatus"]
	return &Package{
		ID: v.ID.String(), Name: v.PackageName, FileName: v.FileName, CategoryID: v.CategoryID,
		Info: str(v.Info), Notes: str(v.Notes), Priority: v.Priority, OSRequirements: str(v.OSRequirements),
		RebootRequired: v.RebootRequired, HashType: str(v.HashType), HashValue: str(v.HashValue),
		Size: size, SizeKnown: known, TransferStatus: str(v.CloudTransfer), StatusShown: shown,
		MD5: str(v.MD5), SHA256: str(v.SHA256), SHA3512: str(v.SHA3512), raw: raw,
	}, nil
}

// findExact pages through a filtered v1 list for the entry whose field
// equals name. Jamf Pro compares names without case (its RSQL guide: "not
// case sensitive … for all operators", and so is name uniqueness), so the
// match here ignores case as well; the filter only narrows the search,
// because RSQL treats * as a wildcard. Two entries that differ only in case
// cannot be told apart safely: that is an error naming both.
func (c *Client) findExact(ctx context.Context, step, path, field, name string) (map[string]json.RawMessage, error) {
	const pageSize = 100
	var found map[string]json.RawMessage
	var foundName string
	// maxPages stops a server that claims an endless totalCount, or keeps
	// sending full pages, from holding the run in a loop: an exact-name
	// filter matches a handful of entries, and only a name with RSQL
	// wildcards could match more.
	const maxPages = 100
	total := 0
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("%s: GET %s: no exact match in the first %d pages of %d entries, and the server claims %d; giving up rather than paging on",
				step, path, maxPages, pageSize, total)
		}
		q := url.Values{}
		q.Set("page", strconv.Itoa(page))
		q.Set("page-size", strconv.Itoa(pageSize))
		q.Set("sort", "id")
		q.Set("filter", field+"=="+rsqlQuote(name))
		var out struct {
			TotalCount int                          `json:"totalCount"`
			Results    []map[string]json.RawMessage `json:"results"`
		}
		if err := c.doJSON(ctx, request{step: step, method: http.MethodGet, path: path, query: q}, &out); err != nil {
			return nil, err
		}
		total = out.TotalCount
		for _, r := range out.Results {
			var got string
			if json.Unmarshal(r[field], &got) != nil || !strings.EqualFold(got, name) {
				continue
			}
			if found != nil {
				var id1, id2 json.Number
				_ = json.Unmarshal(found["id"], &id1)
				_ = json.Unmarshal(r["id"], &id2)
				return nil, fmt.Errorf("%s: two objects match without regard to case: %q (id %s) and %q (id %s); Jamf Pro treats them as the same name, so rename or delete one of them in Jamf Pro",
					step, foundName, id1, got, id2)
			}
			found, foundName = r, got
		}
		if len(out.Results) < pageSize || (page+1)*pageSize >= out.TotalCount {
			return found, nil
		}
	}
}

// FindPackage looks a package object up by its exact name through the Jamf
// Pro API (11.5+). It returns nil, nil when there is none.
func (c *Client) FindPackage(ctx context.Context, name string) (*Package, error) {
	step := fmt.Sprintf("find package %q", name)
	raw, err := c.findExact(ctx, step, "/api/v1/packages", "packageName", name)
	if err != nil || raw == nil {
		return nil, err
	}
	p, err := packageFromV1(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: unreadable package object: %w", step, err)
	}
	return p, nil
}

// v1Fields sets the modelled fields on a v1 object. size is dropped: sending
// it back overwrites the value the server computed.
func v1Fields(obj map[string]any, p *Package) {
	cat := p.CategoryID
	if cat == "" {
		cat = "-1"
	}
	obj["packageName"] = p.Name
	obj["fileName"] = p.FileName
	obj["categoryId"] = cat
	obj["info"] = p.Info
	obj["notes"] = p.Notes
	obj["priority"] = p.Priority
	obj["osRequirements"] = p.OSRequirements
	obj["rebootRequired"] = p.RebootRequired
	if p.HashType != "" {
		obj["hashType"] = p.HashType
		obj["hashValue"] = p.HashValue
	}
	// The schema's read-only fields are the server's: size above all,
	// which a write would blank or overwrite.
	for _, k := range readOnlyPackageFields {
		delete(obj, k)
	}
	if p.StaleHashes {
		delete(obj, "md5")
		delete(obj, "sha256")
		delete(obj, "sha3512")
	}
}

// readOnlyPackageFields are marked readOnly in the Package schema of Jamf
// Pro 11.23.2 to 11.30.1.
var readOnlyPackageFields = []string{"id", "size", "cloudTransferStatus", "indexed"}

// GetPackage reads a package object by id through the Jamf Pro API (11.5+).
// It returns ErrNotFound (errors.Is) when there is none.
func (c *Client) GetPackage(ctx context.Context, id string) (*Package, error) {
	step := fmt.Sprintf("read package %s", id)
	var raw map[string]json.RawMessage
	if err := c.doJSON(ctx, request{step: step, method: http.MethodGet, path: "/api/v1/packages/" + url.PathEscape(id)}, &raw); err != nil {
		return nil, err
	}
	p, err := packageFromV1(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: unreadable package object: %w", step, err)
	}
	if p.ID == "" {
		p.ID = id
	}
	return p, nil
}

// CreatePackage creates a package object through the Jamf Pro API.
func (c *Client) CreatePackage(ctx context.Context, p *Package) (string, error) {
	obj := map[string]any{
		"fillUserTemplate": false, "osInstall": false,
		"suppressUpdates": false, "suppressFromDock": false, "suppressEula": false,
		"suppressRegistration": false,
	}
	v1Fields(obj, p)
	step := fmt.Sprintf("create package %q", p.Name)
	body, err := jsonBody(obj)
	if err != nil {
		return "", fmt.Errorf("%s: %w", step, err)
	}
	var out struct {
		ID json.Number `json:"id"`
	}
	sent := 0
	if err := c.doJSON(ctx, request{step: step, method: http.MethodPost, path: "/api/v1/packages",
		body: body, contentType: "application/json", sent: &sent}, &out); err != nil {
		var ae *APIError
		if sent > 1 && errors.As(err, &ae) && ae.Code == "DUPLICATE_FIELD" {
			if id, ok := c.createdByEarlierTry(ctx, p, err, c.FindPackage); ok {
				return id, nil
			}
		}
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("%s: reply has no package id", step)
	}
	return out.ID.String(), nil
}

// UpdatePackage rewrites a package object through the Jamf Pro API. When p
// came from GetPackage or FindPackage, fields this type does not model are
// sent back as the server gave them; the read-only ones (size above all)
// never are, nor stale digests (StaleHashes). On a real server any such
// write blanks size until the next inventory refresh.
func (c *Client) UpdatePackage(ctx context.Context, p *Package) error {
	step := fmt.Sprintf("update package %q", p.Name)
	if p.ID == "" {
		return fmt.Errorf("%s: no id", step)
	}
	obj := map[string]any{}
	for k, v := range p.raw {
		obj[k] = v
	}
	if len(obj) == 0 {
		obj = map[string]any{
			"fillUserTemplate": false, "osInstall": false,
			"suppressUpdates": false, "suppressFromDock": false, "suppressEula": false,
			"suppressRegistration": false,
		}
	}
	v1Fields(obj, p)
	body, err := jsonBody(obj)
	if err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	var out map[string]json.RawMessage
	if err := c.doJSON(ctx, request{step: step, method: http.MethodPut, path: "/api/v1/packages/" + url.PathEscape(p.ID),
		body: body, contentType: "application/json"}, &out); err != nil {
		return err
	}
	if len(out) > 0 {
		p.raw = out
	}
	return nil
}

// UploadPackageV1 streams a file to /api/v1/packages/{id}/upload as the
// multipart field "file" named fileName. The file is reopened for each try
// and never held in memory; wrap (optional) sees the file's bytes, e.g. to
// show progress. The upload has idle and reply timeouts, not one deadline.
func (c *Client) UploadPackageV1(ctx context.Context, id, path, fileName string, wrap func(io.Reader) io.Reader) error {
	step := fmt.Sprintf("upload %q to package %s", fileName, id)
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %s is not a regular file", step, path)
	}
	// The multipart head and tail are made once; only the file streams.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if _, err := mw.CreateFormFile("file", fileName); err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	head := bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := mw.Close(); err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	tail := bytes.Clone(buf.Bytes())
	size := fi.Size()
	body := func() (io.ReadCloser, int64, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, 0, err
		}
		if fi2, err := f.Stat(); err == nil && fi2.Size() != size {
			f.Close()
			return nil, 0, fmt.Errorf("%s changed size during the upload (%d, now %d bytes)", path, size, fi2.Size())
		}
		var r io.Reader = f
		if wrap != nil {
			r = wrap(f)
		}
		return readCloser{io.MultiReader(bytes.NewReader(head), r, bytes.NewReader(tail)), f}, int64(len(head)) + size + int64(len(tail)), nil
	}
	return c.doJSON(ctx, request{
		step: step, method: http.MethodPost, path: "/api/v1/packages/" + url.PathEscape(id) + "/upload",
		body: body, contentType: mw.FormDataContentType(), upload: true,
	}, nil)
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Category is a category object.
type Category struct{ ID, Name string }

// FindCategory looks a category up by its exact name. It returns nil, nil
// when there is none.
func (c *Client) FindCategory(ctx context.Context, name string) (*Category, error) {
	step := fmt.Sprintf("find category %q", name)
	raw, err := c.findExact(ctx, step, "/api/v1/categories", "name", name)
	if err != nil || raw == nil {
		return nil, err
	}
	var out struct {
		ID   json.Number `json:"id"`
		Name string      `json:"name"`
	}
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: unreadable category: %w", step, err)
	}
	return &Category{ID: out.ID.String(), Name: out.Name}, nil
}

// DeletePackage deletes a package object through the Jamf Pro API (11.5+).
// The v1 upload flow uses it to take back an object it created when the
// upload into it failed, so no object is left pointing at a missing file.
func (c *Client) DeletePackage(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{step: fmt.Sprintf("delete package %s", id), method: http.MethodDelete,
		path: "/api/v1/packages/" + url.PathEscape(id), privilege: "Delete Packages"})
	if isNotFound(err) {
		return nil
	}
	return err
}
