package jamfsim

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Package is a package object as the simulator stores it (one object, seen
// through both the Classic and the v1 API).
type Package struct {
	ID                   string `json:"id"`
	Name                 string `json:"packageName"`
	FileName             string `json:"fileName"`
	CategoryID           string `json:"categoryId"` // "-1": none
	Info                 string `json:"info"`
	Notes                string `json:"notes"`
	Priority             int    `json:"priority"`
	RebootRequired       bool   `json:"rebootRequired"`
	FillUserTemplate     bool   `json:"fillUserTemplate"`
	Uninstall            bool   `json:"uninstall"`
	OSInstall            bool   `json:"osInstall"`
	SuppressUpdates      bool   `json:"suppressUpdates"`
	SuppressFromDock     bool   `json:"suppressFromDock"`
	SuppressEula         bool   `json:"suppressEula"`
	SuppressRegistration bool   `json:"suppressRegistration"`
	SendNotification     bool   `json:"sendNotification"`
	OSRequirements       string `json:"osRequirements"`
	RequiredProcessor    string `json:"requiredProcessor"`
	HashType             string `json:"hashType"`
	HashValue            string `json:"hashValue"`
	Size                 string `json:"size"` // "" shows as null
	// Writes records how the object was written ("classic-create",
	// "v1-update", "v1-update-size" when a PUT carried `size`, …).
	Writes []string `json:"writes"`
}

// Category is a Jamf Pro category.
type Category struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Priority int    `json:"priority"`
}

// AddCategory adds a category and returns its id (an existing one's id when
// the name is taken).
func (s *Server) AddCategory(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.categoryByNameLocked(name); c != nil {
		return c.ID
	}
	c := &Category{ID: strconv.Itoa(s.nextCatID), Name: name, Priority: 9}
	s.categories[s.nextCatID] = c
	s.nextCatID++
	return c.ID
}

// AddPackage stores a package object as is (ID assigned when empty; empty
// CategoryID means none) and returns its id.
func (s *Server) AddPackage(p Package) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.CategoryID == "" {
		p.CategoryID = "-1"
	}
	if p.ID == "" {
		p.ID = strconv.Itoa(s.nextPkgID)
	}
	id := atoi(p.ID)
	if id <= 0 {
		panic(fmt.Sprintf("jamfsim: AddPackage: id %q is not a positive number", p.ID))
	}
	if id >= s.nextPkgID {
		s.nextPkgID = id + 1
	}
	p.Writes = append(p.Writes, "fixture")
	s.packages[id] = &p
	return p.ID
}

