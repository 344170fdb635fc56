package jamfsim

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Package is a package object as the simulator stores it (one object, seen
// through both the Classic and the v1 API). Size, the hashes and
// TransferStatus are the server's; see the package documentation.
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
	MD5                  string `json:"md5"`
	SHA256               string `json:"sha256"`
	SHA3512              string `json:"sha3512"`
	Size                 string `json:"size"` // "" shows as null
	// TransferStatus is "ERROR" once a refresh reported a failed upload;
	// "" derives READY (file in the node's inventory) or empty from the
	// inventory.
	TransferStatus string `json:"cloudTransferStatus"`
	// Writes records how the object was written ("classic-create",
	// "v1-update", "v1-upload", "refresh", …), for assertions.
	Writes []string `json:"-"`
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
	s.commitPkgLocked(nodeAll, &p)
	return p.ID
}

// Names compare without case, in lookups as in uniqueness: Jamf's RSQL
// guide says filters are "not case sensitive … for all operators", and
// name uniqueness follows (the simulator's choice: no source states how
// uniqueness compares).
func (s *Server) categoryByNameLocked(name string) *Category {
	for _, c := range s.categories {
		if strings.EqualFold(c.Name, name) {
			return c
		}
	}
	return nil
}

func (s *Server) packageByNameLocked(name string) *Package {
	return packageNamed(s.packagesLocked(), name)
}

func packageNamed(ps []*Package, name string) *Package {
	for _, p := range ps {
		if strings.EqualFold(p.Name, name) {
			return p
		}
	}
	return nil
}

// packagesLocked is the database's packages by id.
func (s *Server) packagesLocked() []*Package {
	out := make([]*Package, 0, len(s.packages))
	for _, p := range s.packages {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return atoi(out[i].ID) < atoi(out[j].ID) })
	return out
}

func (s *Server) categoryNameLocked(id string) string {
	if c := s.categories[atoi(id)]; c != nil {
		return c.Name
	}
	return "No category assigned"
}

// newPackageLocked stores a new object. Its size starts null: the server
// drops a size sent in a POST and only an inventory refresh fills it.
func (s *Server) newPackageLocked(node int, p *Package) {
	p.ID = strconv.Itoa(s.nextPkgID)
	p.Size = ""
	s.nextPkgID++
	s.commitPkgLocked(node, p)
}

// metadataWriteLocked applies the server's side of a metadata write: any
// PUT on a package whose file is in the cloud distribution point blanks its
// size, whatever the body carried (terraform-provider-jamfplatform package
// helpers, "wire-confirmed 2026-06-25"; jamf-cli PR #258; jamf/JamfSync#41).
func (s *Server) metadataWriteLocked(p *Package) {
	if _, ok := s.files[p.FileName]; ok {
		p.Size = ""
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

// classicLookupLocked finds the object a Classic GET names, as the node
// that serves the request sees it.
func (s *Server) classicLookupLocked(r *http.Request) *Package {
	node := nodeOf(r)
	if name := r.PathValue("name"); name != "" {
		return packageNamed(s.viewPackagesLocked(node), name)
	}
	return s.viewPkgLocked(node, atoi(r.PathValue("id")))
}

// writeTargetLocked is the object a write (PUT, DELETE, {id}/upload) acts
// on: as the serving node sees it, and still in the database. A node that
// has not yet seen an object cannot update it ("almost all API calls that
// create new resources, assuming subsequent interaction with that resource
// is required", need sticky sessions: Jamf's sticky-sessions guide); one
// that still caches a deleted object finds it gone when it writes.
func (s *Server) writeTargetLocked(p *Package) *Package {
	if p == nil || s.packages[atoi(p.ID)] == nil {
		return nil
	}
	return p
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
// An unknown category is 409 "Problem with category name" (python-jss and
// JSSImporter reports); a PUT naming "No category assigned" is refused the
// same way (issue 10), while a POST may name it to mean none.
func (s *Server) applyClassicLocked(p *Package, in *classicInput, update bool) (int, string) {
	if in.Category != nil {
		switch c := strings.TrimSpace(*in.Category); {
		case c == "":
			p.CategoryID = "-1"
		case strings.EqualFold(c, "No category assigned") && !update:
			p.CategoryID = "-1"
		default:
			cat := s.categoryByNameLocked(c)
			if cat == nil {
				return http.StatusConflict, "Problem with category name"
			}
			p.CategoryID = cat.ID
		}
	}
	if in.HashType != nil && !s.validHashType(strings.TrimSpace(*in.HashType)) {
		return http.StatusBadRequest, "Problem with hash_type"
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
	return 0, ""
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
	if status, msg := s.applyClassicLocked(p, in, false); msg != "" {
		writeClassicError(w, status, msg)
		return
	}
	if p.FileName == "" {
		writeClassicError(w, http.StatusConflict, "Filename is required")
		return
	}
	p.Writes = []string{"classic-create"}
	s.newPackageLocked(nodeOf(r), p)
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
	p := s.writeTargetLocked(s.classicLookupLocked(r))
	if p == nil {
		writeClassicError(w, http.StatusNotFound, classicNotFound)
		return
	}
	if in.Name != nil {
		if other := s.packageByNameLocked(*in.Name); other != nil && other.ID != p.ID {
			writeClassicError(w, http.StatusConflict, "Duplicate name")
			return
		}
	}
	next := *p
	next.Writes = append([]string(nil), p.Writes...)
	if status, msg := s.applyClassicLocked(&next, in, true); msg != "" {
		writeClassicError(w, status, msg)
		return
	}
	next.Writes = append(next.Writes, "classic-update")
	s.metadataWriteLocked(&next)
	s.commitPkgLocked(nodeOf(r), &next)
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
	p := s.writeTargetLocked(s.viewPkgLocked(nodeOf(r), id))
	if p == nil {
		writeClassicError(w, http.StatusNotFound, classicNotFound)
		return
	}
	s.deletePackageLocked(r, p)
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

// deletePackageLocked deletes a package object and its file in the cloud
// distribution point: "deleting a package object deletes its JCDS file"
// (jamf-pro-sdk-python docs, JCDS 2.0 page).
func (s *Server) deletePackageLocked(r *http.Request, p *Package) {
	s.deletePkgLocked(nodeOf(r), atoi(p.ID))
	if f := s.files[p.FileName]; f != nil {
		if err := s.deleteKey(r.Context(), p.FileName); err != nil {
			s.log.Warn().Err(err).Str("file", p.FileName).Msg("delete the package's JCDS file")
			return
		}
		s.deletedSize[p.FileName] = f.Size
		delete(s.files, p.FileName)
		delete(s.stale, p.FileName)
	}
}
