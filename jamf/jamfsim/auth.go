package jamfsim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// Privilege names as Jamf Pro spells them.
const (
	PrivCreatePackages   = "Create Packages"
	PrivReadPackages     = "Read Packages"
	PrivUpdatePackages   = "Update Packages"
	PrivDeletePackages   = "Delete Packages"
	PrivCreateCategories = "Create Categories"
	PrivReadCategories   = "Read Categories"
	PrivReadCDP          = "Read Cloud Distribution Point"
	PrivUpdateCDP        = "Update Cloud Distribution Point" // fail-upload (11.25.2+ schema)

	// JCDSFilesOld is the JCDS privilege object before 11.20, JCDSFilesNew
	// from 11.20; prefix with Create/Read/Update/Delete.
	JCDSFilesOld = "Jamf Content Distribution Server Files"
	JCDSFilesNew = "Jamf Cloud Distribution Service Files"
)

// JCDSPrivilege returns the JCDS privilege for an action ("Create", "Read",
// "Update", "Delete") under the naming of that Jamf Pro version.
func JCDSPrivilege(jamfVersion, action string) string {
	v, err := parseVersion(jamfVersion)
	if err == nil && v.jcdsRenamed() {
		return action + " " + JCDSFilesNew
	}
	return action + " " + JCDSFilesOld
}

// AllPrivileges is every privilege the simulator checks, for that version.
func AllPrivileges(jamfVersion string) []string {
	p := []string{PrivCreatePackages, PrivReadPackages, PrivUpdatePackages, PrivDeletePackages,
		PrivCreateCategories, PrivReadCategories, PrivReadCDP, PrivUpdateCDP}
	for _, a := range []string{"Create", "Read", "Update", "Delete"} {
		p = append(p, JCDSPrivilege(jamfVersion, a))
	}
	return p
}

func (s *Server) jcdsPriv(action string) string { return JCDSPrivilege(s.version.String(), action) }

type account struct {
	name, secret string
	oauth        bool
	privs        map[string]bool
}

type token struct {
	value   string
	acct    *account
	expires time.Time
	oauth   bool
}

// AddAccount adds (or replaces) a user account for basic-auth tokens with
// exactly these privileges.
func (s *Server) AddAccount(user, pass string, privileges ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[user] = &account{name: user, secret: pass, privs: privSet(privileges)}
}

// AddAPIClient adds (or replaces) an OAuth API client with these privileges.
func (s *Server) AddAPIClient(clientID, clientSecret string, privileges ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[clientID] = &account{name: clientID, secret: clientSecret, oauth: true, privs: privSet(privileges)}
}

func privSet(p []string) map[string]bool {
	m := make(map[string]bool, len(p))
	for _, x := range p {
		m[x] = true
	}
	return m
}

// ExpireTokens makes every issued bearer token expired now.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, t := range s.tokens {
		t.expires = past
	}
}

func randToken(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) issueToken(a *account, oauth bool) *token {
	t := &token{value: randToken("eyJzaW0iOiJqYW1mc2ltIn0.", 32), acct: a, expires: time.Now().Add(s.tokenTTL(oauth)), oauth: oauth}
	s.tokens[t.value] = t
	return t
}

// tokenTTL is the lifetime of a new token (scaled): Options.TokenTTL, or
// 60 s for an API client's and 30 min for a basic-auth token.
func (s *Server) tokenTTL(oauth bool) time.Duration {
	if oauth {
		return s.oauthTTL
	}
	return s.basicTTL
}

func jamfTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// POST /api/v1/auth/token
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counts.TokenRequests++
	s.mu.Unlock()
	user, pass, ok := r.BasicAuth()
	if !ok {
		writeJSON(w, http.StatusUnauthorized, apiError{HTTPStatus: 401, Errors: []apiErrorRow{}})
		return
	}
	s.mu.Lock()
	a := s.accounts[user]
	if a == nil || subtle.ConstantTimeCompare([]byte(a.secret), []byte(pass)) != 1 {
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, apiError{HTTPStatus: 401, Errors: []apiErrorRow{}})
		return
	}
	t := s.issueToken(a, false)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"token": t.value, "expires": jamfTime(t.expires)})
}