func (s *Server) categoryByNameLocked(name string) *Category {
	for _, c := range s.categories {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (s *Server) packageByNameLocked(name string) *Package {
	for _, p := range s.packages {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (s *Server) categoryNameLocked(id string) string {
	if c := s.categories[atoi(id)]; c != nil {
		return c.Name
	}
	return "No category assigned"
}

func (s *Server) newPackageLocked(p *Package) {
	p.ID = strconv.Itoa(s.nextPkgID)
	s.packages[s.nextPkgID] = p
	s.nextPkgID++
	if f := s.files[p.FileName]; f != nil && p.Size == "" {
		p.Size = strconv.FormatInt(f.Size, 10)
	}
}

func (s *Server) validHashType(t string) bool {
	switch t {
	case "", "MD5", "SHA_512":
		return true
	case "SHA3_512":
		return s.version.acceptsSHA3Hash()
	}
	return false
}

// ---- Classic API ----

type classicPackageXML struct {
	XMLName                    xml.Name `xml:"package"`
	ID                         int      `xml:"id"`
	Name                       string   `xml:"name"`
	Category                   string   `xml:"category"`
	Filename                   string   `xml:"filename"`
	Info                       string   `xml:"info"`
	Notes                      string   `xml:"notes"`
	Priority                   int      `xml:"priority"`
	RebootRequired             bool     `xml:"reboot_required"`
	FillUserTemplate           bool     `xml:"fill_user_template"`
	FillExistingUsers          bool     `xml:"fill_existing_users"`
	BootVolumeRequired         bool     `xml:"boot_volume_required"`
	AllowUninstalled           bool     `xml:"allow_uninstalled"`
	OSRequirements             string   `xml:"os_requirements"`
	RequiredProcessor          string   `xml:"required_processor"`
	HashType                   string   `xml:"hash_type"`
	HashValue                  string   `xml:"hash_value"`
	SwitchWithPackage          string   `xml:"switch_with_package"`
	InstallIfReportedAvailable string   `xml:"install_if_reported_available"`
	ReinstallOption            string   `xml:"reinstall_option"`
	TriggeringFiles            struct{} `xml:"triggering_files"`
	SendNotification           bool     `xml:"send_notification"`
}

func (s *Server) classicViewLocked(p *Package) classicPackageXML {
	rp := p.RequiredProcessor
	if rp == "" {
		rp = "None"
	}
	ht := p.HashType
	if ht == "" {
		ht = "MD5"
	}
	return classicPackageXML{
		ID: atoi(p.ID), Name: p.Name, Category: s.categoryNameLocked(p.CategoryID), Filename: p.FileName,
		Info: p.Info, Notes: p.Notes, Priority: p.Priority, RebootRequired: p.RebootRequired,
		FillUserTemplate: p.FillUserTemplate, BootVolumeRequired: true, OSRequirements: p.OSRequirements,
		RequiredProcessor: rp, HashType: ht, HashValue: p.HashValue, SwitchWithPackage: "Do Not Install",
		InstallIfReportedAvailable: "false", ReinstallOption: "Do Not Reinstall", SendNotification: p.SendNotification,
	}
}

func classicJSON(x classicPackageXML) map[string]any {
	return map[string]any{"package": map[string]any{
		"id": x.ID, "name": x.Name, "category": x.Category, "filename": x.Filename, "info": x.Info,
		"notes": x.Notes, "priority": x.Priority, "reboot_required": x.RebootRequired,
		"fill_user_template": x.FillUserTemplate, "fill_existing_users": x.FillExistingUsers,
		"boot_volume_required": x.BootVolumeRequired, "allow_uninstalled": x.AllowUninstalled,
		"os_requirements": x.OSRequirements, "required_processor": x.RequiredProcessor,
		"hash_type": x.HashType, "hash_value": x.HashValue, "switch_with_package": x.SwitchWithPackage,
		"install_if_reported_available": x.InstallIfReportedAvailable, "reinstall_option": x.ReinstallOption,
		"triggering_files": map[string]any{}, "send_notification": x.SendNotification,
	}}
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "json")
}

func (s *Server) classicLookupLocked(r *http.Request) *Package {
	if name := r.PathValue("name"); name != "" {
		return s.packageByNameLocked(name)
	}
	return s.packages[atoi(r.PathValue("id"))]
}

// GET /JSSResource/packages/{name|id}/…
func (s *Server) classicGetPackage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, true, PrivReadPackages); !ok {
		return
	}
	s.mu.Lock()
	p := s.classicLookupLocked(r)
	var view classicPackageXML
	if p != nil {
		view = s.classicViewLocked(p)
	}
	s.mu.Unlock()
	if p == nil {
		writeClassicError(w, http.StatusNotFound, classicNotFound)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, classicJSON(view))
		return
	}
	writeXML(w, http.StatusOK, view)
}

// classicInput is a Classic package body; pointers tell absent from empty,
// because a Classic PUT only changes the elements it carries.
type classicInput struct {
	XMLName           xml.Name `xml:"package"`
	Name              *string  `xml:"name"`
	Category          *string  `xml:"category"`
	Filename          *string  `xml:"filename"`
	Info              *string  `xml:"info"`
	Notes             *string  `xml:"notes"`
	Priority          *int     `xml:"priority"`
	RebootRequired    *bool    `xml:"reboot_required"`
	FillUserTemplate  *bool    `xml:"fill_user_template"`
	OSRequirements    *string  `xml:"os_requirements"`
	RequiredProcessor *string  `xml:"required_processor"`
	SendNotification  *bool    `xml:"send_notification"`
	HashType          *string  `xml:"hash_type"`
	HashValue         *string  `xml:"hash_value"`
}

type classicIDReply struct {
	XMLName xml.Name `xml:"package"`
	ID      int      `xml:"id"`
}

