package jamf

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"regexp"
	"strings"

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

// scrubbed masks registered secrets in an error's text while keeping the
// chain intact for errors.Is/As.
type scrubbed struct{ err error }

func (s scrubbed) Error() string { return secret.Scrub(s.err.Error()) }
func (s scrubbed) Unwrap() error { return s.err }

func scrub(err error) error {
	if err == nil {
		return nil
	}
	var s scrubbed
	if errors.As(err, &s) {
		return err
	}
	return scrubbed{err}
}

var (
	classicErrorRE = regexp.MustCompile(`(?is)<p>\s*Error:?\s*(.*?)\s*</p>`)
	titleRE        = regexp.MustCompile(`(?is)<title>\s*(.*?)\s*</title>`)
	tagRE          = regexp.MustCompile(`(?s)<[^>]*>`)
	spaceRE        = regexp.MustCompile(`\s+`)
)

// parseErrorBody pulls the server's own message out of an error body: the
// Jamf Pro API's JSON errors, the Classic API's HTML page, or plain text.
func parseErrorBody(body []byte) (code, msg string) {
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return "", ""
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
				return code, strings.Join(descs, "; ")
			case j.ErrorDescription != "":
				return j.Error, j.ErrorDescription
			case j.Error != "":
				return "", j.Error
			case j.Message != "":
				return code, j.Message
			}
			return code, ""
		}
	}
	if m := classicErrorRE.FindStringSubmatch(trimmed); m != nil {
		return "", cleanText(m[1])
	}
	if strings.HasPrefix(trimmed, "<") {
		if m := titleRE.FindStringSubmatch(trimmed); m != nil {
			return "", cleanText(m[1])
		}
		return "", shorten(cleanText(trimmed))
	}
	return "", shorten(cleanText(trimmed))
}

func cleanText(s string) string {
	s = tagRE.ReplaceAllString(s, " ")
	s = html.UnescapeString(s)
	return strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
}

func shorten(s string) string {
	const max = 300
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
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
