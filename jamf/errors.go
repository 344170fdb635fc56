package jamf

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
)

// ErrNotFound is matched (errors.Is) by every 404 answer.
var ErrNotFound = errors.New("not found")

// APIError is a non-success answer from Jamf Pro.
type APIError struct {
	Step      string // what the client was doing, e.g. "find package"
	Method    string
	Path      string // path and query, relative to the Jamf Pro URL
	Status    int
	Code      string // Jamf Pro API error code, e.g. DUPLICATE_FIELD
	Message   string // the server's own message
	Privilege string // the privilege that is probably missing (401/403 on JCDS)
	Hint      string // what the status most likely means here, when known
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s: HTTP %d", e.Step, e.Method, e.Path, e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Privilege != "" {
		fmt.Fprintf(&b, " (the account probably lacks the %s privilege)", e.Privilege)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, " (%s)", e.Hint)
	}
	return secret.Scrub(b.String())
}

// Is makes errors.Is(err, ErrNotFound) true for 404 answers.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.Status == 404
}

var (
	classicErrorRE = regexp.MustCompile(`(?is)<p>\s*Error:?\s*(.*?)\s*</p>`)
	titleRE        = regexp.MustCompile(`(?is)<title>\s*(.*?)\s*</title>`)
	tagRE          = regexp.MustCompile(`(?s)<[^>]*>`)
	spaceRE        = regexp.MustCompile(`\s+`)
)

// Limits on what of a server's error text goes into a message: a JSON
// description is the server's own sentence and may be long; a text or HTML
// body is often a whole page or an echo of the request.
const (
	maxCode     = 100
	maxJSONText = 1000
	maxText     = 300
)

// parseErrorBody pulls the server's own message out of an error body: the
// Jamf Pro API's JSON errors, the Classic API's HTML page, or plain text.
// Secrets are masked before anything is cut, in the raw body and again in
// the decoded text (decoding JSON or HTML escapes can reassemble a secret),
// so a cut never leaves a secret's unmasked prefix behind; control
// characters are escaped so the text cannot forge or erase log lines.
func parseErrorBody(body []byte) (code, msg string) {
	code, msg, isJSON := rawErrorBody(secret.ScrubBytes(body))
	limit := maxText
	if isJSON {
		limit = maxJSONText
	}
	return clip(code, maxCode), clip(msg, limit)
}

func clip(s string, limit int) string {
	return shorten(secret.Escape(secret.Scrub(s)), limit)
}

func rawErrorBody(body []byte) (code, msg string, isJSON bool) {
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return "", "", false
	}
	if strings.HasPrefix(trimmed, "{") {
		var j struct {
			HTTPStatus int `json:"httpStatus"`
			Errors     []struct {
				Code        string  `json:"code"`
				Description string  `json:"description"`
				Field       *string `json:"field"`
			} `json:"errors"`
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
			Message          string `json:"message"`
		}
		if json.Unmarshal([]byte(trimmed), &j) == nil {
			var descs []string
			for _, e := range j.Errors {
				if code == "" {
					code = e.Code
				}
				d := e.Description
				if e.Field != nil && *e.Field != "" {
					d = fmt.Sprintf("%s (field %s)", d, *e.Field)
				}
				if d != "" {
					descs = append(descs, d)
				} else if e.Code != "" && len(j.Errors) > 1 {
					descs = append(descs, e.Code)
				}
			}
			switch {
			case len(descs) > 0:
				return code, strings.Join(descs, "; "), true
			case j.ErrorDescription != "":
				return j.Error, j.ErrorDescription, true
			case j.Error != "":
				return "", j.Error, true
			case j.Message != "":
				return code, j.Message, true
			}
			return code, "", true
		}
	}
	if m := classicErrorRE.FindStringSubmatch(trimmed); m != nil {
		return "", cleanText(m[1]), false
	}
	if strings.HasPrefix(trimmed, "<") {
		if m := titleRE.FindStringSubmatch(trimmed); m != nil {
			return "", cleanText(m[1]), false
		}
	}
	return "", cleanText(trimmed), false
}

func cleanText(s string) string {
	s = tagRE.ReplaceAllString(s, " ")
	s = html.UnescapeString(s)
	return strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
}

// shorten cuts s to at most limit bytes on a character boundary.
func shorten(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// jcdsPrivilege names the privilege a JCDS call needs. The privilege was
// renamed in 11.20; when the version is unknown both names are given.
func jcdsPrivilege(action string, v *Version) string {
	const (
		before = "Jamf Content Distribution Server Files"
		after  = "Jamf Cloud Distribution Service Files"
	)
	switch {
	case v == nil:
		return fmt.Sprintf("%s %q (called %q before Jamf Pro 11.20)", action, after, before)
	case v.AtLeast(11, 20):
		return fmt.Sprintf("%s %q", action, after)
	default:
		return fmt.Sprintf("%s %q", action, before)
	}
}

// UploadUnconfirmedError: the whole file was sent, but a gateway answered
// 502 or 504 instead of Jamf Pro, or no answer came within the reply
// allowance: the bytes may have landed or not (grahampugh/jamf-upload#221).
// The client does not send it again; the caller refreshes the inventory
// and reads what the server holds.
type UploadUnconfirmedError struct {
	Err error // the gateway's answer, or the wait that ended
}

func (e *UploadUnconfirmedError) Error() string {
	return fmt.Sprintf("the upload was sent, but not confirmed: %v", e.Err)
}

func (e *UploadUnconfirmedError) Unwrap() error { return e.Err }
