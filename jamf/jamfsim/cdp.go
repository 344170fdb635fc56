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
// into the serving node's inventory view, and then writes it into the
// package records: size, hashType SHA3_512, hashValue, md5, sha256 and
// sha3512. The refresh is what moves processing on ("This will update the
// status of uploads in the Jamf Pro database", the schema's text; jamf-cli
// verifyPackageUpload, terraform-provider-jamfplatform
// PollPackageVerification and terraform-provider-jamfpro helpers.go refresh
// on every poll tick): an upload
// the service has finished shows only now. A record whose upload is still
// being processed is left alone, except for the flip (see refreshRecord).
// A package whose file is not there gets size "0" ("the file never
// landed", jamfplatform PR #273). A full refresh runs at most once every
// 15 s (the schema's words: "force an immediate inventory refresh at a
// rate-limit of once every 15 seconds"); what the server answers to one
// that comes sooner is not public: the simulator's choice is 204 without
// refreshing, the least helpful reading.
func (s *Server) doRefresh(w http.ResponseWriter, r *http.Request, only string) {
	node := nodeOf(r)
	s.mu.Lock()
	s.counts.Refreshes++
	skip := only == "" && !s.lastFullRefresh.IsZero() && time.Since(s.lastFullRefresh) < s.opts.FullRefreshInterval
	if only == "" && !skip {
		s.lastFullRefresh = time.Now()
	}
	took := s.opts.FirstRefreshTime
	if only != "" && s.refreshed[nodeFile{node, only}] {
		took = s.opts.LaterRefreshTime
	}
	s.mu.Unlock()
	if skip {
		s.log.Info().Msg("full inventory refresh rate-limited (once every 15 s); nothing refreshed")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// The server answers when its refresh is done: about 4 s for a file's
	// first, 200 ms later (terraform-provider-jamfplatform helpers.go).
	if !s.wait(r.Context(), took) {
		return
	}
	busy, err := s.refreshInventory(r.Context(), only)
	if err != nil {
		s.log.Error().Err(err).Msg("refresh inventory")
		writeAPIError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Unable to refresh inventory", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The node's view keeps what it had for files still being processed.
	was := s.inventoryLocked(node)
	inv := map[string]File{}
	for name, f := range was {
		if (only != "" && name != only) || s.processingLocked(name, busy) {
			inv[name] = f
		}
	}
	for name, f := range s.files {
		if (only == "" || name == only) && f.SHA3 != "" && !s.processingLocked(name, busy) {
			inv[name] = *f
		}
	}
	s.recordInventoryLocked(node, inv)
	for k := range s.failMarks {
		if k.node == node && (only == "" || k.name == only) {
			delete(s.failMarks, k)
		}
	}
	for _, db := range s.packagesLocked() {
		if only != "" && db.FileName != only {
			continue
		}
		s.refreshed[nodeFile{node, db.FileName}] = true
		// A node writes into its own copy; one that has not seen the
		// object yet has nothing to refresh (choice).
		p := s.viewPkgLocked(node, atoi(db.ID))
		if p == nil {
			continue
		}
		next := *p
		s.refreshRecordLocked(node, &next, s.processingLocked(p.FileName, busy))
		if !samePackage(&next, p) {
			next.Writes = append(append([]string(nil), p.Writes...), "refresh")
			s.refreshPkgLocked(node, &next)
		}
	}
	if only != "" {
		s.refreshed[nodeFile{node, only}] = true
	}
	s.forgetReportedLocked()
	w.WriteHeader(http.StatusNoContent)
}

// refreshRecordLocked is what a refresh on node writes into one record.
// While the service still processes an upload of its file (busy, or a v1
// upload not finished), the record keeps its old values; the first refresh
// on a node in that window of a v1 upload that replaces a file shows the
// new hashes with the old size, the next reverts them ("can briefly show
// the new hash with the old size, then revert":
// terraform-provider-jamfplatform helpers.go; Options.NoRefreshFlip turns
// it off). An upload that finished is reported once on each node: ERROR
// when processing failed (simulator's choice: the schema lists ERROR, no
// source shows when), the new file when it landed, and when it never did
// size "0" with a hash that moved away from the one before
// (terraform-provider-jamfplatform classifyPollTick: a failed upload is
// the hash changing away from the previous one with size "0" in the same
// tick; which hash is the simulator's choice: one of its own for each
// lost upload, so that a second loss moves away from the first one's too,
// as the provider's retry loop, which takes the hash a loss showed as the
// previous one, needs to see it).
func (s *Server) refreshRecordLocked(node int, next *Package, busy bool) {
	u := s.uploads[next.FileName]
	if u != nil && u.done && u.reported[node] {
		u = nil // reported on this node already
	}
	old := s.files[next.FileName]
	if busy {
		if u == nil || u.done || s.opts.NoRefreshFlip || old == nil || old.SHA3 == u.f.SHA3 {
			return
		}
		switch u.flips[node] {
		case 0:
			setHashes(next, u.f)
		case 1:
			setHashes(next, *old)
		}
		u.flips[node]++
		return
	}
	if u != nil {
		u.reported[node] = true
		switch u.outcome {
		case outcomeFailed:
			next.TransferStatus = "ERROR"
			return
		case outcomeLost:
			next.TransferStatus = ""
			next.Size = "0"
			setHashes(next, u.lostAs)
			return
		}
	}
	if old == nil || old.SHA3 == "" {
		next.Size = "0"
		return
	}
	// "If available, the inventory and status will be updated" (the
	// schema's file-name description): a failed upload whose file is
	// there after all becomes READY.
	next.TransferStatus = ""
	next.Size = strconv.FormatInt(old.Size, 10)
	setHashes(next, *old)
}

// forgetReportedLocked drops finished uploads every node has reported.
func (s *Server) forgetReportedLocked() {
	for name, u := range s.uploads {
		if u.done && len(u.reported) >= s.opts.ClusterNodes {
			delete(s.uploads, name)
		}
	}
}

// lostFile carries the hashes a refresh shows for the n-th upload that
// never landed: those of a marker naming it (simulator's choice), so each
// loss shows a hash of its own.
func lostFile(n int) File {
	b := []byte("jamfsim: lost upload " + strconv.Itoa(n))
	m, h2 := md5.Sum(b), sha256.Sum256(b)
	h3 := sha3.Sum512(b)
	return File{MD5: hex.EncodeToString(m[:]), SHA256: hex.EncodeToString(h2[:]), SHA3: hex.EncodeToString(h3[:])}
}

// processingLocked reports whether the service is still processing an
// upload of name: a JCDS upload still under tmp/ (busy) or a v1 upload.
func (s *Server) processingLocked(name string, busy map[string]bool) bool {
	u := s.uploads[name]
	return busy[name] || (u != nil && !u.done)
}

func setHashes(p *Package, f File) {
	p.HashType, p.HashValue = "SHA3_512", f.SHA3
	p.MD5, p.SHA256, p.SHA3512 = f.MD5, f.SHA256, f.SHA3
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

// GET /api/v1/cloud-distribution-point/files (11.23.2+ schema): the serving
// node's inventory (as its last refresh, or another node's after the lag,
// left it) with each file's status: READY, or ERROR where a refresh
// reported a failed upload; PENDING is in the schema's enum only (jamf-cli
// and terraform-provider-jamfplatform poll for READY; none shows PENDING).
// Filter on fileName (RSQL ==, without case).
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
	s.mu.Lock()
	status := s.nodeFileStatusLocked(nodeOf(r))
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

// POST /api/v1/cloud-distribution-point/fail-upload/{id}?file-name=&type=
// (11.25.2+ schemas): "Marks a specific file upload as failed for the
// currently configured cloud distribution point"; 204, or 404 ApiError
// when "the specified inventory file could not be found"; needs Update
// Cloud Distribution Point. id is the inventory file's id as GET
// cloud-distribution-point/files lists it on the serving node, file-name
// and type (PACKAGE, EBOOK, MOBILE_DEVICE_APP) are required. No source
// says what it does to the file or the package record: the simulator
// shows the file as ERROR in that node's /files list until that node's
// next refresh of it, and leaves the record alone (choice). No known
// tool calls it.
func (s *Server) cdpFailUpload(w http.ResponseWriter, r *http.Request) {
	if !s.version.hasFailUpload() {
		s.notFoundAPI(w, r)
		return
	}
	if _, ok := s.authorize(w, r, false, PrivUpdateCDP); !ok {
		return
	}
	if s.opts.NoJCDS {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Cloud distribution point not found or is null", "")
		return
	}
	q := r.URL.Query()
	name, typ := q.Get("file-name"), q.Get("type")
	switch {
	case name == "" || len(name) > 255:
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "file-name is required (at most 255 characters)", "file-name")
		return
	case typ != "PACKAGE" && typ != "EBOOK" && typ != "MOBILE_DEVICE_APP":
		writeAPIError(w, http.StatusBadRequest, "INVALID_FIELD", "type must be PACKAGE, EBOOK or MOBILE_DEVICE_APP", "type")
		return
	}
	node := nodeOf(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	names := sortedKeys(s.nodeFileStatusLocked(node))
	i := atoi(r.PathValue("id")) - 1
	if typ != "PACKAGE" || i < 0 || i >= len(names) || names[i] != name {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Inventory file not found", "id")
		return
	}
	s.failMarks[nodeFile{node, name}] = true
	w.WriteHeader(http.StatusNoContent)
}

// nodeFileStatusLocked is the status of each file in node's inventory as
// GET cloud-distribution-point/files lists it.
func (s *Server) nodeFileStatusLocked(node int) map[string]string {
	status := map[string]string{}
	for name := range s.inventoryLocked(node) {
		status[name] = "READY"
	}
	for _, p := range s.viewPackagesLocked(node) {
		if p.TransferStatus == "ERROR" {
			status[p.FileName] = p.TransferStatus
		}
	}
	for k := range s.failMarks {
		if k.node == node {
			status[k.name] = "ERROR"
		}
	}
	return status
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
	// A "never-lands" fault marks this request; it applies to this request
	// only, whatever the answer.
	lost, corrupt := s.lost[r.URL.Path], s.corrupt[r.URL.Path]
	delete(s.lost, r.URL.Path)
	delete(s.corrupt, r.URL.Path)
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
		var body io.Reader = part
		if corrupt {
			body = &corruptReader{r: part} // a "corrupt" fault: other bytes, same length
		}
		f, err := s.stageFile(ctx, key, want, body)
		cancel()
		if err != nil {
			s.log.Error().Err(err).Msg("store package upload")
			writeAPIError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Unable to store file", "file")
			return
		}
		// The record keeps its old hashes, size and status until a refresh
		// after the processing (jamf-cli and terraform-provider-jamfplatform
		// keep a previousHash and poll until it changes).
		s.mu.Lock()
		u := &pkgUpload{f: f, lost: lost, reported: map[int]bool{}, flips: map[int]int{}}
		if lost {
			s.losses++
			u.lostAs = lostFile(s.losses)
		}
		s.uploads[want] = u
		s.newUploadLocked(want)
		if p := s.packages[atoi(id)]; p != nil {
			next := *p
			next.Writes = append(append([]string(nil), p.Writes...), "v1-upload")
			s.commitPkgLocked(node, &next)
		}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.processUpload(u, key)
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

// pkgUpload is an upload the service has taken (v1 {id}/upload), from its 201
// until a refresh reports how it ended.
type pkgUpload struct {
	f        File
	lost     bool // a "never-lands" fault: 201, then no file (jamfplatform PR #273)
	lostAs   File // ... and the hashes a refresh then shows (lostFile)
	done     bool
	outcome  string
	flips    map[int]int  // by node: refreshes that came while it was processed
	reported map[int]bool // nodes whose refresh has reported how it ended
}

const (
	outcomeLanded = "landed"
	outcomeFailed = "failed"
	outcomeLost   = "lost"
)

// processUpload is the server's asynchronous processing of a v1 upload:
// after the processing time (Options.ProcessingTime, by default
// DefaultProcessingTime: grows with the size; plus the copy) the
// file replaces any file of that name in the distribution point (no _1:
// the object owns its file name; grahampugh/jamf-upload#172 shows uploads
// to an object whose file exists succeeding on real servers; whether the
// old file stays installable meanwhile is documented nowhere, keeping it
// listed is the simulator's choice). The record does not change: a
// refresh after this reports the outcome (refreshRecordLocked). A fault
// (FailProcessing) leaves the old file in place; a "never-lands" fault
// drops the old file and lands nothing, so the refresh shows size "0"
// (jamfplatform PR #273).
func (s *Server) processUpload(u *pkgUpload, key string) {
	defer s.wg.Done()
	if !s.wait(context.Background(), s.processingTime(u.f.Size)) {
		return
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
	f := u.f
	s.mu.Lock()
	fail := s.failProcessing > 0
	if fail {
		s.failProcessing--
	}
	s.mu.Unlock()
	var err error
	switch {
	case fail:
		err = errors.New("injected processing failure")
	case u.lost:
		if _, ok := s.File(f.Name); ok {
			err = s.deleteKey(ctx, f.Name)
		}
	default:
		err = s.copyKey(ctx, key, f.Name, f.Size)
	}
	if derr := s.deleteKey(ctx, key); derr != nil && err == nil {
		s.log.Warn().Err(derr).Msg("drop staged upload")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u.done = true
	switch {
	case err != nil:
		if ctx.Err() == nil {
			s.log.Warn().Err(err).Str("file", f.Name).Msg("package upload processing failed")
		}
		u.outcome = outcomeFailed
	case u.lost:
		delete(s.files, f.Name)
		u.outcome = outcomeLost
		s.log.Info().Str("file", f.Name).Msg("package upload never landed (fault)")
	default:
		ff := f
		s.files[f.Name] = &ff
		delete(s.stale, f.Name)
		u.outcome = outcomeLanded
		s.log.Info().Str("file", f.Name).Int64("size", f.Size).Msg("package upload processed")
	}
}

// FailProcessing makes the next n package upload processings fail: the
// file never lands, and the next refresh shows cloudTransferStatus ERROR.
func (s *Server) FailProcessing(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failProcessing = n
}

// corruptReader flips the bits of the first byte it passes on: the bytes
// stored differ from the bytes sent, with the same length.
type corruptReader struct {
	r    io.Reader
	done bool
}

func (c *corruptReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 && !c.done {
		p[0] ^= 0xff
		c.done = true
	}
	return n, err
}
