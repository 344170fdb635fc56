package jamf

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestCacheDirFor(t *testing.T) {
	tests := []struct {
		name    string
		goos    string
		env     []string
		want    string
		wantErr bool
	}{
		{"macOS ignores XDG_CACHE_HOME", "darwin", []string{"HOME=/Users/a", "XDG_CACHE_HOME=/x"}, "/Users/a/Library/Caches/jcds2-uploader", false},
		{"macOS without HOME", "darwin", []string{"XDG_CACHE_HOME=/x"}, "", true},
		{"Linux XDG_CACHE_HOME", "linux", []string{"HOME=/home/a", "XDG_CACHE_HOME=/x"}, "/x/jcds2-uploader", false},
		{"Linux HOME", "linux", []string{"HOME=/home/a"}, "/home/a/.cache/jcds2-uploader", false},
		{"Linux empty XDG_CACHE_HOME", "linux", []string{"HOME=/home/a", "XDG_CACHE_HOME="}, "/home/a/.cache/jcds2-uploader", false},
		{"Linux relative XDG_CACHE_HOME", "linux", []string{"HOME=/home/a", "XDG_CACHE_HOME=x"}, "", true},
		{"Linux neither", "linux", nil, "", true},
		{"last of a key wins", "linux", []string{"HOME=/a", "HOME=/b"}, "/b/.cache/jcds2-uploader", false},
		{"a longer key is another key", "linux", []string{"HOMEDIR=/a", "HOME=/b"}, "/b/.cache/jcds2-uploader", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CacheDirFor(tc.goos, EnvLookup(tc.env))
			if (err != nil) != tc.wantErr {
				t.Fatalf("CacheDirFor: %q, %v; want error %v", got, err, tc.wantErr)
			}
			if got != filepath.FromSlash(tc.want) {
				t.Errorf("CacheDirFor = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCacheDirIsUserCacheDir: on this platform, for each environment,
// CacheDir is os.UserCacheDir's folder (the one the product used before it
// had CacheDir, and the one Go's documentation promises).
func TestCacheDirIsUserCacheDir(t *testing.T) {
	home := t.TempDir()
	for _, env := range []map[string]string{
		{"HOME": home, "XDG_CACHE_HOME": ""},
		{"HOME": home, "XDG_CACHE_HOME": filepath.Join(home, "xdg")},
		{"HOME": home, "XDG_CACHE_HOME": "relative"},
		{"HOME": "", "XDG_CACHE_HOME": ""},
	} {
		for k, v := range env {
			t.Setenv(k, v)
		}
		got, err := CacheDir()
		base, werr := os.UserCacheDir()
		if (err != nil) != (werr != nil) {
			t.Fatalf("%v: CacheDir error %v, os.UserCacheDir error %v", env, err, werr)
		}
		if werr == nil && got != filepath.Join(base, "jcds2-uploader") {
			t.Errorf("%v on %s: CacheDir = %q, os.UserCacheDir = %q", env, runtime.GOOS, got, base)
		}
	}
}
