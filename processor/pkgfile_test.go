package processor

import (
	"archive/zip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, path string, size int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolvePkgRelativeSearch(t *testing.T) {
	root := t.TempDir()
	recipes := filepath.Join(root, "RecipeRepos")
	write(t, filepath.Join(recipes, "sibling", "pkgs", "Sib.pkg"), 10)
	write(t, filepath.Join(root, "Overrides", "Over.pkg"), 10)
	write(t, filepath.Join(root, "Search", "Found.dmg"), 10)
	cfg := &Config{RecipeDir: filepath.Join(recipes, "mine"), RecipeOverrideDirs: []string{filepath.Join(root, "Overrides")}, RecipeSearchDirs: []string{filepath.Join(root, "Search")}}
	os.MkdirAll(cfg.RecipeDir, 0o755)
	for rel, want := range map[string]string{
		"pkgs/Sib.pkg": filepath.Join(recipes, "sibling", "pkgs", "Sib.pkg"),
		"Over.pkg":     filepath.Join(root, "Overrides", "Over.pkg"),
		"Found.dmg":    filepath.Join(root, "Search", "Found.dmg"),
	} {
		cfg.PkgPath = rel
		f, err := ResolvePkg(cfg)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if f.Path != want || f.Name != filepath.Base(want) || f.Size != 10 {
			t.Errorf("%s resolved to %+v, want %s", rel, f, want)
		}
	}
	cfg.PkgPath = "Nowhere.pkg"
	if _, err := ResolvePkg(cfg); err == nil || !strings.Contains(err.Error(), "RECIPE_SEARCH_DIRS") {
		t.Errorf("missing relative path: %v", err)
	}
}

func TestResolvePkgRefusals(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "empty.pkg"), 0)
	write(t, filepath.Join(dir, "App.exe"), 10)
	write(t, filepath.Join(dir, "App.pkg"), 10)
	os.MkdirAll(filepath.Join(dir, "Folder"), 0o755)
	tests := []struct {
		path, name, want string
	}{
		{"empty.pkg", "", "is empty (0 bytes)"},
		{"App.exe", "", "only accepts .pkg, .mpkg, .dmg and .zip"},
		{"App.pkg", "Renamed.txt", "only accepts"},
		{"App.pkg", "sub/App.pkg", "may not contain /"},
		{"Folder", "", "is a folder but not a bundle package"},
		{"missing.pkg", "", "package not found"},
	}
	for _, tt := range tests {
		_, err := ResolvePkg(&Config{PkgPath: filepath.Join(dir, tt.path), PkgName: tt.name})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s (%s): err = %v, want %q", tt.path, tt.name, err, tt.want)
		}
	}
	f, err := ResolvePkg(&Config{PkgPath: filepath.Join(dir, "App.pkg"), PkgName: "New Name (1) & ü.PKG"})
	if err != nil || f.Name != "New Name (1) & ü.PKG" {
		t.Errorf("rename: %+v %v", f, err)
	}
}

func TestBundleZip(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "Old.mpkg")
	write(t, filepath.Join(bundle, "Contents", "Info.plist"), 5)
	write(t, filepath.Join(bundle, "Contents", "Packages", "a.pkg", "Contents", "Archive.pax.gz"), 100)
	os.Symlink("Packages/a.pkg", filepath.Join(bundle, "Contents", "link"))
	cache := filepath.Join(dir, "cache")

	f, err := ResolvePkg(&Config{PkgPath: bundle, RecipeCacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "Old.mpkg.zip" || f.Path != filepath.Join(cache, "Old.mpkg.zip") || !f.Zipped {
		t.Fatalf("zip = %+v", f)
	}
	zr, err := zip.OpenReader(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, zf := range zr.File {
		names = append(names, zf.Name)
	}
	zr.Close()
	sort.Strings(names)
	for _, want := range []string{"Old.mpkg/", "Old.mpkg/Contents/Info.plist", "Old.mpkg/Contents/Packages/a.pkg/Contents/Archive.pax.gz", "Old.mpkg/Contents/link"} {
		if i := sort.SearchStrings(names, want); i >= len(names) || names[i] != want {
			t.Errorf("zip lacks %s: %v", want, names)
		}
	}

	// Reused while fresh, rebuilt when the bundle changes.
	before, _ := os.Stat(f.Path)
	f2, err := ResolvePkg(&Config{PkgPath: bundle, PkgName: "Old.mpkg.zip", RecipeCacheDir: cache})
	if err != nil || f2.Name != "Old.mpkg.zip" {
		t.Fatalf("reuse: %+v %v", f2, err)
	}
	after, _ := os.Stat(f.Path)
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("fresh zip was rebuilt")
	}
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(bundle, "Contents", "Info.plist"), future, future)
	if _, err := ResolvePkg(&Config{PkgPath: bundle, RecipeCacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	rebuilt, _ := os.Stat(f.Path)
	if rebuilt.ModTime().Equal(before.ModTime()) {
		t.Errorf("stale zip reused after the bundle changed")
	}

	// A pkg_name without .zip gets it once.
	f3, _ := ResolvePkg(&Config{PkgPath: bundle, PkgName: "Custom.mpkg", RecipeCacheDir: cache})
	if f3.Name != "Custom.mpkg.zip" {
		t.Errorf("name = %s", f3.Name)
	}
}

func TestBundleDryRunMakesNoZip(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "Dry.pkg")
	write(t, filepath.Join(bundle, "Contents", "Info.plist"), 5)
	cache := filepath.Join(dir, "cache")
	f, err := ResolvePkg(&Config{PkgPath: bundle, RecipeCacheDir: cache, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "Dry.pkg.zip" || f.Size != 0 || !f.Zipped {
		t.Errorf("dry run = %+v", f)
	}
	if _, err := os.Stat(f.Path); !os.IsNotExist(err) {
		t.Errorf("a dry run wrote %s", f.Path)
	}
	// With a fresh zip from an earlier run, the dry run looks at it.
	if _, err := ResolvePkg(&Config{PkgPath: bundle, RecipeCacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	f, err = ResolvePkg(&Config{PkgPath: bundle, RecipeCacheDir: cache, DryRun: true})
	if err != nil || f.Size == 0 {
		t.Errorf("dry run with a fresh zip = %+v, %v", f, err)
	}
}
