package jamfsim

import (
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// s3ProxyHandler fronts the S3 backend. Clients get its URL as the S3
// endpoint, so the simulator sees every upload: it logs S3 calls, applies
// S3 faults, fails parts on request, enforces credential expiry (shorter
// than MinIO's 900 s minimum when tests ask for it) and, for the in-process
// backend that checks no signatures, the key, session token and scope of
// the credentials it handed out.
func (s *Server) s3ProxyHandler() http.Handler {
	target, _ := url.Parse(s.backendURL)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = target.Scheme
			pr.Out.URL.Host = target.Host
			// The client signed its own Host; MinIO checks the signature.
			pr.Out.Host = pr.In.Host
		},
		Transport: s.inMemory(&http.Transport{Proxy: nil, MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second, DisableCompression: true}),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.Warn().Err(err).Str("path", r.URL.Path).Msg("S3 backend")
			writeS3Error(w, http.StatusBadGateway, "InternalError", "backend unavailable")
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		call := Call{Method: r.Method, Path: r.URL.EscapedPath(), Query: publicQuery(r.URL.Query())}
		defer func() {
			call.Status = rec.status
			s.mu.Lock()
			s.s3calls = append(s.s3calls, call)
			s.mu.Unlock()
			s.log.Debug().Str("method", call.Method).Str("path", call.Path).Str("query", call.Query).Int("status", call.Status).Msg("s3 call")
		}()
		serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			isPart := r.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId")
			if isPart && s.takePartFailure() {
				drain(r.Body)
				writeS3Error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
				return
			}
			if status, code, msg := s.checkS3Auth(r); status != 0 {
				// Read (a bounded amount of) the body first so the client gets
				// the S3 error rather than a reset while still sending.
				_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 256<<20))
				writeS3Error(w, status, code, msg)
				return
			}
			if s.inProcess && isAWSChunked(r) {
				if err := decodeAWSChunked(r); err != nil {
					drain(io.LimitReader(r.Body, 256<<20))
					writeS3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
					return
				}
			}
			rp.ServeHTTP(w, r)
			if isS3Commit(r) && statusOf(w) == http.StatusOK && strings.Contains(r.URL.Path, "/"+tmpPrefix) {
				s.uploadCommitted(strings.TrimPrefix(r.URL.Path, "/"+s.bucket+"/"))
			}
		})
		if s.applyFault(rec, r, true, serve) {
			return
		}
		serve(rec, r)
	})
}

// publicQuery keeps the query for the call log without signatures or
// credentials (pre-signed URLs carry them).
func publicQuery(q url.Values) string {
	for k := range q {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-") {
			q.Del(k)
		}
	}
	return q.Encode()
}

func (s *Server) takePartFailure() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failParts > 0 {
		s.failParts--
		return true
	}
	return false
}

// credentialOf returns the access key id and session token of a request,
// from the Authorization header or a pre-signed query.
func credentialOf(r *http.Request) (akid, token string) {
	h := r.Header.Get("Authorization")
	if i := strings.Index(h, "Credential="); i >= 0 {
		akid, _, _ = strings.Cut(h[i+len("Credential="):], "/")
		return akid, r.Header.Get("X-Amz-Security-Token")
	}
	q := r.URL.Query()
	if c := q.Get("X-Amz-Credential"); c != "" {
		akid, _, _ = strings.Cut(c, "/")
		return akid, q.Get("X-Amz-Security-Token")
	}
	return "", ""
}

// checkS3Auth returns an S3 error for requests the credentials do not allow.
func (s *Server) checkS3Auth(r *http.Request) (status int, code, msg string) {
	akid, tok := credentialOf(r)
	s.mu.Lock()
	ic := s.creds[akid]
	var c issuedCreds
	if ic != nil {
		c = *ic
	}
	s.mu.Unlock()
	if ic != nil && !time.Now().Before(c.expires) {
		return http.StatusBadRequest, "ExpiredToken", "The provided token has expired."
	}
	if !s.inProcess {
		return 0, "", "" // MinIO verifies signatures and the session policy itself
	}
	switch {
	case akid == "":
		return http.StatusForbidden, "AccessDenied", "Access Denied"
	case akid == s.rootKey:
		return 0, "", ""
	case ic == nil:
		return http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
	case tok != c.SessionToken:
		return http.StatusForbidden, "InvalidToken", "The provided token is malformed or otherwise invalid."
	}
	// Session policy: s3:PutObject, AbortMultipartUpload and
	// ListMultipartUploadParts on BUCKET/tmp/UUID/* only.
	prefix := "/" + s.bucket + "/" + tmpPrefix + c.uuid + "/"
	q := r.URL.Query()
	allowedOp := r.Method == http.MethodPut ||
		(r.Method == http.MethodPost && (q.Has("uploads") || q.Has("uploadId"))) ||
		(r.Method == http.MethodDelete && q.Has("uploadId")) ||
		(r.Method == http.MethodGet && q.Has("uploadId"))
	if r.Header.Get("X-Amz-Copy-Source") != "" {
		allowedOp = false
	}
	if !allowedOp || !strings.HasPrefix(r.URL.Path, prefix) || len(r.URL.Path) == len(prefix) {
		return http.StatusForbidden, "AccessDenied", "Access Denied"
	}
	return 0, "", ""
}

// statusOf is the status a handler wrote to w (0 when unknown).
func statusOf(w http.ResponseWriter) int {
	switch w := w.(type) {
	case *statusRecorder:
		return w.status
	case *heldWriter:
		return w.status
	}
	return 0
}
