package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/macho"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testVersion = "0.3.0+snapshot.abc1234"

// thinMachO is a minimal 64-bit Mach-O executable header for cpu, followed
// by payload (where a real binary carries its stamped version string).
func thinMachO(cpu macho.Cpu, payload string) []byte {
	return thinMachOSigned(cpu, payload, false)
}

// thinMachOSigned is thinMachO, with an LC_CODE_SIGNATURE load command
// (pointing at no data) when signed is set.
func thinMachOSigned(cpu macho.Cpu, payload string, signed bool) []byte {
	var b bytes.Buffer
	h := macho.FileHeader{Magic: macho.Magic64, Cpu: cpu, Type: macho.TypeExec}
	if signed {
		h.Ncmd, h.Cmdsz = 1, 16
	}
	binary.Write(&b, binary.LittleEndian, h)
	b.Write(make([]byte, 4)) // reserved word of mach_header_64
	if signed {
		binary.Write(&b, binary.LittleEndian, []uint32{uint32(lcCodeSignature), 16, 0, 0})
	}
	b.WriteString(payload)
	return b.Bytes()
}

// fatMachO joins thin files as lipo does: a big-endian fat header, then
// each slice aligned to 2^14 bytes.
func fatMachO(thins map[macho.Cpu][]byte, order ...macho.Cpu) []byte {
	const align = 14
	var hdr bytes.Buffer
	binary.Write(&hdr, binary.BigEndian, []uint32{macho.MagicFat, uint32(len(order))})
	offset := uint32(8 + 20*len(order))
	var offsets []uint32
	for _, cpu := range order {
		offset = (offset + 1<<align - 1) &^ (1<<align - 1)
		offsets = append(offsets, offset)
		binary.Write(&hdr, binary.BigEndian, []uint32{uint32(cpu), 0, offset, uint32(len(thins[cpu])), align})
		offset += uint32(len(thins[cpu]))
	}
	out := hdr.Bytes()
	for i, cpu := range order {
		out = append(out, make([]byte, int(offsets[i])-len(out))...)
		out = append(out, thins[cpu]...)
	}
	return out
}

type distSpec struct {
	bin          []byte
	members      map[string]string // archive member (under the top folder) -> content
	corruptSum   bool
	extraBinary  bool
	builtVersion string
}

func goodSpec() distSpec {
	bin := fatMachO(map[macho.Cpu][]byte{
		macho.CpuArm64: thinMachO(macho.CpuArm64, "jcds2-uploader "+testVersion),
		macho.CpuAmd64: thinMachO(macho.CpuAmd64, "jcds2-uploader "+testVersion),
	}, macho.CpuAmd64, macho.CpuArm64)
	return distSpec{
		bin: bin,
		members: map[string]string{
			"jcds2-uploader":                      string(bin),
			"README.md":                           "# readme",
			"LICENSE":                             "Apache License",
			"CHANGELOG.md":                        "# Changelog",
			"recipes/JCDS2PackageUploader.py":     "x = 1\nBINARY_VERSION = \"0.3.0\"\n",
			"recipes/JCDS2PackageUploader.recipe": "<plist/>",
		},
		builtVersion: testVersion,
	}
}

func writeDist(t *testing.T, s distSpec) string {
	t.Helper()
	dist := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	binPath := filepath.Join(dist, "jcds2-uploader_darwin_all", "jcds2-uploader")
	must(os.MkdirAll(filepath.Dir(binPath), 0o755))
	must(os.WriteFile(binPath, s.bin, 0o755))

	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	top := "jcds2-uploader_" + testVersion + "_macos_universal/"
	must(tw.WriteHeader(&tar.Header{Name: top, Typeflag: tar.TypeDir, Mode: 0o755}))
	for name, content := range s.members {
		mode := int64(0o644)
		if name == "jcds2-uploader" {
			mode = 0o755
		}
		must(tw.WriteHeader(&tar.Header{Name: top + name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(content))}))
		_, err := tw.Write([]byte(content))
		must(err)
	}
	must(tw.Close())
	must(gz.Close())
	archive := filepath.Join(dist, strings.TrimSuffix(top, "/")+".tar.gz")
	must(os.WriteFile(archive, tgz.Bytes(), 0o644))

	sum := sha256.Sum256(tgz.Bytes())
	hexsum := hex.EncodeToString(sum[:])
	if s.corruptSum {
		hexsum = strings.Repeat("0", 64)
	}
	sums := filepath.Join(dist, "checksums.txt")
	must(os.WriteFile(sums, []byte(hexsum+"  "+filepath.Base(archive)+"\n"), 0o644))

	arts := []artifact{
		// As goreleaser v2.16 writes it with universal_binaries.replace.
		{Name: "jcds2-uploader", Path: binPath, Type: "Binary", Goarch: "all"},
		{Name: filepath.Base(archive), Path: archive, Type: "Archive"},
		{Name: "checksums.txt", Path: sums, Type: "Checksum"},
	}
	if s.extraBinary {
		arts = append(arts, artifact{Name: "jcds2-uploader", Path: binPath, Type: "Binary", Goarch: "arm64"})
	}
	data, err := json.Marshal(arts)
	must(err)
	must(os.WriteFile(filepath.Join(dist, "artifacts.json"), data, 0o644))
	data, err = json.Marshal(map[string]string{"version": s.builtVersion})
	must(err)
	must(os.WriteFile(filepath.Join(dist, "metadata.json"), data, 0o644))
	return dist
}

