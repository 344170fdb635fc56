package jamf

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLockUploadWithoutTokenCache: the upload lock holds with no token
// cache (BEARER_TOKEN), lives in the per-user runtime folder (0700), and a
// planted symlink in its place is refused.
func TestLockUploadWithoutTokenCache(t *testing.T) {
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	c, err := NewClient(Config{URL: "https://jamf.lock-test.invalid", BearerToken: "lock-test-token", CacheDir: "off"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	unlock, err := c.LockUpload(ctx, "App.pkg", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	waited := false
	if _, err := c.LockUpload(ctx, "App.pkg", 100*time.Millisecond, func() { waited = true }); err == nil || !waited {
		t.Errorf("a second lock of the same package was granted (err %v, waited %v)", err, waited)
	}
	if u2, err := c.LockUpload(ctx, "Other.pkg", 100*time.Millisecond, nil); err != nil {
		t.Errorf("another package must not wait: %v", err)
	} else {
		u2()
	}
	unlock()
	if u3, err := c.LockUpload(ctx, "App.pkg", 100*time.Millisecond, nil); err != nil {
		t.Errorf("lock not released: %v", err)
	} else {
		u3()
	}
	dir := filepath.Join(rt, "jcds2-uploader")
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("lock folder %s: %v %v, want 0700", dir, fi.Mode().Perm(), err)
	}

	// Someone plants a symlink where the folder goes.
	rt2 := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt2)
	if err := os.Symlink(t.TempDir(), filepath.Join(rt2, "jcds2-uploader")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LockUpload(ctx, "App.pkg", 100*time.Millisecond, nil); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("a symlinked lock folder was used: %v", err)
	}
}
