package jamf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// tokenCache keeps tokens between runs, one file per Jamf Pro URL, kind and
// account, so a night of recipe runs asks for one token rather than one per
// run. Files are 0600 in a 0700 folder and replaced atomically; a lock file
// per key makes concurrent runs take turns.
type tokenCache struct{ dir string }

type cacheEntry struct {
	Token       string    `json:"token"`
	Issued      time.Time `json:"issued"`
	Expires     time.Time `json:"expires"`
	Fingerprint string    `json:"fingerprint"` // hash of URL, account and secret
	URL         string    `json:"url"`
	Account     string    `json:"account"`
}

// openTokenCache returns nil, nil when caching is off.
func openTokenCache(dir string) (*tokenCache, error) {
	if dir == "off" {
		return nil, nil
	}
	ours := dir == ""
	if ours {
		base, err := CacheDir()
		if err != nil {
			return nil, fmt.Errorf("find the user cache folder: %w", err)
		}
		dir = filepath.Join(base, "tokens")
	}
	if err := privateDir(dir, ours); err != nil {
		return nil, err
	}
	return &tokenCache{dir: dir}, nil
}

// privateDir makes dir (0700) or checks that an existing one is private: a
// token in a folder others can read is a token others can use. Our own
// default folder is tightened; a folder the user named is only checked.
func privateDir(dir string, ours bool) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	err := os.Mkdir(dir, 0o700)
	if err == nil {
		// Mkdir honours the umask, which can only remove bits; make sure.
		return os.Chmod(dir, 0o700)
	}
	if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("token cache: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("token cache %s is not a folder", dir)
	}
	if !ownedByMe(fi) {
		return fmt.Errorf("token cache folder %s belongs to another user", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 && ours {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("token cache: %w", err)
		}
		return nil
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("token cache folder %s is open to others (mode %04o); it must be 0700", dir, fi.Mode().Perm())
	}
	return nil
}

func (tc *tokenCache) path(key, ext string) string { return filepath.Join(tc.dir, key+ext) }

// lock takes the key's lock file, waiting while another run holds it (it is
// most likely asking for the token this run would ask for).
func (tc *tokenCache) lock(ctx context.Context, key string) (unlock func(), err error) {
	// A run that hangs while holding the lock must not stall every other
	// run for long; a token request takes seconds.
	return tc.lockFor(ctx, key, 3*time.Minute, nil)
}

// lockFor takes key's lock file, waiting at most limit; waiting is called
// once if the lock is held by another run.
func (tc *tokenCache) lockFor(ctx context.Context, key string, limit time.Duration, waiting func()) (unlock func(), err error) {
	return lockPath(ctx, tc.path(key, ".lock"), limit, waiting)
}

// lockPath takes an exclusive flock on the file at path (made 0600 if
// needed), waiting at most limit; waiting is called once if another run
// holds it. The lock dies with the process, so a killed run leaves none.
func lockPath(ctx context.Context, path string, limit time.Duration, waiting func()) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscallNoFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for first := true; ; first = false {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if ok {
			return func() {
				unlockFile(f)
				f.Close()
			}, nil
		}
		if first && waiting != nil {
			waiting()
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: another run holds it: %w", filepath.Base(path), ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (tc *tokenCache) load(key string) (cacheEntry, bool) {
	var e cacheEntry
	p := tc.path(key, ".json")
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 || !ownedByMe(fi) {
		return e, false
	}
	b, err := os.ReadFile(p)
	if err != nil || json.Unmarshal(b, &e) != nil || e.Token == "" {
		return cacheEntry{}, false
	}
	return e, true
}

// store writes the entry to a temporary file and renames it into place, so
// a reader never sees half a file.
func (tc *tokenCache) store(key string, e cacheEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(tc.dir, key+".*.tmp") // created 0600
	if err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Chmod(0o600)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, tc.path(key, ".json"))
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("token cache: %w", werr)
	}
	return nil
}
