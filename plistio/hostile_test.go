package plistio

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deepXML nests n arrays inside the environment dictionary.
func deepXML(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n" +
		`<plist version="1.0"><dict><key>JSS_URL</key><string>https://x</string><key>deep</key>`)
	b.WriteString(strings.Repeat("<array>", n))
	b.WriteString("<string>bottom</string>")
	b.WriteString(strings.Repeat("</array>", n))
	b.WriteString("</dict></plist>\n")
	return b.Bytes()
}

// binPlist writes a binary plist from objects already encoded (each a
// marker and its payload, references of refSize bytes), top object last.
func binPlist(objects [][]byte, refSize int) []byte {
	var b bytes.Buffer
	b.WriteString("bplist00")
	offsets := make([]uint64, len(objects))
	for i, o := range objects {
		offsets[i] = uint64(b.Len())
		b.Write(o)
	}
	tableAt := uint64(b.Len())
	for _, off := range offsets {
		var x [8]byte
		binary.BigEndian.PutUint64(x[:], off)
		b.Write(x[:]) // offset size 8
	}
	var t [32]byte
	t[6], t[7] = 8, byte(refSize)
	binary.BigEndian.PutUint64(t[8:], uint64(len(objects)))
	binary.BigEndian.PutUint64(t[16:], uint64(len(objects)-1))
	binary.BigEndian.PutUint64(t[24:], tableAt)
	b.Write(t[:])
	return b.Bytes()
}

func ref(i, size int) []byte {
	var x [8]byte
	binary.BigEndian.PutUint64(x[:], uint64(i))
	return x[8-size:]
}

// deepBinary is {"deep": [[[…"bottom"…]]]} with n arrays.
func deepBinary(n int) []byte {
	const rs = 4
	objs := [][]byte{append([]byte{0x56}, "bottom"...)} // #0
	for i := 1; i <= n; i++ {
		objs = append(objs, append([]byte{0xA1}, ref(i-1, rs)...))
	}
	objs = append(objs, append([]byte{0x54}, "deep"...))                              // key
	objs = append(objs, append(append([]byte{0xD1}, ref(n+1, rs)...), ref(n, rs)...)) // top dict
	return binPlist(objs, rs)
}

// laughs is {"x": a64} where a_k = [a_{k-1}, a_{k-1}]: a few hundred bytes
// that decode to 2^64 values.
func laughs() []byte {
	const rs = 1
	objs := [][]byte{{0x09}} // #0 true
	for i := 1; i <= 64; i++ {
		objs = append(objs, []byte{0xA2, byte(i - 1), byte(i - 1)})
	}
	objs = append(objs, []byte{0x51, 'x'})
	objs = append(objs, []byte{0xD1, 65, 64})
	return binPlist(objs, rs)
}

func TestDeepNestingRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string // "" means it decodes
	}{
		{"XML 1,000,000 levels", deepXML(1_000_000), "nests"},
		{"XML 101 levels", deepXML(maxDepth + 1), "nests"},
		{"XML 60 levels", deepXML(60), ""},
		{"XML with comments and CDATA", []byte(`<?xml version="1.0"?><plist version="1.0"><dict><!-- <array><array> --><key>a</key><string><![CDATA[<array><array>]]></string><key>b</key><array/><key>c</key><dict  /></dict></plist>`), ""},
		{"binary 1,000,000 levels", deepBinary(1_000_000), "nests"},
		{"binary 101 levels", deepBinary(maxDepth + 1), "nests"},
		{"binary 60 levels", deepBinary(60), ""},
		{"binary shared-object bomb", laughs(), "expands"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := Decode(tc.data)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "" && env["deep"] == nil && env["a"] == nil && env["x"] == nil:
				t.Fatalf("decoded to %v", env)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// A FILE.tmp symlink planted beside the output is neither followed nor
// replaced, and no temporary file is left behind.
func TestWriteFileIgnoresPlantedTmp(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.plist")
	if err := os.Symlink(victim, out+".tmp"); err != nil {
		t.Skip("no symlinks here:", err)
	}
	if err := WriteFile(out, nil, Env{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("the symlink's target was overwritten: %q", b)
	}
	env, err := ReadFile(out, nil)
	if err != nil || env["k"] != "v" {
		t.Errorf("output = %v, %v", env, err)
	}
	if fi, err := os.Lstat(out + ".tmp"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the planted symlink was touched: %v %v", fi, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("folder holds %v, want victim, out.plist, out.plist.tmp", names)
	}
}
