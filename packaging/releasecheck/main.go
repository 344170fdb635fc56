// Command releasecheck verifies what `goreleaser release` left in dist/
// before anything is published: the universal binary has an arm64 and an
// x86_64 slice, each stamped with the release's version; the archive holds
// the binary, the AutoPkg processor, its stub recipe, README, LICENSE and
// CHANGELOG; checksums.txt matches the archive; the Homebrew cask installs
// that archive (its URL, version and SHA-256), links the binary and puts the
// processor where AutoPkg looks. Pure Go (debug/macho), so it runs on Linux
// CI as well as on the macOS release runner.
//
//	go run ./packaging/releasecheck -dist dist -version 0.3.0
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/macho"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func main() {
	dist := flag.String("dist", "dist", "goreleaser's dist `folder`")
	release := flag.String("version", "", "the VERSION file's `semver`; the stamped version must be it, or it plus build metadata")
	signed := flag.Bool("signed", false, "require a code signature in every slice (a release built with the signing secrets)")
	flag.Parse()
	if *release == "" {
		fmt.Fprintln(os.Stderr, "releasecheck: -version is required")
		os.Exit(2)
	}
	report, err := check(*dist, *release, *signed)
	if err != nil {
		fmt.Fprintf(os.Stderr, "releasecheck: %v\n", err)
		os.Exit(1)
	}
	fmt.Print(report)
}

// artifact is the part of goreleaser's dist/artifacts.json used here.
type artifact struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Type   string `json:"type"`
	Goarch string `json:"goarch,omitempty"`
}

// isUniversal tells the universal binary apart: goreleaser lists it as a
// "Binary" with goarch "all" once it replaces the thin ones.
func (a artifact) isUniversal() bool {
	return a.Type == "Universal Binary" || (a.Type == "Binary" && a.Goarch == "all")
}

// archiveMembers are the files every release archive must hold, relative
// to the folder the archive wraps them in, with whether each is executable.
var archiveMembers = map[string]bool{
	"jcds2-uploader":                      true,
	"README.md":                           false,
	"LICENSE":                             false,
	"CHANGELOG.md":                        false,
	"recipes/JCDS2PackageUploader.py":     false,
	"recipes/JCDS2PackageUploader.recipe": false,
}

// wantArchs are the slices of the universal binary: Apple silicon and Intel.
var wantArchs = []macho.Cpu{macho.CpuArm64, macho.CpuAmd64}

var shimVersionRE = regexp.MustCompile(`(?m)^BINARY_VERSION = "([^"]*)"$`)

func check(dist, release string, signed bool) (string, error) {
	var meta struct {
		Version string `json:"version"`
	}
	if err := readJSON(filepath.Join(dist, "metadata.json"), &meta); err != nil {
		return "", err
	}
	if meta.Version != release && !strings.HasPrefix(meta.Version, release+"+") {
		return "", fmt.Errorf("goreleaser built version %q; want VERSION (%s), optionally with +build metadata", meta.Version, release)
	}
	var arts []artifact
	if err := readJSON(filepath.Join(dist, "artifacts.json"), &arts); err != nil {
		return "", err
	}
	var universals []artifact
	for _, a := range arts {
		switch {
		case a.isUniversal():
			universals = append(universals, a)
		case a.Type == "Binary":
			return "", fmt.Errorf("thin binary %s (%s) is among the artifacts; only the universal binary should be", a.Path, a.Goarch)
		}
	}
	if len(universals) != 1 {
		return "", fmt.Errorf("want exactly one universal binary artifact, found %d", len(universals))
	}
	universal := universals[0]
	archive, err := one(arts, "Archive")
	if err != nil {
		return "", err
	}
	sums, err := one(arts, "Checksum")
	if err != nil {
		return "", err
	}
	cask, err := one(arts, "Homebrew Cask")
	if err != nil {
		return "", err
	}

	bin, err := os.ReadFile(universal.Path)
	if err != nil {
		return "", fmt.Errorf("universal binary: %w", err)
	}
	signatures, err := checkUniversal(bin, meta.Version, signed)
	if err != nil {
		return "", fmt.Errorf("%s: %w", universal.Path, err)
	}
	inArchive, top, err := checkArchive(archive.Path, release)
	if err != nil {
		return "", fmt.Errorf("%s: %w", archive.Path, err)
	}
	if !bytes.Equal(inArchive, bin) {
		return "", fmt.Errorf("%s: its jcds2-uploader differs from %s", archive.Path, universal.Path)
	}
	archiveSum, err := fileSHA256(archive.Path)
	if err != nil {
		return "", err
	}
	if err := checkSums(sums.Path, path.Base(archive.Path), archiveSum); err != nil {
		return "", fmt.Errorf("%s: %w", sums.Path, err)
	}
	if err := checkCask(cask.Path, meta.Version, path.Base(archive.Path), archiveSum, top); err != nil {
		return "", fmt.Errorf("%s: %w", cask.Path, err)
	}
	return fmt.Sprintf("ok: %s (arm64 + x86_64, version %s; code signature: %s)\nok: %s\nok: %s\nok: %s\n",
		universal.Path, meta.Version, signatures, archive.Path, sums.Path, cask.Path), nil
}

