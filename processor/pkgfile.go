package processor

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// acceptedExtensions are the file types JCDS 2.0 takes; anything else is
// refused by the service with "Unsupported file extension" after the upload.
var acceptedExtensions = []string{".pkg", ".mpkg", ".dmg", ".zip"}

// PkgFile is the local file that will be uploaded.
type PkgFile struct {
	Path    string // the file to send: the package, or the zip made from a bundle
	Name    string // file name in the distribution point (pkg_name)
	Size    int64
	Zipped  bool // Path is a zip made from a bundle package
	ModTime time.Time
}

// ResolvePkg finds the package named by cfg.PkgPath, zips a bundle package,
// and settles the name it will have in the distribution point. It checks
// everything about the local file before any network call, so a bad path
// fails fast and says what to fix.
func ResolvePkg(cfg *Config) (*PkgFile, error) {
	path, err := findPkgPath(cfg)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", path, err)
	}
	name := cfg.PkgName
	f := &PkgFile{Path: path}
	if info.IsDir() {
		if !isBundle(path) {
			return nil, fmt.Errorf("pkg_path %s is a folder but not a bundle package (no Contents/Info.plist, or no .pkg/.mpkg extension); point pkg_path at a .pkg, .mpkg, .dmg or .zip file", path)
		}
		if name == "" {
			name = filepath.Base(path)
		}
		if !strings.HasSuffix(strings.ToLower(name), ".zip") {
			name += ".zip"
		}
		var zipPath string
		if cfg.DryRun {
			// A dry run changes nothing, not even the cache: it looks at a
			// fresh zip if there is one, else reports the zip a real run
			// would make (of unknown size).
			fresh, ok, err := freshZip(path, cfg.RecipeCacheDir)
			if err != nil {
				return nil, err
			}
			if !ok {
				f.Path = fresh
				f.Name, f.Zipped = name, true
				return f, nil
			}
			zipPath = fresh
		} else if zipPath, err = zipBundle(path, cfg.RecipeCacheDir); err != nil {
			return nil, err
		}
		f.Path, f.Zipped = zipPath, true
		if info, err = os.Stat(zipPath); err != nil {
			return nil, fmt.Errorf("zip of bundle package: %w", err)
		}
	} else if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("pkg_path %s is not a regular file", path)
	}
	if name == "" {
		name = filepath.Base(f.Path)
	}
	if strings.ContainsAny(name, "/\x00") {
		return nil, fmt.Errorf("pkg_name %q may not contain / or NUL: it is a file name, not a path", name)
	}
	if !hasAcceptedExtension(name) {
		return nil, fmt.Errorf("pkg_name %q: the JCDS only accepts .pkg, .mpkg, .dmg and .zip files; rename the file or set pkg_name with one of those extensions", name)
	}
	f.Name = name
	f.Size = info.Size()
	f.ModTime = info.ModTime()
	if f.Size == 0 {
		return nil, fmt.Errorf("package %s is empty (0 bytes); the package build probably failed, so there is nothing worth uploading", f.Path)
	}
	rf, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("package %s is not readable: %w", f.Path, err)
	}
	rf.Close()
	return f, nil
}

func hasAcceptedExtension(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, a := range acceptedExtensions {
		if ext == a {
			return true
		}
	}
	return false
}

