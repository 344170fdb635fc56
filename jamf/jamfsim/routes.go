package jamfsim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// route is one Jamf endpoint the simulator serves; the contract test walks
// this table.
type route struct {
	pattern string // net/http pattern: "METHOD /path/{param}"
	handler func(*Server) http.HandlerFunc
}

func h(f func(*Server, http.ResponseWriter, *http.Request)) func(*Server) http.HandlerFunc {
	return func(s *Server) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { f(s, w, r) }
	}
}

var jamfRoutes = []route{
	{"POST /api/v1/auth/token", h((*Server).handleToken)},
	{"POST /api/v1/oauth/token", h((*Server).handleOAuthToken)},
	{"POST /api/oauth/token", h((*Server).handleOAuthToken)}, // deprecated path, still served
	{"POST /api/v1/auth/keep-alive", h((*Server).handleKeepAlive)},
	{"POST /api/v1/auth/invalidate-token", h((*Server).handleInvalidate)},
	{"GET /api/v1/jamf-pro-version", h((*Server).handleVersion)},

	{"GET /JSSResource/packages/name/{name}", h((*Server).classicGetPackage)},
	{"GET /JSSResource/packages/id/{id}", h((*Server).classicGetPackage)},
	{"POST /JSSResource/packages/id/{id}", h((*Server).classicCreatePackage)},
	{"PUT /JSSResource/packages/id/{id}", h((*Server).classicUpdatePackage)},
	{"PUT /JSSResource/packages/name/{name}", h((*Server).classicUpdatePackage)},
	{"DELETE /JSSResource/packages/id/{id}", h((*Server).classicDeletePackage)},
	{"GET /JSSResource/categories/name/{name}", h((*Server).classicGetCategory)},

	{"GET /api/v1/packages", h((*Server).v1ListPackages)},
	{"POST /api/v1/packages", h((*Server).v1CreatePackage)},
	{"GET /api/v1/packages/{id}", h((*Server).v1GetPackage)},
	{"PUT /api/v1/packages/{id}", h((*Server).v1UpdatePackage)},
	{"DELETE /api/v1/packages/{id}", h((*Server).v1DeletePackage)},
	{"POST /api/v1/packages/{id}/upload", h((*Server).v1UploadPackage)},
	{"GET /api/v1/categories", h((*Server).v1ListCategories)},
	{"GET /api/v1/categories/{id}", h((*Server).v1GetCategory)},

	{"GET /api/v1/jcds/files", h((*Server).jcdsList)},
	{"POST /api/v1/jcds/files", h((*Server).jcdsInitiate)},
	{"POST /api/v1/jcds/renew-credentials", h((*Server).jcdsRenew)},
	{"GET /api/v1/jcds/files/{name}", h((*Server).jcdsGet)},
	{"DELETE /api/v1/jcds/files/{name}", h((*Server).jcdsDelete)},
	{"GET /api/v1/jcds/properties", h((*Server).jcdsProperties)},
	{"POST /api/v1/jcds/refresh-inventory", h((*Server).jcdsRefresh)},

	{"GET /api/v1/cloud-distribution-point", h((*Server).cdpGet)},
	{"GET /api/v1/cloud-distribution-point/files", h((*Server).cdpFiles)},
	{"GET /api/v1/cloud-distribution-point/upload-capability", h((*Server).cdpUploadCapability)},
	{"POST /api/v1/cloud-distribution-point/refresh-inventory", h((*Server).cdpRefresh)},
	{"POST /api/v1/cloud-distribution-point/fail-upload/{id}", h((*Server).cdpFailUpload)},
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range jamfRoutes {
		mux.HandleFunc(rt.pattern, rt.handler(s))
	}

	// Not part of the API documents: the page Jamf Support's script probes
	// to find the pods (GET also answers HEAD, as curl -sI sends).
	mux.HandleFunc("GET /healthCheck.html", s.healthCheck)
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
	mux.HandleFunc("POST /_sim/fail-processing", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 {
			http.Error(w, "n must be a count", http.StatusBadRequest)
			return
		}
		s.FailProcessing(n)
		w.WriteHeader(http.StatusNoContent)
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
		if s.contract != nil {
			var done func()
			w, r, done = s.contract.wrap(w, r)
			defer done()
		}
		r = s.pickNode(w, r)
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
		if s.applyFault(rec, r, false, next) {
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
	case r.URL.Path == "/api/oauth/token" || r.URL.Path == "/api/v1/oauth/token":
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
	// Jamf's suffix is -t and the build time in milliseconds (13 digits,
	// e.g. 11.25.2-t1772925731845).
	writeJSON(w, http.StatusOK, map[string]string{"version": s.version.String() + "-t1772925731845"})
}

// GET /healthCheck.html: the page Jamf Support's hit_all_pods_internet.zsh
// probes without a cookie to collect the pods' jpro-ingress values (the
// balancer's Set-Cookie comes from pickNode, as for any cookieless
// request). No authentication. The body "[]" is what a healthy Jamf Pro
// answers there (choice: the script reads only the headers).
func (s *Server) healthCheck(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "[]")
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
