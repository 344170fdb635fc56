package jamfsim

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault makes matching requests fail (or slow down). Jamf faults match the
// request path of the Jamf API; S3 faults (S3 true) match the path at the
// S3 proxy ("/BUCKET/KEY", e.g. "/jcds-sim/tmp/*").
type Fault struct {
	Method     string        `json:"method,omitempty"` // "" or "*": any method
	Path       string        `json:"path"`             // exact, or a prefix when it ends in "*"
	S3         bool          `json:"s3,omitempty"`
	Status     int           `json:"status,omitempty"`     // answer with this; 0 with Latency: delay, then serve normally
	Count      int           `json:"count,omitempty"`      // calls affected; 0 means 1; negative: every call until ClearFaults
	RetryAfter int           `json:"retryAfter,omitempty"` // seconds, sent as Retry-After
	Drop       bool          `json:"drop,omitempty"`       // close the connection without answering
	Latency    time.Duration `json:"latency,omitempty"`    // delay before answering (or serving)
	Body       string        `json:"body,omitempty"`       // default: the Jamf JSON error body (S3: XML error)

	// ExpireTokens / ExpireCredentials expire every bearer token / every
	// upload credential when the fault fires (then, without Status, the
	// request is served normally: an S3 request then meets ExpiredToken).
	ExpireTokens      bool `json:"expireTokens,omitempty"`
	ExpireCredentials bool `json:"expireCredentials,omitempty"`

	// NeverLands serves the request normally (201 for {id}/upload, 200 for
	// an S3 commit), but the upload it delivers never lands: processing
	// ends with no file, and the refresh after it shows size "0"
	// (jamfplatform PR #273). Jamf faults: the POST /api/v1/packages/{id}/upload
	// path; S3 faults fire only on a commit (PutObject or
	// CompleteMultipartUpload under tmp/).
	NeverLands bool `json:"neverLands,omitempty"`
	// Corrupt serves the request normally, but the bytes the service
	// stores differ from the bytes sent (same length): the server's
	// SHA3-512 is neither the client's nor the previous one, the "corrupt"
	// case of terraform-provider-jamfplatform's classifyPollTick. Jamf
	// faults: the {id}/upload path; S3 faults fire only on a commit.
	Corrupt bool `json:"corrupt,omitempty"`
	// AfterLanding serves the request first (the upload's bytes land and
	// are processed), then waits Latency and answers Status instead of the
	// real answer (or drops the connection with Drop; without either, the
	// real answer comes late): the 502 and 504 after 20-minute stalls of
	// grahampugh/jamf-upload#221. Flag format: the option "landed".
	AfterLanding bool `json:"afterLanding,omitempty"`
	// Every makes the fault fire on every Every-th matching call only (the
	// others are served normally): a refresh that answers 500 "now and
	// then", which jamf-cli's verifyPackageUpload ignores as expected. 0 or
	// 1: every call.
	Every int `json:"every,omitempty"`
	seen  int
}

// InjectFault adds a fault; faults match in the order they were added.
func (s *Server) InjectFault(f Fault) {
	if f.Count == 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every pending fault, including FailS3Parts.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.failParts = 0
}

// FailS3Parts makes the next n S3 UploadPart requests fail with 500
// InternalError (the body is read first, as S3 does).
func (s *Server) FailS3Parts(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failParts = n
}

// ParseFault reads the -fault flag format:
//
//	METHOD PATH STATUS [COUNT] [every=N] [retry-after=SECONDS] [latency=DURATION] [landed] [body=TEXT] [s3]
//
// METHOD may be "*"; PATH ends in "*" for a prefix; STATUS is an HTTP status,
// "drop" (close the connection), "delay" (with latency=, then serve
// normally), "expire-tokens" or "expire-credentials" (expire them when the
// call arrives, then serve it), "never-lands" (serve it, but the upload it
// delivers never lands), "corrupt" (serve it, but the service stores
// other bytes of the same length); COUNT defaults to 1, "*" or -1 means
// every call; every=N fires it on every N-th matching call only; "landed"
// serves the request first and then answers STATUS (or drops, or delays)
// after latency=; "s3" makes it an S3 fault (PATH is then /BUCKET/KEY).
// Example: "POST /api/v1/jcds/files 429 2 retry-after=1".
func ParseFault(spec string) (Fault, error) {
	fields := strings.Fields(spec)
	if len(fields) < 3 {
		return Fault{}, fmt.Errorf("fault %q: want METHOD PATH STATUS [COUNT] [options]", spec)
	}
	f := Fault{Method: strings.ToUpper(fields[0]), Path: fields[1], Count: 1}
	if f.Method == "*" {
		f.Method = ""
	}
	switch strings.ToLower(fields[2]) {
	case "drop":
		f.Drop = true
	case "expire-tokens":
		f.ExpireTokens = true
	case "expire-credentials":
		f.ExpireCredentials = true
	case "never-lands":
		f.NeverLands = true
	case "corrupt":
		f.Corrupt = true
	case "delay":
	default:
		st, err := strconv.Atoi(fields[2])
		if err != nil || st < 100 || st > 599 {
			return Fault{}, fmt.Errorf("fault %q: status %q is not an HTTP status, drop or delay", spec, fields[2])
		}
		f.Status = st
	}
	rest := fields[3:]
	if len(rest) > 0 && !strings.Contains(rest[0], "=") && rest[0] != "s3" && rest[0] != "landed" {
		if rest[0] == "*" {
			f.Count = -1
		} else {
			n, err := strconv.Atoi(rest[0])
			if err != nil || n == 0 {
				return Fault{}, fmt.Errorf("fault %q: count %q is not a number", spec, rest[0])
			}
			f.Count = n
		}
		rest = rest[1:]
	}
	for i, opt := range rest {
		k, v, _ := strings.Cut(opt, "=")
		switch strings.ToLower(k) {
		case "s3":
			f.S3 = true
		case "landed":
			f.AfterLanding = true
		case "every":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return Fault{}, fmt.Errorf("fault %q: every %q is not a positive number", spec, v)
			}
			f.Every = n
		case "retry-after":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return Fault{}, fmt.Errorf("fault %q: retry-after %q", spec, v)
			}
			f.RetryAfter = n
		case "latency":
			d, err := time.ParseDuration(v)
			if err != nil {
				return Fault{}, fmt.Errorf("fault %q: latency %q: %w", spec, v, err)
			}
			f.Latency = d
		case "body":
			// body= takes the rest of the line, spaces included.
			f.Body = strings.TrimPrefix(strings.Join(rest[i:], " "), opt[:len(k)+1])
			return f, nil
		default:
			return Fault{}, fmt.Errorf("fault %q: unknown option %q", spec, opt)
		}
	}
	if f.Status == 0 && !f.Drop && f.Latency == 0 && !f.ExpireTokens && !f.ExpireCredentials && !f.NeverLands && !f.Corrupt {
		return Fault{}, fmt.Errorf("fault %q: delay needs latency=", spec)
	}
	return f, nil
}

