package plistio

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"howett.net/plist"
)

// autopkgEnv is shaped like what `autopkg run` hands a processor: strings,
// integers, booleans, nested arrays and dicts, a date and raw data.
func autopkgEnv() Env {
	return Env{
		"RECIPE_CACHE_DIR":     "/Users/admin/Library/AutoPkg/Cache/local.jamf.Firefox",
		"RECIPE_SEARCH_DIRS":   []any{".", "~/Library/AutoPkg/Recipes", "/Library/AutoPkg/Recipes"},
		"verbose":              uint64(2),
		"negative":             int64(-3),
		"ratio":                1.25,
		"replace_pkg":          true,
		"skip_metadata_upload": false,
		"built":                time.Date(2026, 11, 24, 10, 20, 30, 0, time.UTC),
		"receipt":              []byte{0, 1, 2, 0xfe, 0xff},
		"pkg_name":             "Firefox 146.0 (Intel & Apple) #1 ünïcødé.pkg",
		"PARENT_RECIPES":       []any{},
		"pkg_info":             "",
		"download_changed":     map[string]any{},
		"pkg_creator_summary_result": map[string]any{
			"summary_text":  "The following packages were built:",
			"report_fields": []any{"identifier", "version", "pkg_path"},
			"data": map[string]any{
				"identifier": "org.mozilla.firefox",
				"version":    "146.0",
				"nested":     []any{map[string]any{"deep": []any{uint64(1), "two", false}}},
			},
		},
	}
}

