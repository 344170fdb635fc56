// Package secret keeps secrets out of logs, errors and output.
//
// Every value that must never be shown (passwords, client secrets, bearer
// tokens, AWS keys and session tokens) is registered here the moment it is
// read or received. Log output passes through Writer, and error messages
// through Scrub, so a secret that slips into a message by accident is masked
// rather than printed. Code still avoids formatting secrets in the first
// place; this is the net below it.
package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Mask replaces a registered secret in any scrubbed text.
const Mask = "********"

// minLen keeps short, common strings (an empty password, "1") from being
// masked everywhere they happen to occur.
const minLen = 4

var (
	mu      sync.RWMutex
	secrets []string // longest first, so a secret containing another is masked whole
	// escaped matches a secret however deeply it was escaped: a log field
	// holding a %q-quoted step is escaped again by the JSON or console
	// writer, and an error quoted when it is wrapped once more. No list of
	// spellings closes that; a pattern per character does.
	escaped []*regexp.Regexp
)

// Register records values that must never appear in output, together with
// the escaped forms a server or a formatter could turn them into: a body
// that echoes a form field is URL-encoded, a JSON error escapes quotes and
// "<>&", a Go %q adds backslashes, an HTML page uses entities.
func Register(values ...string) {
	mu.Lock()
	defer mu.Unlock()
	for _, v := range values {
		if len(v) < minLen {
			continue
		}
		if re := escapedPattern(v); re != nil && !containsPattern(escaped, re) {
			escaped = append(escaped, re)
		}
		for _, f := range forms(v) {
			if len(f) >= minLen && !contains(secrets, f) {
				secrets = append(secrets, f)
			}
		}
	}
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
}

// forms returns v and its escaped spellings, quotes stripped.
func forms(v string) []string {
	out := []string{v, url.QueryEscape(v), url.PathEscape(v), html.EscapeString(v)}
	out = append(out, strings.Trim(strconv.Quote(v), `"`), strings.Trim(strconv.QuoteToASCII(v), `"`))
	if j, err := json.Marshal(v); err == nil { // escapes <, >, & as \u003c…
		out = append(out, strings.Trim(string(j), `"`))
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) == nil {
		out = append(out, strings.Trim(strings.TrimSpace(b.String()), `"`))
	}
	// A secret long enough to be worth it is also masked base64-encoded,
	// as in an echoed basic-auth header of the secret alone.
	out = append(out, base64.StdEncoding.EncodeToString([]byte(v)))
	return out
}

// escapedPattern matches v with each character that any escape could touch
// (anything but ASCII letters, digits and "-._~") in any of its escaped
// spellings, behind any number of backslashes: Go and JSON escapes
// (\", \\, \t, \u0022, \x22), URL and HTML escapes (%22, &quot;,
// &#34;). It returns nil for a secret that no escape changes: the plain
// spelling already covers it.
func escapedPattern(v string) *regexp.Regexp {
	var b strings.Builder
	special := false
	for _, r := range v {
		if plain(r) {
			b.WriteString(regexp.QuoteMeta(string(r)))
			continue
		}
		special = true
		// Spelled out: the character itself, or its URL or HTML escape.
		spelled := []string{regexp.QuoteMeta(string(r)), fmt.Sprintf(`&#%d;|(?i:&#x0*%x;)`, r, r)}
		var pct strings.Builder
		for _, c := range []byte(string(r)) {
			fmt.Fprintf(&pct, "%%%02X", c)
		}
		spelled = append(spelled, "(?i:"+regexp.QuoteMeta(pct.String())+")")
		if e := html.EscapeString(string(r)); e != string(r) {
			spelled = append(spelled, regexp.QuoteMeta(e))
		}
		switch r {
		case ' ':
			spelled = append(spelled, `\+`)
		case '\'':
			spelled = append(spelled, "&apos;")
		}
		// Backslash escapes, which need at least one backslash.
		escapes := []string{fmt.Sprintf(`u%04[1]x|u%04[1]X|U%08[1]x`, r)}
		if r < 0x100 {
			escapes = append(escapes, fmt.Sprintf(`x%02[1]x|x%02[1]X|%03[1]o`, r))
		}
		if q := strconv.QuoteRune(r); len(q) == 4 && q[1] == '\\' {
			escapes = append(escapes, regexp.QuoteMeta(q[2:3])) // \t, \n
		}
		fmt.Fprintf(&b, `(?:\\*(?:%s)|\\+(?:%s))`, strings.Join(spelled, "|"), strings.Join(escapes, "|"))
	}
	if !special {
		return nil
	}
	return regexp.MustCompile(b.String())
}