// POST /api/v1/oauth/token, the current path (the only one in the 11.23.2+
// schemas), and the deprecated /api/oauth/token (10.49+). A bad request is
// 400 {"error","error_description"} (RFC 6749 §5.2, as the schema's
// OAuthTokenEndpointErrorResponse); wrong client credentials are 401
// invalid_client (RFC 6749 §5.2 allows 401; the simulator's choice).
func (s *Server) handleOAuthToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counts.OAuthTokenRequests++
	s.mu.Unlock()
	if !s.version.hasOAuth() {
		s.notFoundAPI(w, r)
		return
	}
	oauthErr := func(status int, code, desc string) {
		writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		oauthErr(http.StatusBadRequest, "invalid_request", "Unable to read the form body")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); {
	case gt == "":
		oauthErr(http.StatusBadRequest, "invalid_request", "OAuth 2.0 Parameter: grant_type")
		return
	case gt != "client_credentials":
		oauthErr(http.StatusBadRequest, "unsupported_grant_type", "OAuth 2.0 Parameter: grant_type")
		return
	case r.PostForm.Get("client_id") == "":
		oauthErr(http.StatusBadRequest, "invalid_request", "OAuth 2.0 Parameter: client_id")
		return
	}
	id, sec := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	s.mu.Lock()
	a := s.clients[id]
	if a == nil || subtle.ConstantTimeCompare([]byte(a.secret), []byte(sec)) != 1 {
		s.mu.Unlock()
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Invalid client credentials"})
		return
	}
	t := s.issueToken(a, true)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": t.value,
		"scope":        "api-role:1",
		"token_type":   "Bearer",
		"expires_in":   int((s.oauthTTL + time.Second - 1) / time.Second), // never 0 for sub-second test TTLs
	})
}

// POST /api/v1/auth/keep-alive: a fresh token for a basic-auth session; the
// old one stops working. OAuth client tokens cannot be kept alive (the
// simulator answers 401 INVALID_TOKEN; clients must request a new token).
func (s *Server) handleKeepAlive(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counts.KeepAlives++
	s.mu.Unlock()
	t, ok := s.authenticate(w, r, false)
	if !ok {
		return
	}
	s.mu.Lock()
	if t.oauth {
		s.mu.Unlock()
		writeAPIError(w, http.StatusUnauthorized, "INVALID_TOKEN", "Unauthorized", "")
		return
	}
	delete(s.tokens, t.value)
	nt := s.issueToken(t.acct, false)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"token": nt.value, "expires": jamfTime(nt.expires)})
}

// POST /api/v1/auth/invalidate-token
func (s *Server) handleInvalidate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.counts.Invalidations++
	s.mu.Unlock()
	t, ok := s.authenticate(w, r, false)
	if !ok {
		return
	}
	s.mu.Lock()
	delete(s.tokens, t.value)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// authenticate checks the bearer token; classic selects the Classic API's
// HTML error page instead of the Jamf Pro API JSON body.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, classic bool) (*token, bool) {
	h := r.Header.Get("Authorization")
	val, found := strings.CutPrefix(h, "Bearer ")
	s.mu.Lock()
	t := s.tokens[strings.TrimSpace(val)]
	valid := found && t != nil && time.Now().Before(t.expires)
	s.mu.Unlock()
	if !valid {
		if classic {
			writeClassicError(w, http.StatusUnauthorized, "The request requires user authentication")
		} else {
			writeAPIError(w, http.StatusUnauthorized, "INVALID_TOKEN", "Unauthorized", "")
		}
		return nil, false
	}
	return t, true
}

// authorize authenticates and then checks privileges. A missing privilege:
// the Jamf Pro API answers 403 with a JSON body (code INVALID_PRIVILEGE),
// the Classic API 401 with its status page (python-jss and JSSImporter
// reports). The missing privilege is named in the description so client
// errors can name it too (the real server does not).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, classic bool, privs ...string) (*token, bool) {
	t, ok := s.authenticate(w, r, classic)
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	var missing string
	for _, p := range privs {
		if !t.acct.privs[p] {
			missing = p
			break
		}
	}
	s.mu.Unlock()
	if missing != "" {
		if classic {
			writeClassicError(w, http.StatusUnauthorized, "The request requires user authentication. Missing privilege: "+missing)
		} else {
			writeAPIError(w, http.StatusForbidden, "INVALID_PRIVILEGE", "Forbidden: requires privilege \""+missing+"\"", "")
		}
		return nil, false
	}
	return t, true
}