func readClassicInput(r *http.Request) (*classicInput, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	var in classicInput
	if err := xml.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// applyClassic copies the given elements into p; it returns a Classic
// error message when the body is not acceptable.
func (s *Server) applyClassicLocked(p *Package, in *classicInput) string {
	if in.Category != nil {
		switch c := strings.TrimSpace(*in.Category); c {
		case "", "No category assigned", "Unknown":
			p.CategoryID = "-1"
		default:
			cat := s.categoryByNameLocked(c)
			if cat == nil {
				return "Problem with category"
			}
			p.CategoryID = cat.ID
		}
	}
	if in.HashType != nil && !s.validHashType(strings.TrimSpace(*in.HashType)) {
		return "Problem with hash_type"
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.Name, in.Name)
	set(&p.FileName, in.Filename)
	set(&p.Info, in.Info)
	set(&p.Notes, in.Notes)
	set(&p.OSRequirements, in.OSRequirements)
	set(&p.RequiredProcessor, in.RequiredProcessor)
	set(&p.HashValue, in.HashValue)
	if in.HashType != nil {
		p.HashType = strings.TrimSpace(*in.HashType)
	}
	if in.Priority != nil {
		p.Priority = *in.Priority
	}
	if in.RebootRequired != nil {
		p.RebootRequired = *in.RebootRequired
	}
	if in.FillUserTemplate != nil {
		p.FillUserTemplate = *in.FillUserTemplate
	}
	if in.SendNotification != nil {
		p.SendNotification = *in.SendNotification
	}
	return ""
}

// POST /JSSResource/packages/id/0 (XML) → 201 <package><id>N</id></package>
func (s *Server) classicCreatePackage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, true, PrivCreatePackages); !ok {
		return
	}
	in, err := readClassicInput(r)
	if err != nil {
		writeClassicError(w, http.StatusBadRequest, "Unable to parse XML: "+err.Error())
		return
	}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		writeClassicError(w, http.StatusConflict, "Name is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.packageByNameLocked(*in.Name) != nil {
		writeClassicError(w, http.StatusConflict, "Duplicate name")
		return
	}
	p := &Package{CategoryID: "-1", Priority: 10, RequiredProcessor: "None"}
	if msg := s.applyClassicLocked(p, in); msg != "" {
		writeClassicError(w, http.StatusBadRequest, msg)
		return
	}
	if p.FileName == "" {
		writeClassicError(w, http.StatusConflict, "Filename is required")
		return
	}
	p.Writes = []string{"classic-create"}
	s.newPackageLocked(p)
	writeXML(w, http.StatusCreated, classicIDReply{ID: atoi(p.ID)})
}

// PUT /JSSResource/packages/{id|name}/… → 201 <package><id>N</id></package>
func (s *Server) classicUpdatePackage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, true, PrivUpdatePackages); !ok {
		return
	}
	in, err := readClassicInput(r)
	if err != nil {
		writeClassicError(w, http.StatusBadRequest, "Unable to parse XML: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.classicLookupLocked(r)
	if p == nil {
		writeClassicError(w, http.StatusNotFound, classicNotFound)
		return
	}
	if in.Name != nil {
		if other := s.packageByNameLocked(*in.Name); other != nil && other != p {
			writeClassicError(w, http.StatusConflict, "Duplicate name")
			return
		}
	}
	next := *p
	next.Writes = append([]string(nil), p.Writes...)
	if msg := s.applyClassicLocked(&next, in); msg != "" {
		writeClassicError(w, http.StatusBadRequest, msg)
		return
	}
	next.Writes = append(next.Writes, "classic-update")
	*p = next
	writeXML(w, http.StatusCreated, classicIDReply{ID: atoi(p.ID)})
}

// DELETE /JSSResource/packages/id/{id}
func (s *Server) classicDeletePackage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, true, PrivDeletePackages); !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := atoi(r.PathValue("id"))
	if s.packages[id] == nil {
		writeClassicError(w, http.StatusNotFound, classicNotFound)
		return
	}
	delete(s.packages, id)
	writeXML(w, http.StatusOK, classicIDReply{ID: id})
}