func (s *Server) takeFault(r *http.Request, s3 bool) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := r.URL.Path
	esc := r.URL.EscapedPath()
	for i, f := range s.faults {
		if f.S3 != s3 || (f.Method != "" && f.Method != "*" && f.Method != r.Method) {
			continue
		}
		if !pathMatch(f.Path, path) && !pathMatch(f.Path, esc) {
			continue
		}
		if (f.NeverLands || f.Corrupt) && s3 && !isS3Commit(r) {
			continue
		}
		if f.Every > 1 {
			f.seen++
			if f.seen%f.Every != 0 {
				continue
			}
		}
		if f.NeverLands {
			s.lost[path] = true
		}
		if f.Corrupt {
			s.corrupt[path] = true
		}
		hit := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &hit
	}
	return nil
}

// isS3Commit reports whether an S3 request completes an object: a PutObject
// (not a part, not a copy) or a CompleteMultipartUpload.
func isS3Commit(r *http.Request) bool {
	q := r.URL.Query()
	isPart := r.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId")
	return (r.Method == http.MethodPut && !isPart && r.Header.Get("X-Amz-Copy-Source") == "") ||
		(r.Method == http.MethodPost && q.Has("uploadId"))
}

// applyFault serves a matching fault; it reports whether the request was
// answered (or dropped) and must not be served normally.
//
// An AfterLanding fault serves the request itself (next) into a held
// answer, then waits its latency and answers with the fault or, without a
// status or drop, with the held answer.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, s3 bool, next http.Handler) bool {
	f := s.takeFault(r, s3)
	if f == nil {
		return false
	}
	if f.AfterLanding {
		held := &heldWriter{header: http.Header{}}
		next.ServeHTTP(held, r)
		if !s.wait(r.Context(), s.scaled(f.Latency)) {
			return true
		}
		if f.Status == 0 && !f.Drop {
			held.sendTo(w)
			return true
		}
		f.Latency = 0
	}
	if f.Latency > 0 && !s.wait(r.Context(), s.scaled(f.Latency)) {
		return true
	}
	if f.ExpireTokens {
		s.ExpireTokens()
	}
	if f.ExpireCredentials {
		s.ExpireCredentials()
	}
	if f.Drop {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
			return true
		}
		// HTTP/2 cannot hijack; abort the handler so the stream is reset.
		panic(http.ErrAbortHandler)
	}
	if f.Status == 0 {
		return false
	}
	if s3 {
		drain(io.LimitReader(r.Body, 256<<20)) // answer rather than reset a client mid-body
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	switch {
	case f.Body != "":
		if s3 {
			w.Header().Set("Content-Type", "application/xml")
		} else if strings.HasPrefix(strings.TrimSpace(f.Body), "{") {
			w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		} else {
			w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		}
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
	case s3:
		code := "InternalError"
		switch f.Status {
		case http.StatusServiceUnavailable:
			code = "SlowDown"
		case http.StatusForbidden:
			code = "AccessDenied"
		}
		writeS3Error(w, f.Status, code, "injected fault")
	case strings.HasPrefix(r.URL.Path, "/JSSResource/"):
		writeClassicError(w, f.Status, http.StatusText(f.Status))
	default:
		code := strings.ToUpper(strings.ReplaceAll(http.StatusText(f.Status), " ", "_"))
		writeAPIError(w, f.Status, code, http.StatusText(f.Status), "")
	}
	return true
}

// heldWriter keeps an answer to send later (or never).
type heldWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (h *heldWriter) Header() http.Header { return h.header }

func (h *heldWriter) WriteHeader(code int) {
	if h.status == 0 && code >= 200 {
		h.status = code
	}
}

func (h *heldWriter) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.body.Write(b)
}

func (h *heldWriter) sendTo(w http.ResponseWriter) {
	for k, v := range h.header {
		w.Header()[k] = v
	}
	if h.status == 0 {
		h.status = http.StatusOK
	}
	w.WriteHeader(h.status)
	_, _ = w.Write(h.body.Bytes())
}
