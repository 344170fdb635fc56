package jamfsim

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// jcdsGate answers 404 on an instance without JCDS 2.0.
func (s *Server) jcdsGate(w http.ResponseWriter) bool {
	if s.opts.NoJCDS {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "JCDS Settings record not found", "")
		return false
	}
	return true
}

// GET /api/v1/jcds/files
func (s *Server) jcdsList(w http.ResponseWriter, r *http.Request) {
	if !s.jcdsGate(w) {
		return
	}
	if _, ok := s.authorize(w, r, false, s.jcdsPriv("Read")); !ok {
		return
	}
	s.syncUploads(r.Context(), s.opts.ListWait)
	s.mu.Lock()
	files := s.fileListLocked()
	for i, f := range files {
		if s.stale[f.Name] > 0 {
			s.stale[f.Name]--
			files[i].Size = s.deletedSize[f.Name]
		}
		if s.opts.ListWithoutMD5 {
			files[i].MD5 = ""
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, files)
}

type credsReply struct {
	AccessKeyID     string `json:"accessKeyID"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken"`
	Region          string `json:"region"`
	Expiration      int64  `json:"expiration"`
	BucketName      string `json:"bucketName"`
	Path            string `json:"path"`
	UUID            string `json:"uuid"`
}

func (s *Server) credsReply(ic *issuedCreds) credsReply {
	return credsReply{
		AccessKeyID: ic.AccessKeyID, SecretAccessKey: ic.SecretAccessKey, SessionToken: ic.SessionToken,
		Region: Region, Expiration: ic.expires.Unix(), BucketName: s.bucket,
		Path: tmpPrefix + ic.uuid + "/", UUID: ic.uuid,
	}
}

// POST /api/v1/jcds/files: a new upload session with temporary credentials.
func (s *Server) jcdsInitiate(w http.ResponseWriter, r *http.Request) {
	if !s.jcdsGate(w) {
		return
	}
	t, ok := s.authorize(w, r, false, s.jcdsPriv("Create"))
	if !ok {
		return
	}
	s.mu.Lock()
	s.counts.Initiates++
	s.mu.Unlock()
	uuid := newUUID()
	ic, err := s.mintCredentials(r.Context(), uuid)
	if err != nil {
		s.log.Error().Err(err).Msg("mint upload credentials")
		writeAPIError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Unable to create upload credentials", "")
		return
	}
	sess := &uploadSession{uuid: uuid, creds: ic}
	s.mu.Lock()
	s.sessions[uuid] = sess
	s.lastSession[t.acct] = sess
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.credsReply(ic))
}

// POST /api/v1/jcds/renew-credentials: fresh credentials for the account's
// current upload session (a new session when it has none).
func (s *Server) jcdsRenew(w http.ResponseWriter, r *http.Request) {
	if !s.jcdsGate(w) {
		return
	}
	t, ok := s.authorize(w, r, false, s.jcdsPriv("Create"))
	if !ok {
		return
	}
	s.mu.Lock()
	s.counts.Renewals++
	sess := s.lastSession[t.acct]
	s.mu.Unlock()
	uuid := newUUID()
	if sess != nil {
		uuid = sess.uuid
	}
	ic, err := s.mintCredentials(r.Context(), uuid)
	if err != nil {
		s.log.Error().Err(err).Msg("renew upload credentials")
		writeAPIError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Unable to renew upload credentials", "")
		return
	}
	s.mu.Lock()
	if sess == nil {
		sess = &uploadSession{uuid: uuid}
		s.sessions[uuid] = sess
		s.lastSession[t.acct] = sess
	}
	sess.creds = ic
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.credsReply(ic))
}