// findPkgPath resolves a relative pkg_path the way the reference does:
// as given, then beside the recipe, in the recipe folder's siblings, then
// in the override and search folders.
func findPkgPath(cfg *Config) (string, error) {
	p := expandHome(cfg.PkgPath)
	if filepath.IsAbs(p) {
		if _, err := os.Lstat(p); err != nil {
			return "", fmt.Errorf("package not found at pkg_path %s: check that the pkg recipe built it and the path is right", p)
		}
		return p, nil
	}
	var candidates []string
	candidates = append(candidates, p)
	if cfg.RecipeDir != "" {
		candidates = append(candidates, filepath.Join(cfg.RecipeDir, p))
		parent := filepath.Dir(cfg.RecipeDir)
		if entries, err := os.ReadDir(parent); err == nil {
			for _, e := range entries {
				if e.IsDir() {
					candidates = append(candidates, filepath.Join(parent, e.Name(), p))
				}
			}
		}
	}
	for _, dir := range append(append([]string(nil), cfg.RecipeOverrideDirs...), cfg.RecipeSearchDirs...) {
		candidates = append(candidates, filepath.Join(expandHome(dir), p))
	}
	for _, c := range candidates {
		if _, err := os.Lstat(c); err == nil {
			abs, err := filepath.Abs(c)
			if err != nil {
				return c, nil
			}
			return abs, nil
		}
	}
	return "", fmt.Errorf("package %q not found: a relative pkg_path is looked for in the current folder, RECIPE_DIR, its sibling folders, RECIPE_OVERRIDE_DIRS and RECIPE_SEARCH_DIRS; give an absolute path", cfg.PkgPath)
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// isBundle reports whether dir looks like a bundle-style package.
func isBundle(dir string) bool {
	ext := strings.ToLower(filepath.Ext(dir))
	if ext != ".pkg" && ext != ".mpkg" {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, "Contents"))
	return err == nil
}

func zipPathFor(bundle, cacheDir string) string {
	dir := cacheDir
	if dir == "" {
		dir = filepath.Dir(bundle)
	}
	return filepath.Join(dir, filepath.Base(bundle)+".zip")
}

// zipBundle makes (or reuses) <bundle>.zip holding the bundle folder itself,
// as Jamf Pro expects. An existing zip is reused only when it is newer than
// everything in the bundle, so a rebuilt bundle is never shipped stale.
func zipBundle(bundle, cacheDir string) (string, error) {
	zipPath, fresh, err := freshZip(bundle, cacheDir)
	if err != nil || fresh {
		return zipPath, err
	}
	if err := os.MkdirAll(filepath.Dir(zipPath), 0o755); err != nil {
		return "", fmt.Errorf("zip bundle package: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(zipPath), ".jcds2-zip-*")
	if err != nil {
		return "", fmt.Errorf("zip bundle package: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeZip(tmp, bundle); err != nil {
		tmp.Close()
		return "", fmt.Errorf("zip bundle package %s: %w", bundle, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("zip bundle package %s: %w", bundle, err)
	}
	if err := os.Rename(tmp.Name(), zipPath); err != nil {
		return "", fmt.Errorf("zip bundle package %s: %w", bundle, err)
	}
	return zipPath, nil
}

// freshZip returns where the bundle's zip goes and whether one is there
// that is newer than everything in the bundle.
func freshZip(bundle, cacheDir string) (zipPath string, fresh bool, err error) {
	zipPath = zipPathFor(bundle, cacheDir)
	newest, err := newestModTime(bundle)
	if err != nil {
		return zipPath, false, fmt.Errorf("read bundle package %s: %w", bundle, err)
	}
	zi, err := os.Stat(zipPath)
	return zipPath, err == nil && zi.Mode().IsRegular() && !zi.ModTime().Before(newest), nil
}

func newestModTime(root string) (time.Time, error) {
	var newest time.Time
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.ModTime().After(newest) {
			newest = info.ModTime()
		}
		return nil
	})
	return newest, err
}

func writeZip(w io.Writer, bundle string) error {
	zw := zip.NewWriter(w)
	base := filepath.Dir(bundle)
	err := filepath.WalkDir(bundle, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		hdr, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		switch {
		case info.IsDir():
			hdr.Name += "/"
			_, err = zw.CreateHeader(hdr)
			return err
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			hdr.Method = zip.Store
			zf, err := zw.CreateHeader(hdr)
			if err != nil {
				return err
			}
			_, err = io.WriteString(zf, target)
			return err
		case !info.Mode().IsRegular():
			return fmt.Errorf("%s: unsupported file type %s in bundle", p, info.Mode().Type())
		}
		hdr.Method = zip.Deflate
		zf, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(zf, src)
		return err
	})
	if err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return errors.Join(errors.New("finish zip"), err)
	}
	return nil
}