func readJSON(file string, v any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%w (run goreleaser release --snapshot first)", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func one(arts []artifact, typ string) (artifact, error) {
	var found []artifact
	for _, a := range arts {
		if a.Type == typ {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		return artifact{}, fmt.Errorf("want exactly one %q artifact, found %d", typ, len(found))
	}
	return found[0], nil
}

// lcCodeSignature is LC_CODE_SIGNATURE, the load command that points at a
// slice's code signature (ad-hoc or Developer ID).
const lcCodeSignature macho.LoadCmd = 0x1d

// checkUniversal checks that bin is a fat Mach-O file with exactly the
// wanted slices, each an executable that carries the stamped version (and
// a code signature when signed is set). It returns which slices are signed.
func checkUniversal(bin []byte, version string, signed bool) (string, error) {
	fat, err := macho.NewFatFile(bytes.NewReader(bin))
	if err != nil {
		if errors.Is(err, macho.ErrNotFat) {
			return "", errors.New("not a universal binary (a thin Mach-O file)")
		}
		return "", fmt.Errorf("not a universal binary: %w", err)
	}
	defer fat.Close()
	var got []macho.Cpu
	var signatures []string
	for _, a := range fat.Arches {
		got = append(got, a.Cpu)
		if a.Type != macho.TypeExec {
			return "", fmt.Errorf("%v slice is a %v, not an executable", a.Cpu, a.Type)
		}
		slice := bin[a.Offset : a.Offset+a.Size]
		if !bytes.Contains(slice, []byte(version)) {
			return "", fmt.Errorf("%v slice does not carry version %q (-X main.version)", a.Cpu, version)
		}
		has := false
		for _, l := range a.Loads {
			if raw := l.Raw(); len(raw) >= 4 && macho.LoadCmd(a.ByteOrder.Uint32(raw)) == lcCodeSignature {
				has = true
			}
		}
		if signed && !has {
			return "", fmt.Errorf("%v slice has no code signature", a.Cpu)
		}
		signatures = append(signatures, fmt.Sprintf("%v %v", a.Cpu, map[bool]string{true: "yes", false: "no"}[has]))
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	want := append([]macho.Cpu(nil), wantArchs...)
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return "", fmt.Errorf("slices %v, want %v", got, want)
	}
	return strings.Join(signatures, ", "), nil
}

// checkArchive checks the archive's members and returns its binary and the
// folder it wraps them in.
func checkArchive(file, release string) ([]byte, string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, "", err
	}
	tr := tar.NewReader(gz)
	seen := map[string]bool{}
	var bin []byte
	top := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", err
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		dir, rest, ok := strings.Cut(h.Name, "/")
		if !ok {
			return nil, "", fmt.Errorf("%s is not inside the archive's folder", h.Name)
		}
		if top == "" {
			top = dir
		} else if dir != top {
			return nil, "", fmt.Errorf("two top folders: %s and %s", top, dir)
		}
		exec, wanted := archiveMembers[rest]
		if !wanted {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return nil, "", fmt.Errorf("%s is not a regular file", h.Name)
		}
		if exec && h.Mode&0o111 != 0o111 {
			return nil, "", fmt.Errorf("%s is not executable (mode %o)", h.Name, h.Mode)
		}
		seen[rest] = true
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, "", err
		}
		switch rest {
		case "jcds2-uploader":
			bin = data
		case "recipes/JCDS2PackageUploader.py":
			m := shimVersionRE.FindSubmatch(data)
			if m == nil || string(m[1]) != release {
				return nil, "", fmt.Errorf("the processor's BINARY_VERSION is not %s", release)
			}
		}
	}
	var missing []string
	for name := range archiveMembers {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, "", fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return bin, top, nil
}

