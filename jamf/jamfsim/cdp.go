package jamfsim

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// stagingPrefix holds v1 {id}/upload bytes until they are processed into
// the distribution point; refresh and the JCDS move skip it.
const stagingPrefix = "jamfsim-staging/"

// POST /api/v1/jcds/refresh-inventory: from 11.11 (Jamf's changelog;
// jamf-upload says 11.10), ?file-name= from 11.14 (ignored before: a full
// refresh). 204.
func (s *Server) jcdsRefresh(w http.ResponseWriter, r *http.Request) {
	if !s.version.hasJCDSRefresh() {
		s.notFoundAPI(w, r)
		return
	}
	if !s.jcdsGate(w, r) {
		return
	}
	if _, ok := s.authorize(w, r, false, s.jcdsPriv("Read")); !ok {
		return
	}
	name := ""
	if s.version.jcdsRefreshByName() {
		name = r.URL.Query().Get("file-name")
	}
	s.doRefresh(w, r, name)
}

// POST /api/v1/cloud-distribution-point/refresh-inventory[?file-name=]:
// from 11.24 (Jamf changelog "11.24.0 Additions"; absent from the 11.23.2
// schema). 204.
func (s *Server) cdpRefresh(w http.ResponseWriter, r *http.Request) {
	if !s.version.atLeastV(s.cdpVer) {
		s.notFoundAPI(w, r)
		return
	}
	if s.opts.NoJCDS {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Cloud distribution point not found or is null", "")
		return
	}
	if _, ok := s.authorize(w, r, false, PrivReadCDP); !ok {
		return
	}
	name := r.URL.Query().Get("file-name")
	if len(name) > 255 {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "file-name must be at most 255 characters", "file-name")
		return
	}
	s.doRefresh(w, r, name)
}