// GET /api/v1/jcds/files/{name} → {"uri": pre-signed download URL}
func (s *Server) jcdsGet(w http.ResponseWriter, r *http.Request) {
	if !s.jcdsGate(w) {
		return
	}
	if _, ok := s.authorize(w, r, false, s.jcdsPriv("Read")); !ok {
		return
	}
	name := r.PathValue("name")
	if _, ok := s.File(name); !ok {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "File not found", "fileName")
		return
	}
	presign := s3.NewPresignClient(s3.New(s3.Options{
		Region: Region, BaseEndpoint: aws.String(s.proxyURL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s.rootKey, s.rootSecret, ""),
	}))
	req, err := presign.PresignGetObject(r.Context(), &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(name)},
		s3.WithPresignExpires(time.Hour))
	if err != nil {
		writeAPIError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Unable to sign download URL", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"uri": req.URL})
}

// DELETE /api/v1/jcds/files/{name} → 204
func (s *Server) jcdsDelete(w http.ResponseWriter, r *http.Request) {
	if !s.jcdsGate(w) {
		return
	}
	if _, ok := s.authorize(w, r, false, s.jcdsPriv("Delete")); !ok {
		return
	}
	name := r.PathValue("name")
	if _, ok := s.File(name); !ok {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "File not found", "fileName")
		return
	}
	if err := s.deleteKey(r.Context(), name); err != nil {
		s.log.Error().Err(err).Msg("delete JCDS file")
		writeAPIError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Unable to delete file", "")
		return
	}
	s.mu.Lock()
	if f := s.files[name]; f != nil {
		s.deletedSize[name] = f.Size
	}
	delete(s.files, name)
	delete(s.stale, name)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// GET /api/v1/jcds/properties
func (s *Server) jcdsProperties(w http.ResponseWriter, r *http.Request) {
	if !s.jcdsGate(w) {
		return
	}
	if _, ok := s.authorize(w, r, false, s.jcdsPriv("Read")); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"jcds2Enabled": true, "fileStreamEndpointEnabled": true, "maxChunkSize": 1 << 30})
}

// POST /api/v1/jcds/refresh-inventory (11.10+) → 204
func (s *Server) jcdsRefresh(w http.ResponseWriter, r *http.Request) {
	if !s.version.hasJCDSRefresh() {
		s.notFoundAPI(w, r)
		return
	}
	if !s.jcdsGate(w) {
		return
	}
	if _, ok := s.authorize(w, r, false, s.jcdsPriv("Read")); !ok {
		return
	}
	s.doRefresh(w, r, "")
}

// POST /api/v1/cloud-distribution-point/refresh-inventory[?file-name=] → 204
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

func (s *Server) doRefresh(w http.ResponseWriter, r *http.Request, only string) {
	s.mu.Lock()
	s.counts.Refreshes++
	s.mu.Unlock()
	if err := s.refreshInventory(r.Context(), only); err != nil {
		s.log.Error().Err(err).Msg("refresh inventory")
		writeAPIError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Unable to refresh inventory", "")
		return
	}
	s.mu.Lock()
	for _, p := range s.packages {
		if f := s.files[p.FileName]; f != nil && (only == "" || only == p.FileName) {
			p.Size = strconv.FormatInt(f.Size, 10)
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// POST /api/v1/packages/{id}/upload: multipart form, field "file", whose
// file name must equal the object's fileName; the bytes become that JCDS file.
func (s *Server) v1UploadPackage(w http.ResponseWriter, r *http.Request) {
	if !s.v1Gate(w, r) {
		return
	}
	if _, ok := s.authorize(w, r, false, PrivUpdatePackages); !ok {
		return
	}
	s.mu.Lock()
	p := s.packages[atoi(r.PathValue("id"))]
	var want, id string
	if p != nil {
		want, id = p.FileName, p.ID
	}
	s.mu.Unlock()
	if p == nil {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Package not found", "id")
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
		ctx, cancel := context.WithCancel(r.Context())
		f, err := s.storeFile(ctx, want, part)
		cancel()
		if err != nil {
			s.log.Error().Err(err).Msg("store package upload")
			writeAPIError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Unable to store file", "file")
			return
		}
		s.mu.Lock()
		if p := s.packages[atoi(id)]; p != nil {
			p.Size = strconv.FormatInt(f.Size, 10)
			p.Writes = append(p.Writes, "v1-upload")
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusCreated, map[string]string{"id": id, "href": s.href(r, "/api/v1/packages/"+id)})
		return
	}
}
