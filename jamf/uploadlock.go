package jamf

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// LockUpload serialises runs on this Mac, by this user, that upload the
// same file name to the same Jamf Pro server: two at once would both find
// no file, both upload, and the service would keep the second as
// Name_1.pkg. The second run waits (up to limit), then finds the first
// one's work done. The lock lives in a per-user runtime folder, not in the
// token cache, so it holds whether or not a token cache is used
// (BEARER_TOKEN) and whatever HOME each run has.
func (c *Client) LockUpload(ctx context.Context, fileName string, limit time.Duration, waiting func()) (unlock func(), err error) {
	dir, err := runtimeDir()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(c.base + "\x00upload\x00" + fileName))
	return lockPath(ctx, filepath.Join(dir, "upload-"+hex.EncodeToString(sum[:12])+".lock"), limit, waiting)
}

// runtimeDir is this user's private folder for lock files:
// $XDG_RUNTIME_DIR/jcds2-uploader where the system provides one, else
// jcds2-uploader-<uid> in the temporary folder (per user on macOS already).
// A folder that is a symlink, belongs to another user or is open to others
// is refused: whoever controls it could hold our locks or swap the files.
func runtimeDir() (string, error) {
	var dir string
	if x := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(x) {
		if fi, err := os.Stat(x); err == nil && fi.IsDir() && ownedByMe(fi) {
			dir = filepath.Join(x, "jcds2-uploader")
		}
	}
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "jcds2-uploader-"+strconv.Itoa(os.Geteuid()))
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("upload lock folder: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("upload lock folder: %w", err)
	}
	switch {
	case !fi.IsDir():
		return "", fmt.Errorf("upload lock folder %s is not a folder (a symlink?); remove it", dir)
	case !ownedByMe(fi):
		return "", fmt.Errorf("upload lock folder %s belongs to another user; remove it or set XDG_RUNTIME_DIR to a private folder", dir)
	case fi.Mode().Perm() != 0o700:
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", fmt.Errorf("upload lock folder: %w", err)
		}
	}
	return dir, nil
}
