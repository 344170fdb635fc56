package jamfsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// ---- Jamf Pro API v1 (11.5+) ----

// transferStatusLocked is the package's cloudTransferStatus as node shows
// it: ERROR where a refresh reported a failed upload (simulator's choice;
// the schema's enum lists it), READY when the file is in node's inventory
// view, and empty when it is not: "No CDP binary (metadata-only / FSDP)"
// (terraform-provider-jamfplatform package helpers). PENDING is in
// the schema's enum only.
func (s *Server) transferStatusLocked(node int, p *Package) string {
	if p.TransferStatus != "" {
		return p.TransferStatus
	}
	if _, ok := s.inventoryLocked(node)[p.FileName]; ok {
		return "READY"
	}
	return ""
}

func nullable(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// v1ViewLocked is the object as GET /api/v1/packages/{id} shows it on node.
func (s *Server) v1ViewLocked(node int, p *Package) map[string]any {
	v := map[string]any{
		"id": p.ID, "packageName": p.Name, "fileName": p.FileName, "categoryId": p.CategoryID,
		"info": p.Info, "notes": p.Notes, "priority": p.Priority, "osRequirements": p.OSRequirements,
		"fillUserTemplate": p.FillUserTemplate, "indexed": false, "uninstall": p.Uninstall,
		"rebootRequired": p.RebootRequired, "osInstall": p.OSInstall, "suppressUpdates": p.SuppressUpdates,
		"suppressFromDock": p.SuppressFromDock, "suppressEula": p.SuppressEula,
		"suppressRegistration": p.SuppressRegistration, "md5": nullable(p.MD5), "sha256": nullable(p.SHA256),
		"hashType": nullable(p.HashType), "hashValue": nullable(p.HashValue), "size": nullable(p.Size),
		"manifest": nil, "format": nil, "cloudTransferStatus": s.transferStatusLocked(node, p),
	}
	if s.version.hasSHA3512Field() {
		v["sha3512"] = nullable(p.SHA3512)
	}
	return v
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
// RSQL compares "not case sensitive … for all operators" (Jamf's RSQL guide).
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
	for _, p := range s.viewPackagesLocked(nodeOf(r)) {
		if field == "" || (field == "packageName" && strings.EqualFold(p.Name, value)) ||
			(field == "fileName" && strings.EqualFold(p.FileName, value)) || (field == "id" && p.ID == value) {
			matched = append(matched, p)
		}
	}
	results := []map[string]any{}
	for i := page * size; i < len(matched) && i < (page+1)*size; i++ {
		results = append(results, s.v1ViewLocked(nodeOf(r), matched[i]))
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
	p := s.viewPkgLocked(nodeOf(r), atoi(r.PathValue("id")))
	if p == nil {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Package not found", "id")
		return
	}
	writeJSON(w, http.StatusOK, s.v1ViewLocked(nodeOf(r), p))
}

// v1Required is the v1 Package schema's `required` list (11.23.2–11.30.1):
// no `uninstall`.
var v1Required = []string{"categoryId", "fileName", "fillUserTemplate", "osInstall", "packageName", "priority",
	"rebootRequired", "suppressEula", "suppressFromDock", "suppressRegistration", "suppressUpdates"}

// The service behind the API is Java (Jackson), which coerces scalars: 0/1
// and "true"/"false" for booleans, "10" for integers, 5 for strings.
// JamfPackageUploader sent fillUserTemplate 0 and priority "10" for years.
func lenientBool(raw json.RawMessage) (bool, bool) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false, false
	}
	switch x := v.(type) {
	case bool:
		return x, true
	case float64:
		if x == 0 || x == 1 {
			return x == 1, true
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

func lenientInt(raw json.RawMessage) (int, bool) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return 0, false
	}
	switch x := v.(type) {
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	}
	return 0, false
}

// lenientString accepts a string, a number (coerced) or null ("").
func lenientString(raw json.RawMessage) (string, bool) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// applyV1Locked validates a v1 body and copies it into p (the whole object:
// a PUT replaces it). Read-only fields (id, size, cloudTransferStatus,
// indexed) and unknown fields are ignored. It returns a field error.
func (s *Server) applyV1Locked(p *Package, raw map[string]json.RawMessage) (code, desc, field string) {
	for _, k := range v1Required {
		if v, ok := raw[k]; !ok || string(v) == "null" {
			return "INVALID_FIELD", k + " is required", k
		}
	}
	next := *p
	next.Writes = append([]string(nil), p.Writes...)
	for k, dst := range map[string]*string{"packageName": &next.Name, "fileName": &next.FileName, "categoryId": &next.CategoryID} {
		v, ok := lenientString(raw[k])
		if !ok || strings.TrimSpace(v) == "" {
			return "INVALID_FIELD", k + " is required", k
		}
		*dst = v
	}
	if next.CategoryID != "-1" && s.categories[atoi(next.CategoryID)] == nil {
		return "INVALID_FIELD", "Category with id " + next.CategoryID + " does not exist", "categoryId"
	}
	n, ok := lenientInt(raw["priority"])
	if !ok {
		return "INVALID_FIELD", "priority must be a number", "priority"
	}
	next.Priority = n
	bools := map[string]*bool{"fillUserTemplate": &next.FillUserTemplate, "uninstall": &next.Uninstall,
		"rebootRequired": &next.RebootRequired, "osInstall": &next.OSInstall, "suppressUpdates": &next.SuppressUpdates,
		"suppressFromDock": &next.SuppressFromDock, "suppressEula": &next.SuppressEula,
		"suppressRegistration": &next.SuppressRegistration}
	for _, k := range sortedKeys(bools) {
		raw, present := raw[k]
		if !present {
			*bools[k] = false // only `uninstall` may be absent
			continue
		}
		b, ok := lenientBool(raw)
		if !ok {
			return "INVALID_FIELD", k + " must be a boolean", k
		}
		*bools[k] = b
	}
	// A PUT replaces the object: a field it leaves out is cleared, the
	// hash fields included ("confirmed PUT is full-replace; we GET the
	// canonical record first", terraform-provider-jamfplatform crud.go).
	strs := map[string]*string{"info": &next.Info, "notes": &next.Notes, "osRequirements": &next.OSRequirements,
		"hashValue": &next.HashValue, "hashType": &next.HashType, "md5": &next.MD5, "sha256": &next.SHA256, "sha3512": &next.SHA3512}
	for _, k := range sortedKeys(strs) {
		raw, present := raw[k]
		if !present {
			*strs[k] = ""
			continue
		}
		v, ok := lenientString(raw)
		if !ok {
			return "INVALID_FIELD", k + " must be a string", k
		}
		*strs[k] = v
	}
	if !s.validHashType(next.HashType) {
		return "INVALID_FIELD", "Invalid hashType " + next.HashType, "hashType"
	}
	*p = next
	return "", "", ""
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
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

// v1Object answers for a v1 package write what comes before the object:
// the version gate, the privilege, and a body that is a JSON object. It
// returns the object's fields, or false when it has answered.
func (s *Server) v1Object(w http.ResponseWriter, r *http.Request, priv string) (map[string]json.RawMessage, bool) {
	if !s.v1Gate(w, r) {
		return nil, false
	}
	if _, ok := s.authorize(w, r, false, priv); !ok {
		return nil, false
	}
	raw, err := readRawObject(r)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "Malformed JSON: "+err.Error(), "")
		return nil, false
	}
	return raw, true
}

