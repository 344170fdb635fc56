package jamfsim

import (
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// jcdsGate answers for an instance without the JCDS endpoints. Removed
// (Options.JCDSRemoved): every /api/v1/jcds/* path is an unknown endpoint.
// Without a cloud distribution point (Options.NoJCDS): before 11.25.2 the
// JCDS file endpoints answered 500, on 11.26.1 404 "JCDS Settings record
// not found" with "id": null (jamf/JamfSync#80, #85); 11.25.2 itself is the
// simulator's choice for the switch.
func (s *Server) jcdsGate(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.JCDSRemoved {
		s.notFoundAPI(w, r)
		return false
	}
	if s.opts.NoJCDS {
		if s.version.noJCDSIs404() {
			writeAPIErrorRow(w, http.StatusNotFound, apiErrorRow{Code: "NOT_FOUND", Description: "JCDS Settings record not found"})
		} else {
			writeAPIError(w, http.StatusInternalServerError, "INTERNAL_ERROR", "Unable to process the request", "")
		}
		return false
	}
	return true
}

// GET /api/v1/jcds/files
func (s *Server) jcdsList(w http.ResponseWriter, r *http.Request) {
	if !s.jcdsGate(w, r) {
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
	if !s.jcdsGate(w, r) {
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
	// 201: the schema's only answer (11.23.2–11.30.1).
	writeJSON(w, http.StatusCreated, s.credsReply(ic))
}

// POST /api/v1/jcds/renew-credentials: fresh credentials for the account's
// current upload session (a new session when it has none).
func (s *Server) jcdsRenew(w http.ResponseWriter, r *http.Request) {
	if !s.jcdsGate(w, r) {
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

// jcdsFileNamed answers for a request on /api/v1/jcds/files/{name} what
// comes before the action: the JCDS gate, the privilege for action, and a
// 404 for a file that is not there. It returns the name, or false when it
// has answered.
func (s *Server) jcdsFileNamed(w http.ResponseWriter, r *http.Request, action string) (string, bool) {
	if !s.jcdsGate(w, r) {
		return "", false
	}
	if _, ok := s.authorize(w, r, false, s.jcdsPriv(action)); !ok {
		return "", false
	}
	name := r.PathValue("name")
	if _, ok := s.File(name); !ok {
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "File not found", "fileName")
		return "", false
	}
	return name, true
}

// GET /api/v1/jcds/files/{name} → {"uri": pre-signed download URL}
func (s *Server) jcdsGet(w http.ResponseWriter, r *http.Request) {
	name, ok := s.jcdsFileNamed(w, r, "Read")
	if !ok {
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
	name, ok := s.jcdsFileNamed(w, r, "Delete")
	if !ok {
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

// GET /api/v1/jcds/properties: removed in 11.19 (absent from the 11.23.2+
// schemas; go-api-sdk-jamfpro "Remove removed endpoint /v1/jcds/properties
// (11.19)").
func (s *Server) jcdsProperties(w http.ResponseWriter, r *http.Request) {
	if !s.version.hasJCDSProperties() {
		s.notFoundAPI(w, r)
		return
	}
	if !s.jcdsGate(w, r) {
		return
	}
	if _, ok := s.authorize(w, r, false, s.jcdsPriv("Read")); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"jcds2Enabled": true, "fileStreamEndpointEnabled": true, "maxChunkSize": 1 << 30})
}