// fileSHA256 is the hex SHA-256 of a file's content.
func fileSHA256(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// checkSums checks that checksums.txt lists the archive with its SHA-256.
func checkSums(file, name, want string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[1] == name {
			if fields[0] != want {
				return fmt.Errorf("lists %s for %s; the file's SHA-256 is %s", fields[0], fields[1], want)
			}
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("does not list %s", name)
}

// releaseDownload is where the release workflow publishes the archive (the
// repository named in .goreleaser.yaml); the cask's url must point there.
const releaseDownload = "https://github.com/jcds2-uploader/jcds2-uploader/releases/download/"

// caskProcessorDir is where the cask puts the processor: a folder AutoPkg
// searches by default (RECIPE_SEARCH_DIRS), which Homebrew expands.
const caskProcessorDir = "~/Library/AutoPkg/Recipes/jcds2-uploader"

// checkCask checks the Homebrew cask that goreleaser wrote for the archive:
// its name, version, the archive's SHA-256 and download URL, the binary
// stanza (the binary inside the archive's folder) and the processor's
// folder moved to where AutoPkg finds it.
func checkCask(file, version, archiveName, archiveSum, top string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	stanza := func(name string) ([]string, error) {
		var found []string
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
				found = append(found, rest)
			}
		}
		if len(found) != 1 {
			return nil, fmt.Errorf("want one %s stanza, found %d", name, len(found))
		}
		return found, nil
	}
	want := []struct{ stanza, value string }{
		{"cask", `"jcds2-uploader" do`},
		{"version", strconv.Quote(version)},
		{"sha256", strconv.Quote(archiveSum)},
		{"binary", strconv.Quote(top + "/jcds2-uploader")},
		{"artifact", strconv.Quote(top+"/recipes") + ", target: " + strconv.Quote(caskProcessorDir)},
	}
	for _, w := range want {
		got, err := stanza(w.stanza)
		if err != nil {
			return err
		}
		if got[0] != w.value {
			return fmt.Errorf("%s %s; want %s %s", w.stanza, got[0], w.stanza, w.value)
		}
	}
	url, err := stanza("url")
	if err != nil {
		return err
	}
	// goreleaser writes the version in the URL as Ruby's #{version}.
	u := strings.ReplaceAll(strings.Trim(url[0], `"`), "#{version}", version)
	tag, ok := strings.CutPrefix(u, releaseDownload)
	if ok {
		tag, ok = strings.CutSuffix(tag, "/"+archiveName)
	}
	if !ok || !releaseTagRE.MatchString(tag) {
		return fmt.Errorf("url %s is not %svX.Y.Z/%s", u, releaseDownload, archiveName)
	}
	return nil
}

// releaseTagRE is a release tag as the release workflow takes them (a
// snapshot without tags gets v0.0.0).
var releaseTagRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+[^/]*$`)