func TestRoundTripEveryType(t *testing.T) {
	for _, format := range []int{plist.XMLFormat, plist.BinaryFormat} {
		in := autopkgEnv()
		data, err := plist.Marshal(map[string]any(in), format)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(data)
		if err != nil {
			t.Fatalf("format %d: Decode: %v", format, err)
		}
		out, err := Encode(got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(out)
		if err != nil {
			t.Fatalf("format %d: decode our own output: %v", format, err)
		}
		if !reflect.DeepEqual(back, in) {
			t.Errorf("format %d: round trip changed the environment\n got %#v\nwant %#v", format, back, in)
		}
		if !bytes.HasPrefix(out, []byte("<?xml")) {
			t.Errorf("output is not an XML plist: %.40q", out)
		}
	}
}

func TestEncodeDropsNil(t *testing.T) {
	out, err := Encode(Env{"keep": "x", "gone": nil})
	if err != nil {
		t.Fatal(err)
	}
	back, _ := Decode(out)
	if _, ok := back["gone"]; ok || back["keep"] != "x" {
		t.Errorf("got %v, want only keep=x", back)
	}
}

func TestDecodeBadInput(t *testing.T) {
	valid, _ := plist.Marshal(map[string]any{"a": "b"}, plist.XMLFormat)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "no input"},
		{"whitespace", " \n\t", "no input"},
		{"truncated", string(valid[:len(valid)-20]), "not a valid property list"},
		{"array root", `<?xml version="1.0"?><plist version="1.0"><array><string>a</string></array></plist>`, "root is array, expected a dictionary"},
		{"string root", `<?xml version="1.0"?><plist version="1.0"><string>a</string></plist>`, "root is string, expected a dictionary"},
		{"json", `{"JSS_URL": "https://x"}`, "not"},
		{"plain text", "JSS_URL=https://example", "not an XML or binary property list"},
		{"binary garbage", "bplist00\x00\x01\x02", "not a valid property list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("Decode(%q) succeeded, want error containing %q", tt.in, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "env.plist")
	data, _ := plist.Marshal(map[string]any{"JSS_URL": "https://jamf.example"}, plist.BinaryFormat)
	if err := os.WriteFile(good, data, 0o600); err != nil {
		t.Fatal(err)
	}
	env, err := ReadFile(good, nil)
	if err != nil || env["JSS_URL"] != "https://jamf.example" {
		t.Fatalf("ReadFile = %v, %v", env, err)
	}
	env, err = ReadFile("-", bytes.NewReader(data))
	if err != nil || env["JSS_URL"] != "https://jamf.example" {
		t.Fatalf("ReadFile(-) = %v, %v", env, err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.plist"), nil); err == nil || !strings.Contains(err.Error(), "open input plist") {
		t.Errorf("missing file: err = %v", err)
	}
	if os.Geteuid() != 0 { // root reads anything
		unreadable := filepath.Join(dir, "locked.plist")
		os.WriteFile(unreadable, data, 0o000)
		if _, err := ReadFile(unreadable, nil); err == nil {
			t.Errorf("unreadable file: no error")
		}
	}
	if _, err := ReadFile(dir, nil); err == nil {
		t.Errorf("directory as input: no error")
	}
}

func TestFromArgs(t *testing.T) {
	env, err := FromArgs([]string{"JSS_URL=https://x/?a=b", "pkg_name=My App.pkg", "empty="})
	if err != nil {
		t.Fatal(err)
	}
	want := Env{"JSS_URL": "https://x/?a=b", "pkg_name": "My App.pkg", "empty": ""}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("got %v, want %v", env, want)
	}
	for _, bad := range []string{"noequals", "=value"} {
		if _, err := FromArgs([]string{bad}); err == nil || !strings.Contains(err.Error(), "illegal argument") {
			t.Errorf("FromArgs(%q) err = %v, want illegal argument", bad, err)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "out.plist")
	if err := WriteFile(name, nil, Env{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	env, err := ReadFile(name, nil)
	if err != nil || env["a"] != "b" {
		t.Fatalf("read back = %v, %v", env, err)
	}
	if _, err := os.Stat(name + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind")
	}
}

func TestEncodeFallsBackToBinaryForControlCharacters(t *testing.T) {
	for _, env := range []Env{
		{"RECIPE_PATH": "/Us\x10\x00s/x"},
		{"nested": []any{map[string]any{"k": "bad\x01"}}},
		{"bad\x02key": "v"},
		{"crlf": "line1\r\nline2"},
	} {
		out, err := Encode(env)
		if err != nil {
			t.Fatalf("Encode(%q): %v", env, err)
		}
		back, err := Decode(out)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !reflect.DeepEqual(back, env) {
			t.Errorf("round trip changed %q into %q", env, back)
		}
	}
	out, _ := Encode(Env{"ok": "tab\tand\nnewline ünïcødé"})
	if !bytes.HasPrefix(out, []byte("<?xml")) {
		t.Errorf("plain text was not written as XML")
	}
}

func TestEncodeNaNWithControlCharacters(t *testing.T) {
	env := Env{"nan": math.NaN(), "control": "bell\x07", "pkg_uploaded": true}
	out, err := Encode(env)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	back, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if back["pkg_uploaded"] != true || !math.IsNaN(back["nan"].(float64)) {
		t.Errorf("round trip lost the encodable keys: %#v", back)
	}
	if _, ok := back["control"]; ok {
		t.Errorf("a value neither format can carry was written: %#v", back["control"])
	}
}

// TestDecodeRefusesDatesAutoPkgCannotHold: a binary plist can carry a date
// the plist library would not write back unchanged (past 2262, before 1678,
// past Python's 9999); such a date is refused by name.
func TestDecodeRefusesDatesAutoPkgCannotHold(t *testing.T) {
	epoch := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	placeholder := time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		seconds float64 // since 2001, as a binary plist stores a date
		wantErr bool
	}{
		{"2026", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).Sub(epoch).Seconds(), false},
		{"2200", time.Date(2200, 12, 31, 0, 0, 0, 0, time.UTC).Sub(epoch).Seconds(), false},
		{"2268", time.Date(2268, 12, 14, 0, 0, 0, 0, time.UTC).Sub(epoch).Seconds(), true},
		{"far future", 1e15, true},
		{"before year 1", -1e12, true},
	} {
		data, err := plist.Marshal(map[string]any{"last_modified": []any{placeholder}}, plist.BinaryFormat)
		if err != nil {
			t.Fatal(err)
		}
		// The library's encoder cannot write such dates itself: patch the
		// date object (marker 0x33, then a big-endian float64) in place.
		var old, patched [9]byte
		old[0], patched[0] = 0x33, 0x33
		binary.BigEndian.PutUint64(old[1:], math.Float64bits(placeholder.Sub(epoch).Seconds()))
		binary.BigEndian.PutUint64(patched[1:], math.Float64bits(tc.seconds))
		if bytes.Count(data, old[:]) != 1 {
			t.Fatalf("date object not found once in %x", data)
		}
		data = bytes.Replace(data, old[:], patched[:], 1)
		_, err = Decode(data)
		if tc.wantErr != (err != nil) {
			t.Fatalf("%s: err = %v, want error %v", tc.name, err, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "input last_modified: date in the year") {
			t.Errorf("%s: error does not name the key: %v", tc.name, err)
		}
	}
}

// TestFractionalDatesRoundTrip: a date with a fraction of a second, as a
// binary plist from AutoPkg may carry, goes back out as it came (to the
// millisecond; the rest is float noise), so the output is binary.
func TestFractionalDatesRoundTrip(t *testing.T) {
	when := time.Date(2026, 11, 24, 9, 10, 24, 546875000, time.UTC)
	in, err := plist.Marshal(map[string]any{"last_modified": when, "ok": "x"}, plist.BinaryFormat)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Encode(env)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("bplist")) {
		t.Errorf("a fractional date went out as XML, which drops the fraction:\n%s", out)
	}
	back, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := back["last_modified"].(time.Time); !got.Equal(when.Round(time.Millisecond)) {
		t.Errorf("date came back as %v, want %v", got, when)
	}
}