// GET /JSSResource/categories/name/{name}
func (s *Server) classicGetCategory(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, true, PrivReadCategories); !ok {
		return
	}
	s.mu.Lock()
	c := s.categoryByNameLocked(r.PathValue("name"))
	var cc Category
	if c != nil {
		cc = *c
	}
	s.mu.Unlock()
	if c == nil {
		writeClassicError(w, http.StatusNotFound, classicNotFound)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"category": map[string]any{"id": atoi(cc.ID), "name": cc.Name, "priority": cc.Priority}})
		return
	}
	type catXML struct {
		XMLName  xml.Name `xml:"category"`
		ID       int      `xml:"id"`
		Name     string   `xml:"name"`
		Priority int      `xml:"priority"`
	}
	writeXML(w, http.StatusOK, catXML{ID: atoi(cc.ID), Name: cc.Name, Priority: cc.Priority})
}

// ---- Jamf Pro API v1 (11.5+) ----

func (s *Server) v1View(p *Package) map[string]any {
	var size any
	if p.Size != "" {
		size = p.Size
	}
	var ht any
	if p.HashType != "" {
		ht = p.HashType
	}
	var hv any
	if p.HashValue != "" {
		hv = p.HashValue
	}
	status := "READY"
	if _, ok := s.files[p.FileName]; !ok {
		status = "NOT_AVAILABLE"
	}
	return map[string]any{
		"id": p.ID, "packageName": p.Name, "fileName": p.FileName, "categoryId": p.CategoryID,
		"info": p.Info, "notes": p.Notes, "priority": p.Priority, "osRequirements": p.OSRequirements,
		"fillUserTemplate": p.FillUserTemplate, "indexed": false, "uninstall": p.Uninstall,
		"rebootRequired": p.RebootRequired, "osInstall": p.OSInstall, "suppressUpdates": p.SuppressUpdates,
		"suppressFromDock": p.SuppressFromDock, "suppressEula": p.SuppressEula,
		"suppressRegistration": p.SuppressRegistration, "md5": nil, "sha256": nil,
		"hashType": ht, "hashValue": hv, "size": size, "manifest": nil, "format": nil,
		"cloudTransferStatus": status, "sendNotification": p.SendNotification,
	}
}

func (s *Server) v1Gate(w http.ResponseWriter, r *http.Request) bool {
	if !s.version.hasV1Packages() {
		s.notFoundAPI(w, r)
		return false
	}
	return true
}

// parseFilter reads the simple RSQL the uploader uses: field=="value"
// (quotes optional). Anything else is 400 INVALID_FIELD, as an unknown
// field would be on the real server.
func parseFilter(f string, fields ...string) (field, value string, err error) {
	if f == "" {
		return "", "", nil
	}
	k, v, ok := strings.Cut(f, "==")
	if !ok {
		return "", "", fmt.Errorf("unsupported filter %q", f)
	}
	k = strings.TrimSpace(k)
	for _, allowed := range fields {
		if k == allowed {
			if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
				v = rsqlUnescape(v[1 : len(v)-1])
			}
			return k, v, nil
		}
	}
	return "", "", fmt.Errorf("unsupported filter field %q", k)
}

// rsqlUnescape undoes RSQL's backslash escapes inside a quoted value: a
// backslash makes the next character literal (\" and \\ in practice).
func rsqlUnescape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

func pageParams(q url.Values) (page, size int) {
	page, _ = strconv.Atoi(q.Get("page"))
	size, err := strconv.Atoi(q.Get("page-size"))
	if err != nil || size <= 0 {
		size = 100
	}
	if page < 0 {
		page = 0
	}
	return page, size
}

// GET /api/v1/packages?page=&page-size=&sort=&filter=packageName=="NAME"
func (s *Server) v1ListPackages(w http.ResponseWriter, r *http.Request) {
	if !s.v1Gate(w, r) {
		return
	}
	if _, ok := s.authorize(w, r, false, PrivReadPackages); !ok {
		return
	}
	field, value, err := parseFilter(r.URL.Query().Get("filter"), "packageName", "fileName", "id")
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error(), "filter")
		return
	}
	page, size := pageParams(r.URL.Query())
	s.mu.Lock()
	var matched []*Package
	for _, p := range s.packages {
		if field == "" || (field == "packageName" && p.Name == value) || (field == "fileName" && p.FileName == value) || (field == "id" && p.ID == value) {
			matched = append(matched, p)
		}
	}
	sort.Slice(matched, func(i, j int) bool { return atoi(matched[i].ID) < atoi(matched[j].ID) })
	results := []map[string]any{}
	for i := page * size; i < len(matched) && i < (page+1)*size; i++ {
		results = append(results, s.v1View(matched[i]))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"totalCount": len(matched), "results": results})
}