func TestCheck(t *testing.T) {
	thinOnly := thinMachO(macho.CpuArm64, "jcds2-uploader "+testVersion)
	armOnly := fatMachO(map[macho.Cpu][]byte{macho.CpuArm64: thinOnly}, macho.CpuArm64)
	unstamped := fatMachO(map[macho.Cpu][]byte{
		macho.CpuArm64: thinMachO(macho.CpuArm64, "jcds2-uploader "+testVersion),
		macho.CpuAmd64: thinMachO(macho.CpuAmd64, "jcds2-uploader dev"),
	}, macho.CpuAmd64, macho.CpuArm64)
	tests := []struct {
		name    string
		edit    func(*distSpec)
		signed  bool
		wantErr string
	}{
		{"complete release", func(*distSpec) {}, false, ""},
		{"signature required but absent", func(*distSpec) {}, true, "slice has no code signature"},
		{"signature required, one slice signed", func(s *distSpec) {
			s.bin = fatMachO(map[macho.Cpu][]byte{
				macho.CpuArm64: thinMachOSigned(macho.CpuArm64, "jcds2-uploader "+testVersion, true),
				macho.CpuAmd64: thinMachO(macho.CpuAmd64, "jcds2-uploader "+testVersion),
			}, macho.CpuAmd64, macho.CpuArm64)
			s.members["jcds2-uploader"] = string(s.bin)
		}, true, "CpuAmd64 slice has no code signature"},
		{"signature required, both slices signed", func(s *distSpec) {
			s.bin = fatMachO(map[macho.Cpu][]byte{
				macho.CpuArm64: thinMachOSigned(macho.CpuArm64, "jcds2-uploader "+testVersion, true),
				macho.CpuAmd64: thinMachOSigned(macho.CpuAmd64, "jcds2-uploader "+testVersion, true),
			}, macho.CpuAmd64, macho.CpuArm64)
			s.members["jcds2-uploader"] = string(s.bin)
		}, true, ""},
		{"thin binary", func(s *distSpec) { s.bin = thinOnly; s.members["jcds2-uploader"] = string(thinOnly) }, false, "thin Mach-O"},
		{"one slice", func(s *distSpec) { s.bin = armOnly; s.members["jcds2-uploader"] = string(armOnly) }, false, "slices [CpuArm64], want"},
		{"slice without the version", func(s *distSpec) { s.bin = unstamped; s.members["jcds2-uploader"] = string(unstamped) }, false, "CpuAmd64 slice does not carry version"},
		{"no LICENSE in the archive", func(s *distSpec) { delete(s.members, "LICENSE") }, false, "missing LICENSE"},
		{"no shim in the archive", func(s *distSpec) { delete(s.members, "recipes/JCDS2PackageUploader.py") }, false, "missing recipes/JCDS2PackageUploader.py"},
		{"shim of another version", func(s *distSpec) {
			s.members["recipes/JCDS2PackageUploader.py"] = "BINARY_VERSION = \"0.2.0\"\n"
		}, false, "BINARY_VERSION is not 0.3.0"},
		{"archive binary differs", func(s *distSpec) { s.members["jcds2-uploader"] = "other" }, false, "differs from"},
		{"wrong checksum", func(s *distSpec) { s.corruptSum = true }, false, "the file's SHA-256 is"},
		{"thin binaries published too", func(s *distSpec) { s.extraBinary = true }, false, "thin binary"},
		{"built as another version", func(s *distSpec) { s.builtVersion = "0.4.0" }, false, "want VERSION (0.3.0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := goodSpec()
			tt.edit(&s)
			report, err := check(writeDist(t, s), "0.3.0", tt.signed)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				if !strings.Contains(report, "arm64 + x86_64") {
					t.Errorf("report %q", report)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("check error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
