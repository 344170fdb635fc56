package jamfsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/auth/token", s.handleToken)
	mux.HandleFunc("POST /api/oauth/token", s.handleOAuthToken)
	mux.HandleFunc("POST /api/v1/auth/keep-alive", s.handleKeepAlive)
	mux.HandleFunc("POST /api/v1/auth/invalidate-token", s.handleInvalidate)
	mux.HandleFunc("GET /api/v1/jamf-pro-version", s.handleVersion)

	mux.HandleFunc("GET /JSSResource/packages/name/{name}", s.classicGetPackage)
	mux.HandleFunc("GET /JSSResource/packages/id/{id}", s.classicGetPackage)
	mux.HandleFunc("POST /JSSResource/packages/id/{id}", s.classicCreatePackage)
	mux.HandleFunc("PUT /JSSResource/packages/id/{id}", s.classicUpdatePackage)
	mux.HandleFunc("PUT /JSSResource/packages/name/{name}", s.classicUpdatePackage)
	mux.HandleFunc("DELETE /JSSResource/packages/id/{id}", s.classicDeletePackage)
	mux.HandleFunc("GET /JSSResource/categories/name/{name}", s.classicGetCategory)

	mux.HandleFunc("GET /api/v1/packages", s.v1ListPackages)
	mux.HandleFunc("POST /api/v1/packages", s.v1CreatePackage)
	mux.HandleFunc("GET /api/v1/packages/{id}", s.v1GetPackage)
	mux.HandleFunc("PUT /api/v1/packages/{id}", s.v1UpdatePackage)
	mux.HandleFunc("DELETE /api/v1/packages/{id}", s.v1DeletePackage)
	mux.HandleFunc("POST /api/v1/packages/{id}/upload", s.v1UploadPackage)
	mux.HandleFunc("GET /api/v1/categories", s.v1ListCategories)
	mux.HandleFunc("GET /api/v1/categories/{id}", s.v1GetCategory)

	mux.HandleFunc("GET /api/v1/jcds/files", s.jcdsList)
	mux.HandleFunc("POST /api/v1/jcds/files", s.jcdsInitiate)
	mux.HandleFunc("POST /api/v1/jcds/renew-credentials", s.jcdsRenew)
	mux.HandleFunc("GET /api/v1/jcds/files/{name}", s.jcdsGet)
	mux.HandleFunc("DELETE /api/v1/jcds/files/{name}", s.jcdsDelete)
	mux.HandleFunc("GET /api/v1/jcds/properties", s.jcdsProperties)
	mux.HandleFunc("POST /api/v1/jcds/refresh-inventory", s.jcdsRefresh)
	mux.HandleFunc("POST /api/v1/cloud-distribution-point/refresh-inventory", s.cdpRefresh)

	mux.HandleFunc("GET /_sim/state", s.simState)
	mux.HandleFunc("POST /_sim/fault", s.simFault)
	mux.HandleFunc("POST /_sim/clear-faults", func(w http.ResponseWriter, r *http.Request) { s.ClearFaults(); w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("POST /_sim/expire-tokens", func(w http.ResponseWriter, r *http.Request) { s.ExpireTokens(); w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("POST /_sim/expire-credentials", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireCredentials()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/fail-s3-parts", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 {
			http.Error(w, "n must be a count", http.StatusBadRequest)
			return
		}
		s.FailS3Parts(n)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/JSSResource/") {
			writeClassicError(w, http.StatusNotFound, classicNotFound)
			return
		}
		s.notFoundAPI(w, r)
	})
	return s.middleware(mux)
}

// middleware logs every call, applies injected faults, and leaves /_sim/
// (the simulator's own control plane) out of the call log.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_sim/") {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		call := Call{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Auth: authKind(r)}
		defer func() {
			call.Status = rec.status
			s.mu.Lock()
			s.calls = append(s.calls, call)
			s.mu.Unlock()
			s.log.Debug().Str("method", call.Method).Str("path", call.Path).Int("status", call.Status).
				Dur("took", time.Since(start)).Msg("jamf call")
		}()
		if s.applyFault(rec, r, false) {
			return
		}
		next.ServeHTTP(rec, r)
	})
}

func authKind(r *http.Request) string {
	h := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(h, "Bearer "):
		return "bearer"
	case strings.HasPrefix(h, "Basic "):
		return "basic"
	case r.URL.Path == "/api/oauth/token":
		return "oauth"
	}
	return ""
}

func (s *Server) notFoundAPI(w http.ResponseWriter, r *http.Request) {
	writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "Resource not found", "")
}

// GET /api/v1/jamf-pro-version (any valid token).
func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authenticate(w, r, false); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"version": s.version.String() + "-t1726593152"})
}

func (s *Server) simState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.State())
}

// POST /_sim/fault: a JSON Fault, or one text line in the -fault flag format.
func (s *Server) simFault(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var f Fault
	text := strings.TrimSpace(string(body))
	if strings.HasPrefix(text, "{") {
		err = json.Unmarshal(body, &f)
	} else {
		f, err = ParseFault(text)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.InjectFault(f)
	w.WriteHeader(http.StatusNoContent)
}
