package jamf

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// cacheDirName is the folder, in the user's cache folder, that holds the
// token cache (tokens/) and the journal of unfinished uploads (journal/).
const cacheDirName = "jcds2-uploader"

// CacheDir is the folder jcds2-uploader keeps its token cache and journal
// in: ~/Library/Caches/jcds2-uploader on macOS, and elsewhere
// $XDG_CACHE_HOME/jcds2-uploader or ~/.cache/jcds2-uploader (the rules of
// os.UserCacheDir).
func CacheDir() (string, error) {
	return CacheDirFor(runtime.GOOS, os.Getenv)
}

// CacheDirFor is CacheDir for a process on goos whose environment getenv
// reads. Tests that give a child process its own HOME find its files with
// it, so that they look where the binary writes on every platform, not
// where it writes on Linux.
func CacheDirFor(goos string, getenv func(string) string) (string, error) {
	base, err := userCacheDir(goos, getenv)
	if err != nil {
		return "", err
	}
	return filepath.Join(base, cacheDirName), nil
}

// userCacheDir is os.UserCacheDir for any goos and environment (the
// equivalence is tested): os.UserCacheDir reads only this process's.
func userCacheDir(goos string, getenv func(string) string) (string, error) {
	switch goos {
	case "windows":
		if d := getenv("LocalAppData"); d != "" {
			return d, nil
		}
		return "", errors.New("%LocalAppData% is not defined")
	case "darwin", "ios":
		if h := getenv("HOME"); h != "" {
			return h + "/Library/Caches", nil
		}
		return "", errors.New("$HOME is not defined")
	case "plan9":
		if h := getenv("home"); h != "" {
			return h + "/lib/cache", nil
		}
		return "", errors.New("$home is not defined")
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		if !filepath.IsAbs(d) {
			return "", errors.New("path in $XDG_CACHE_HOME is relative")
		}
		return d, nil
	}
	if h := getenv("HOME"); h != "" {
		return h + "/.cache", nil
	}
	return "", errors.New("neither $XDG_CACHE_HOME nor $HOME are defined")
}

// EnvLookup is a getenv for CacheDirFor over an environment in the form
// of exec.Cmd's Env ("KEY=value"; the last of a key wins, as in exec).
func EnvLookup(env []string) func(string) string {
	return func(key string) string {
		v := ""
		for _, kv := range env {
			if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
				v = kv[len(key)+1:]
			}
		}
		return v
	}
}