// doRefresh re-reads the distribution point (all of it, or one file name)
// and then writes the inventory into the package records: size, hashType
// SHA3_512, hashValue, md5, sha256 and sha3512. A package whose file is not
// there gets size "0" (an upload "that never actually landed the binary
// ... size "0"", terraform-provider-jamfplatform PR #273). A full
// refresh runs at most once every 15 s (the schema's words: "force an
// immediate inventory refresh at a rate-limit of once every 15 seconds");
// what the server answers to one that comes sooner is not public: the
// simulator's choice is 204 without refreshing, the least helpful reading.
func (s *Server) doRefresh(w http.ResponseWriter, r *http.Request, only string) {
	s.mu.Lock()
	s.counts.Refreshes++
	skip := only == "" && !s.lastFullRefresh.IsZero() && time.Since(s.lastFullRefresh) < s.opts.FullRefreshInterval
	if only == "" && !skip {
		s.lastFullRefresh = time.Now()
	}
	s.mu.Unlock()
	if skip {
		s.log.Info().Msg("full inventory refresh rate-limited (once every 15 s); nothing refreshed")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := s.refreshInventory(r.Context(), only); err != nil {
		s.log.Error().Err(err).Msg("refresh inventory")
		writeAPIError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Unable to refresh inventory", "")
		return
	}
	s.mu.Lock()
	for _, p := range s.packagesLocked() {
		if only != "" && p.FileName != only {
			continue
		}
		next := *p
		if f := s.files[p.FileName]; f != nil {
			// "If available, the inventory and status will be updated"
			// (the schema's file-name description): a failed upload whose
			// file is there after all becomes READY.
			if next.TransferStatus == "ERROR" {
				next.TransferStatus = ""
			}
			next.Size = strconv.FormatInt(f.Size, 10)
			next.HashType, next.HashValue = "SHA3_512", f.SHA3
			next.MD5, next.SHA256, next.SHA3512 = f.MD5, f.SHA256, f.SHA3
		} else {
			next.Size = "0"
		}
		if !samePackage(&next, p) {
			next.Writes = append(append([]string(nil), p.Writes...), "refresh")
			s.commitPkgLocked(nodeOf(r), &next)
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func samePackage(a, b *Package) bool {
	return a.Size == b.Size && a.HashType == b.HashType && a.HashValue == b.HashValue &&
		a.MD5 == b.MD5 && a.SHA256 == b.SHA256 && a.SHA3512 == b.SHA3512 && a.TransferStatus == b.TransferStatus
}

// cdpReadable answers for a read of the cloud distribution point what comes
// before the answer: 404 before 11.23, the privilege, and 404 where the
// server has no distribution point. It reports whether the caller may go
// on.
func (s *Server) cdpReadable(w http.ResponseWriter, r *http.Request) bool {
	if !s.version.hasCDPEndpoints() {
		s.notFoundAPI(w, r)
		return false
	}
	if _, ok := s.authorize(w, r, false, PrivReadCDP); !ok {
		return false
	}
	if s.opts.NoJCDS {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Cloud distribution point not found or is null", "")
		return false
	}
	return true
}

// GET /api/v1/cloud-distribution-point (11.23.2+ schema): the configured
// distribution point, a Jamf Cloud one.
func (s *Server) cdpGet(w http.ResponseWriter, r *http.Request) {
	if !s.cdpReadable(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"hasConnectionSucceeded": true, "message": "", "inventoryId": "1", "cdnType": "JAMF_CLOUD",
		"master": true, "username": "", "requireSignedUrls": false, "expirationSeconds": 3600,
	})
}

// GET /api/v1/cloud-distribution-point/upload-capability (11.23.2+ schema;
// no privilege listed): a JCDS instance can take uploads.
func (s *Server) cdpUploadCapability(w http.ResponseWriter, r *http.Request) {
	if !s.version.hasCDPEndpoints() {
		s.notFoundAPI(w, r)
		return
	}
	if _, ok := s.authenticate(w, r, false); !ok {
		return
	}
	capable := !s.opts.NoJCDS
	writeJSON(w, http.StatusOK, map[string]bool{"directUploadCapable": capable, "principalDistributionTechnology": capable})
}

// GET /api/v1/cloud-distribution-point/files (11.23.2+ schema): the
// inventory with each file's status: files in the distribution point are
// READY, v1 uploads being processed PENDING, failed ones ERROR. Filter on
// fileName (RSQL ==, without case).
func (s *Server) cdpFiles(w http.ResponseWriter, r *http.Request) {
	if !s.cdpReadable(w, r) {
		return
	}
	field, value, err := parseFilter(r.URL.Query().Get("filter"), "fileName")
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", err.Error(), "filter")
		return
	}
	page, size := pageParams(r.URL.Query())
	s.syncUploads(r.Context(), s.opts.ListWait)
	s.mu.Lock()
	status := map[string]string{}
	for name := range s.files {
		status[name] = "READY"
	}
	for _, p := range s.packagesLocked() {
		if p.TransferStatus != "" {
			status[p.FileName] = p.TransferStatus
		}
	}
	names := sortedKeys(status)
	var results []map[string]any
	for i, name := range names {
		if field != "" && !strings.EqualFold(name, value) {
			continue
		}
		objID, cat := "-1", ""
		if p := s.packageByFileLocked(name); p != nil {
			objID = p.ID
			if c := s.categories[atoi(p.CategoryID)]; c != nil {
				cat = c.Name
			}
		}
		results = append(results, map[string]any{"id": strconv.Itoa(i + 1), "inventoryId": "1", "fileName": name,
			"fileObjectId": objID, "category": cat, "status": status[name], "type": "PACKAGE"})
	}
	s.mu.Unlock()
	out := []map[string]any{}
	for i := page * size; i < len(results) && i < (page+1)*size; i++ {
		out = append(out, results[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"totalCount": len(results), "results": out})
}

func (s *Server) packageByFileLocked(name string) *Package {
	for _, p := range s.packagesLocked() {
		if p.FileName == name {
			return p
		}
	}
	return nil
}

// POST /api/v1/packages/{id}/upload: multipart form, field "file", whose
// file name must equal the object's fileName (400 INVALID_FILE_NAME,
// grahampugh/jamf-upload#162). Needs Update and Read Packages (schema
// x-required-privileges). Answers 201 once the bytes are received; the file
// is then processed asynchronously (see processUpload).
func (s *Server) v1UploadPackage(w http.ResponseWriter, r *http.Request) {
	if !s.v1Gate(w, r) {
		return
	}
	if _, ok := s.authorize(w, r, false, PrivUpdatePackages, PrivReadPackages); !ok {
		return
	}
	node := nodeOf(r)
	s.mu.Lock()
	p := s.writeTargetLocked(s.viewPkgLocked(node, atoi(r.PathValue("id"))))
	var want, id string
	if p != nil {
		want, id = p.FileName, p.ID
	}
	s.mu.Unlock()
	if p == nil {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Package not found", "id")
		return
	}
	if s.opts.NoJCDS {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Cloud distribution point not found or is null", "")
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "Expected multipart/form-data: "+err.Error(), "file")
		return
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "Missing form field file", "file")
			return
		}
		if part.FormName() != "file" {
			drain(part)
			continue
		}
		if part.FileName() != want {
			writeAPIError(w, http.StatusBadRequest, "INVALID_FILE_NAME", "The filename does not correspond to the filename linked to the package ID", "file")
			return
		}
		if !extensionAllowed(want) {
			writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "Unsupported file extension", "file")
			return
		}
		key := stagingPrefix + newUUID() + "/" + want
		ctx, cancel := context.WithCancel(r.Context())
		f, err := s.stageFile(ctx, key, want, part)
		cancel()
		if err != nil {
			s.log.Error().Err(err).Msg("store package upload")
			writeAPIError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Unable to store file", "file")
			return
		}
		s.mu.Lock()
		if p := s.packages[atoi(id)]; p != nil {
			next := *p
			next.TransferStatus = "PENDING"
			next.HashValue, next.MD5, next.SHA256, next.SHA3512 = "", "", "", ""
			next.Writes = append(append([]string(nil), p.Writes...), "v1-upload")
			s.commitPkgLocked(node, &next)
		}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.processUpload(node, id, key, f)
		writeJSON(w, http.StatusCreated, map[string]string{"id": id, "href": s.href(r, "/api/v1/packages/"+id)})
		return
	}
}