// POST /api/v1/packages → 201 {"id","href"}
func (s *Server) v1CreatePackage(w http.ResponseWriter, r *http.Request) {
	raw, ok := s.v1Object(w, r, PrivCreatePackages)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &Package{RequiredProcessor: "None"}
	if code, desc, field := s.applyV1Locked(p, raw); code != "" {
		writeAPIError(w, http.StatusBadRequest, code, desc, field)
		return
	}
	if s.packageByNameLocked(p.Name) != nil {
		writeAPIError(w, http.StatusBadRequest, "DUPLICATE_FIELD", "packageName must be unique", "packageName")
		return
	}
	p.Writes = append(p.Writes, "v1-create")
	s.newPackageLocked(nodeOf(r), p)
	writeJSON(w, http.StatusCreated, map[string]string{"id": p.ID, "href": s.href(r, "/api/v1/packages/"+p.ID)})
}

// PUT /api/v1/packages/{id}: full object → 200 with the object.
func (s *Server) v1UpdatePackage(w http.ResponseWriter, r *http.Request) {
	raw, ok := s.v1Object(w, r, PrivUpdatePackages)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	node := nodeOf(r)
	p := s.writeTargetLocked(s.viewPkgLocked(node, atoi(r.PathValue("id"))))
	if p == nil {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Package not found", "id")
		return
	}
	next := *p
	if code, desc, field := s.applyV1Locked(&next, raw); code != "" {
		writeAPIError(w, http.StatusBadRequest, code, desc, field)
		return
	}
	if other := s.packageByNameLocked(next.Name); other != nil && other.ID != p.ID {
		writeAPIError(w, http.StatusBadRequest, "DUPLICATE_FIELD", "packageName must be unique", "packageName")
		return
	}
	next.Writes = append(next.Writes, "v1-update")
	s.metadataWriteLocked(&next)
	s.commitPkgLocked(nodeOf(r), &next)
	writeJSON(w, http.StatusOK, s.v1ViewLocked(nodeOf(r), &next))
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
	node := nodeOf(r)
	p := s.writeTargetLocked(s.viewPkgLocked(node, atoi(r.PathValue("id"))))
	if p == nil {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Package not found", "id")
		return
	}
	s.deletePackageLocked(r, p)
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
		if field == "" || (field == "name" && strings.EqualFold(c.Name, value)) || (field == "id" && c.ID == value) {
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
