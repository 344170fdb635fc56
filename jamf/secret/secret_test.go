package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestScrub(t *testing.T) {
	Reset()
	t.Cleanup(Reset)
	Register("hunter22", "", "ab", "AKIAEXAMPLEKEY", "AKIAEXAMPLEKEY-longer")
	tests := []struct{ in, want string }{
		{"password=hunter22", "password=" + Mask},
		{"no secret here: ab", "no secret here: ab"},
		{"key AKIAEXAMPLEKEY-longer and AKIAEXAMPLEKEY", "key " + Mask + " and " + Mask},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Scrub(tt.in); got != tt.want {
			t.Errorf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWriter(t *testing.T) {
	Reset()
	t.Cleanup(Reset)
	var buf bytes.Buffer
	w := Writer(&buf)
	Register("tok-abcdef")
	line := []byte("Authorization: Bearer tok-abcdef\n")
	n, err := w.Write(line)
	if err != nil || n != len(line) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(line))
	}
	if got, want := buf.String(), "Authorization: Bearer "+Mask+"\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}

func TestScrubEscapedForms(t *testing.T) {
	Reset()
	t.Cleanup(Reset)
	const s = `Pw"Ze\b&<r>a 1%`
	Register(s)
	for _, in := range []string{
		`q="Pw\"Ze\\b&<r>a 1%"`,                    // %q
		`{"p":"Pw\"Ze\\b\u0026\u003cr\u003ea 1%"}`, // encoding/json
		`{"p":"Pw\"Ze\\b&<r>a 1%"}`,                // JSON without HTML escaping
		"p=Pw%22Ze%5Cb%26%3Cr%3Ea+1%25",            // form body
		"/Pw%22Ze%5Cb&%3Cr%3Ea%201%25",             // path
		"<p>Pw&#34;Ze\\b&amp;&lt;r&gt;a 1%</p>",    // html.EscapeString
		"Basic " + base64.StdEncoding.EncodeToString([]byte(s)),
	} {
		if got := Scrub(in); strings.Contains(got, "Ze") || strings.Contains(got, base64.StdEncoding.EncodeToString([]byte(s))) || !strings.Contains(got, Mask) {
			t.Errorf("Scrub(%q) = %q", in, got)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://jamf.example/x":           "https://jamf.example/x",
		"ftp://bob:pw@jamf.example":        "ftp://REDACTED@jamf.example",
		"https://bob:p/w@x@jamf.example/a": "https://REDACTED@jamf.example/a",
		"bob:pw%zz@host":                   "REDACTED@host",
		"https://bob:pw@":                  "https://REDACTED@",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain text – ümlaut":       "plain text – ümlaut",
		"a\x1b[2Kb":                 `a\x1b[2Kb`,
		"line\r\nProcessorError: x": `line\r\nProcessorError: x`,
		"bell\x07 del\x7f c1\u009b": `bell\a del\x7f c1\u009b`,
		"rtl \u202eevil\u202c":      `rtl \u202eevil\u202c`,
		"bad \xff utf8":             `bad \xff utf8`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// Error masks the whole text, keeps the chain, and masks once.
func TestError(t *testing.T) {
	Reset()
	defer Reset()
	Register("Hunter2-Secret")
	base := fs.ErrNotExist
	err := Error(fmt.Errorf("open with Hunter2-Secret: %w", base))
	if strings.Contains(err.Error(), "Hunter2") || !errors.Is(err, base) {
		t.Errorf("err = %v (is %v)", err, errors.Is(err, base))
	}
	if Error(err) != err || Error(nil) != nil {
		t.Errorf("masked twice, or nil masked")
	}
	outer := Error(fmt.Errorf("retry Hunter2-Secret: %w", err))
	if strings.Contains(outer.Error(), "Hunter2") {
		t.Errorf("text around a masked error not masked: %v", outer)
	}
}

// However deep a secret was escaped, it is masked; text that only looks
// like an escape of it is not.
func TestScrubDeeplyEscaped(t *testing.T) {
	Reset()
	t.Cleanup(Reset)
	const pw = "Tr1cky\"Pass\\wo rd\t<x>"
	Register(pw)
	deep := pw
	for range 4 {
		deep = strconv.Quote(deep)
	}
	j, _ := json.Marshal(strconv.Quote(pw))
	tests := []struct {
		name, in string
		masked   bool
	}{
		{"quoted four times", "step=" + deep, true},
		{"JSON of %q", string(j), true},
		{"URL query", url.QueryEscape(pw), true},
		{"HTML of %q", html.EscapeString(strconv.Quote(pw)), true},
		{"escape letters without a backslash", `Tr1ckyu0022Pass\wo rd t<x>`, false},
		{"another value", `Tr1cky"Pass\wo rd`, false},
	}
	for _, tt := range tests {
		got := Scrub(tt.in)
		if masked := !strings.Contains(got, "Tr1cky"); masked != tt.masked {
			t.Errorf("%s: Scrub(%q) = %q, masked %v, want %v", tt.name, tt.in, got, masked, tt.masked)
		}
	}
}