// stageFile streams r to key, hashing on the way.
func (s *Server) stageFile(ctx context.Context, key, name string, r io.Reader) (File, error) {
	m, h3, h2 := md5.New(), sha3.New512(), sha256.New()
	cr := &countReader{r: io.TeeReader(r, io.MultiWriter(m, h3, h2))}
	if err := s.putStream(ctx, key, cr); err != nil {
		return File{}, err
	}
	return File{Name: name, Size: cr.n, MD5: hex.EncodeToString(m.Sum(nil)), SHA3: hex.EncodeToString(h3.Sum(nil)),
		SHA256: hex.EncodeToString(h2.Sum(nil)), Region: Region}, nil
}

// processUpload is the server's asynchronous processing of a v1 upload:
// after Options.ProcessingDelay (plus the copy, which scales with size) the
// file replaces any file of that name in the distribution point (no _1:
// the object owns its file name; grahampugh/jamf-upload#172 shows uploads
// to an object whose file exists succeeding on real servers; that the old
// file stays listed until then is the simulator's choice) and the record
// gets the server's hashes with status READY; its size stays until an
// inventory refresh (jamf-cli verifyPackageUpload and
// terraform-provider-jamfplatform helpers.go poll for exactly that). A fault
// (FailProcessing) ends it in ERROR with the old file left in place.
func (s *Server) processUpload(node int, id, key string, f File) {
	defer s.wg.Done()
	if d := s.opts.ProcessingDelay; d > 0 {
		select {
		case <-time.After(d):
		case <-s.stop:
			return
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	s.mu.Lock()
	fail := s.failProcessing > 0
	if fail {
		s.failProcessing--
	}
	s.mu.Unlock()
	var err error
	if fail {
		err = errors.New("injected processing failure")
	} else {
		err = s.copyKey(ctx, key, f.Name, f.Size)
	}
	if derr := s.deleteKey(ctx, key); derr != nil && err == nil {
		s.log.Warn().Err(derr).Msg("drop staged upload")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.packages[atoi(id)]
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn().Err(err).Str("file", f.Name).Msg("package upload processing failed")
		}
		if p != nil {
			next := *p
			next.TransferStatus = "ERROR"
			s.commitPkgLocked(node, &next)
		}
		return
	}
	ff := f
	s.files[f.Name] = &ff
	delete(s.stale, f.Name)
	if p != nil {
		next := *p
		next.TransferStatus = ""
		next.HashType, next.HashValue = "SHA3_512", f.SHA3
		next.MD5, next.SHA256, next.SHA3512 = f.MD5, f.SHA256, f.SHA3
		s.commitPkgLocked(node, &next)
	}
	s.log.Info().Str("file", f.Name).Int64("size", f.Size).Msg("package upload processed")
}

// FailProcessing makes the next n package upload processings fail: the
// record's cloudTransferStatus becomes ERROR and the file never lands.
func (s *Server) FailProcessing(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failProcessing = n
}