// GET /api/v1/packages/{id}
func (s *Server) v1GetPackage(w http.ResponseWriter, r *http.Request) {
	if !s.v1Gate(w, r) {
		return
	}
	if _, ok := s.authorize(w, r, false, PrivReadPackages); !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.packages[atoi(r.PathValue("id"))]
	if p == nil {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Package not found", "id")
		return
	}
	writeJSON(w, http.StatusOK, s.v1View(p))
}

var v1RequiredBools = []string{"fillUserTemplate", "uninstall", "rebootRequired", "osInstall",
	"suppressUpdates", "suppressFromDock", "suppressEula", "suppressRegistration"}

// applyV1 validates a v1 body and copies it into p (the whole object: a
// PUT replaces it). It returns a field error.
func (s *Server) applyV1Locked(p *Package, raw map[string]json.RawMessage) (code, desc, field string) {
	str := func(k string) (string, bool, bool) { // value, present, ok
		v, ok := raw[k]
		if !ok || string(v) == "null" {
			return "", ok, true
		}
		var x string
		if err := json.Unmarshal(v, &x); err != nil {
			return "", true, false
		}
		return x, true, true
	}
	for _, k := range []string{"packageName", "fileName", "categoryId"} {
		v, _, ok := str(k)
		if !ok || strings.TrimSpace(v) == "" {
			return "INVALID_FIELD", k + " is required", k
		}
	}
	if _, ok := raw["priority"]; !ok {
		return "INVALID_FIELD", "priority is required", "priority"
	}
	for _, k := range v1RequiredBools {
		var b bool
		v, ok := raw[k]
		if !ok || json.Unmarshal(v, &b) != nil {
			return "INVALID_FIELD", k + " is required", k
		}
	}
	next := Package{ID: p.ID, Writes: p.Writes, Size: p.Size, SendNotification: p.SendNotification, RequiredProcessor: p.RequiredProcessor}
	next.Name, _, _ = str("packageName")
	next.FileName, _, _ = str("fileName")
	next.CategoryID, _, _ = str("categoryId")
	if next.CategoryID != "-1" && s.categories[atoi(next.CategoryID)] == nil {
		return "INVALID_FIELD", "Category with id " + next.CategoryID + " does not exist", "categoryId"
	}
	if err := json.Unmarshal(raw["priority"], &next.Priority); err != nil {
		return "INVALID_FIELD", "priority must be a number", "priority"
	}
	bools := map[string]*bool{"fillUserTemplate": &next.FillUserTemplate, "uninstall": &next.Uninstall,
		"rebootRequired": &next.RebootRequired, "osInstall": &next.OSInstall, "suppressUpdates": &next.SuppressUpdates,
		"suppressFromDock": &next.SuppressFromDock, "suppressEula": &next.SuppressEula,
		"suppressRegistration": &next.SuppressRegistration}
	for k, dst := range bools {
		_ = json.Unmarshal(raw[k], dst)
	}
	for k, dst := range map[string]*string{"info": &next.Info, "notes": &next.Notes, "osRequirements": &next.OSRequirements, "hashValue": &next.HashValue, "hashType": &next.HashType} {
		v, _, ok := str(k)
		if !ok {
			return "INVALID_FIELD", k + " must be a string", k
		}
		*dst = v
	}
	if !s.validHashType(next.HashType) {
		return "INVALID_FIELD", "Invalid hashType " + next.HashType, "hashType"
	}
	if v, ok := raw["size"]; ok {
		// The real server takes `size` from the body and loses its own value.
		var sz any
		_ = json.Unmarshal(v, &sz)
		switch x := sz.(type) {
		case nil:
			next.Size = ""
		case string:
			next.Size = x
		case float64:
			next.Size = strconv.FormatInt(int64(x), 10)
		}
		next.Writes = append(append([]string(nil), next.Writes...), "size-written")
	}
	*p = next
	return "", "", ""
}