// plain reports whether no escape (Go, JSON, URL, HTML) changes r.
func plain(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)
}

func containsPattern(list []*regexp.Regexp, re *regexp.Regexp) bool {
	for _, p := range list {
		if p.String() == re.String() {
			return true
		}
	}
	return false
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// Scrub returns s with every registered secret masked.
func Scrub(s string) string {
	mu.RLock()
	defer mu.RUnlock()
	for _, v := range secrets {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	for _, re := range escaped {
		s = re.ReplaceAllLiteralString(s, Mask)
	}
	return s
}

// ScrubBytes is Scrub for byte slices; it returns b itself when nothing matched.
func ScrubBytes(b []byte) []byte {
	mu.RLock()
	defer mu.RUnlock()
	for _, v := range secrets {
		if bytes.Contains(b, []byte(v)) {
			b = bytes.ReplaceAll(b, []byte(v), []byte(Mask))
		}
	}
	for _, re := range escaped {
		if re.Match(b) {
			b = re.ReplaceAllLiteral(b, []byte(Mask))
		}
	}
	return b
}

// Writer masks registered secrets in everything written through it. It
// assumes each Write carries whole lines or records, as zerolog's writers
// and the progress reporter do, so a secret is never split across writes.
func Writer(w io.Writer) io.Writer { return &scrubWriter{w: w} }

type scrubWriter struct{ w io.Writer }

func (s *scrubWriter) Write(p []byte) (int, error) {
	if _, err := s.w.Write(ScrubBytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// RedactURL hides the user information of a URL in text meant for people,
// whether or not the URL parses: everything between the scheme and the last
// "@" is replaced, so a password holding "/", "@" or a bad "%" escape is
// never printed. Over-redacting a path that holds "@" is the lesser harm.
func RedactURL(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 && i < at {
		start = i + 3
	}
	return raw[:start] + "REDACTED@" + raw[at+1:]
}

// URLUserinfo returns the user information a URL-like string carries (the
// text RedactURL hides), or "".
func URLUserinfo(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return ""
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 && i < at {
		start = i + 3
	}
	return raw[start:at]
}

// Escape makes text from outside (a server's message, a file name) safe to
// print on a terminal or in a line-oriented log: control characters (ANSI
// escapes, carriage returns, newlines that could forge a "ProcessorError:"
// line), Unicode bidirectional overrides and invalid UTF-8 are written as Go
// escapes. Everything else is left as it is.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8RuneError && isInvalidAt(s, i):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

const utf8RuneError = '\uFFFD'

func isInvalidAt(s string, i int) bool {
	r, size := utf8.DecodeRuneInString(s[i:])
	return r == utf8.RuneError && size <= 1
}

func needsEscape(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if unsafeRune(r) {
			return true
		}
	}
	return false
}

func unsafeRune(r rune) bool {
	switch {
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true // bidirectional controls reorder what a reader sees
	}
	return false
}

// Reset forgets all registered secrets; tests use it between cases.
func Reset() {
	mu.Lock()
	secrets, escaped = nil, nil
	mu.Unlock()
}

// Error masks registered secrets in the text of err while keeping the
// chain for errors.Is/As. Only an error masked as a whole is returned as it
// is: text wrapped around a masked error may hold a secret of its own.
func Error(err error) error {
	if err == nil {
		return nil
	}
	if s, ok := err.(*scrubbedError); ok {
		return s
	}
	return &scrubbedError{err: err}
}

type scrubbedError struct{ err error }

func (e *scrubbedError) Error() string { return Scrub(e.err.Error()) }
func (e *scrubbedError) Unwrap() error { return e.err }