func readRawObject(r *http.Request) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	return raw, nil
}

func (s *Server) href(r *http.Request, path string) string {
	return "http://" + r.Host + path
}

// POST /api/v1/packages → 201 {"id","href"}
func (s *Server) v1CreatePackage(w http.ResponseWriter, r *http.Request) {
	if !s.v1Gate(w, r) {
		return
	}
	if _, ok := s.authorize(w, r, false, PrivCreatePackages); !ok {
		return
	}
	raw, err := readRawObject(r)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "Malformed JSON: "+err.Error(), "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &Package{}
	if code, desc, field := s.applyV1Locked(p, raw); code != "" {
		writeAPIError(w, http.StatusBadRequest, code, desc, field)
		return
	}
	if s.packageByNameLocked(p.Name) != nil {
		writeAPIError(w, http.StatusBadRequest, "DUPLICATE_FIELD", "packageName must be unique", "packageName")
		return
	}
	p.Writes = append(p.Writes, "v1-create")
	s.newPackageLocked(p)
	writeJSON(w, http.StatusCreated, map[string]string{"id": p.ID, "href": s.href(r, "/api/v1/packages/"+p.ID)})
}

// PUT /api/v1/packages/{id}: full object → 200 with the object.
func (s *Server) v1UpdatePackage(w http.ResponseWriter, r *http.Request) {
	if !s.v1Gate(w, r) {
		return
	}
	if _, ok := s.authorize(w, r, false, PrivUpdatePackages); !ok {
		return
	}
	raw, err := readRawObject(r)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "Malformed JSON: "+err.Error(), "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.packages[atoi(r.PathValue("id"))]
	if p == nil {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Package not found", "id")
		return
	}
	next := *p
	if code, desc, field := s.applyV1Locked(&next, raw); code != "" {
		writeAPIError(w, http.StatusBadRequest, code, desc, field)
		return
	}
	if other := s.packageByNameLocked(next.Name); other != nil && other != p {
		writeAPIError(w, http.StatusBadRequest, "DUPLICATE_FIELD", "packageName must be unique", "packageName")
		return
	}
	next.Writes = append(append([]string(nil), next.Writes...), "v1-update")
	*p = next
	writeJSON(w, http.StatusOK, s.v1View(p))
}

// DELETE /api/v1/packages/{id} → 204
func (s *Server) v1DeletePackage(w http.ResponseWriter, r *http.Request) {
	if !s.v1Gate(w, r) {
		return
	}
	if _, ok := s.authorize(w, r, false, PrivDeletePackages); !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := atoi(r.PathValue("id"))
	if s.packages[id] == nil {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Package not found", "id")
		return
	}
	delete(s.packages, id)
	w.WriteHeader(http.StatusNoContent)
}

// GET /api/v1/categories?filter=name=="NAME"
func (s *Server) v1ListCategories(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, false, PrivReadCategories); !ok {
		return
	}
	field, value, err := parseFilter(r.URL.Query().Get("filter"), "name", "id")
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error(), "filter")
		return
	}
	page, size := pageParams(r.URL.Query())
	s.mu.Lock()
	var matched []Category
	for _, c := range s.categories {
		if field == "" || (field == "name" && c.Name == value) || (field == "id" && c.ID == value) {
			matched = append(matched, *c)
		}
	}
	s.mu.Unlock()
	sort.Slice(matched, func(i, j int) bool { return atoi(matched[i].ID) < atoi(matched[j].ID) })
	results := []Category{}
	for i := page * size; i < len(matched) && i < (page+1)*size; i++ {
		results = append(results, matched[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"totalCount": len(matched), "results": results})
}

// GET /api/v1/categories/{id}
func (s *Server) v1GetCategory(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, false, PrivReadCategories); !ok {
		return
	}
	s.mu.Lock()
	c := s.categories[atoi(r.PathValue("id"))]
	var cc Category
	if c != nil {
		cc = *c
	}
	s.mu.Unlock()
	if c == nil {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Category not found", "id")
		return
	}
	writeJSON(w, http.StatusOK, cc)
}
