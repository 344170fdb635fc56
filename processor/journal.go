package processor

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// The journal records, per Jamf Pro server and package file, the work a run
// started and did not finish, so that any later run finishes it whatever
// replace_pkg says: a file that must be sent again (a replace that deleted
// the old file, or was cut off), or metadata that must still be written
// (the object would otherwise keep the old file's hash). An entry is
// written before the risky step and removed once the run has succeeded.
// It holds names, sizes and digests only: never a secret.

// Journal steps.
const (
	// PendingFile: the file must be sent again; the object may point at a
	// file that is missing or is not ours.
	PendingFile = "file"
	// PendingMetadata: the file is in place and verified; the package
	// object must still get the metadata (and hash) below.
	PendingMetadata = "metadata"
)

// JournalEntry is one unfinished upload.
type JournalEntry struct {
	URL         string    `json:"url"`
	FileName    string    `json:"file_name"`
	PackageName string    `json:"package_name"`
	PackageID   string    `json:"package_id,omitempty"`
	Pending     string    `json:"pending"`           // PendingFile or PendingMetadata
	Deleted     bool      `json:"deleted,omitempty"` // the old file was deleted from the JCDS
	LocalPath   string    `json:"local_path"`
	Size        int64     `json:"size"`
	HashType    string    `json:"hash_type,omitempty"` // metadata hash of the uploaded bytes
	HashValue   string    `json:"hash_value,omitempty"`
	MD5         string    `json:"md5,omitempty"`
	SHA3        string    `json:"sha3,omitempty"`
	Started     time.Time `json:"started"`
	Updated     time.Time `json:"updated"`
}

// journal is a folder of entries, one 0600 file per server and package in a
// 0700 folder beside the token cache.
type journal struct{ dir string }

// openJournal opens (making if needed) the journal folder. dir "" means
// the user cache folder's jcds2-uploader/journal.
func openJournal(dir string) (*journal, error) {
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("journal: find the user cache folder: %w", err)
		}
		dir = filepath.Join(base, "jcds2-uploader", "journal")
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("journal: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if !fi.IsDir() || !ownedByMe(fi) {
		return nil, fmt.Errorf("journal folder %s is not a folder of this user", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	return &journal{dir: dir}, nil
}

func journalKey(url, fileName string) string {
	sum := sha256.Sum256([]byte(url + "\x00" + fileName))
	return hex.EncodeToString(sum[:16])
}

func (j *journal) path(url, fileName string) string {
	return filepath.Join(j.dir, journalKey(url, fileName)+".json")
}

// load returns the entry for url and fileName; ok is false when there is
// none. An unreadable entry is an error: silently ignoring it would forget
// a deleted file.
func (j *journal) load(url, fileName string) (e JournalEntry, ok bool, err error) {
	p := j.path(url, fileName)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("journal: %w", err)
	}
	if !fi.Mode().IsRegular() || !ownedByMe(fi) {
		return e, false, fmt.Errorf("journal entry %s is not a file of this user; remove it", p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return e, false, fmt.Errorf("journal: %w", err)
	}
	if err := json.Unmarshal(b, &e); err != nil || e.URL != url || e.FileName != fileName {
		return JournalEntry{}, false, fmt.Errorf("journal entry %s is unreadable or not for %s on %s; remove it and run with replace_pkg true", p, fileName, url)
	}
	return e, true, nil
}

// store writes e atomically (temporary file, fsync, rename, fsync of the
// folder), so a kill at any instant leaves the old entry or the new one.
func (j *journal) store(e JournalEntry) error {
	e.Updated = time.Now().UTC()
	if e.Started.IsZero() {
		e.Started = e.Updated
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(j.dir, "entry.*.tmp") // created 0600
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, j.path(e.URL, e.FileName))
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("journal: %w", werr)
	}
	syncDir(j.dir)
	return nil
}

// clear removes the entry; a missing one is fine.
func (j *journal) clear(url, fileName string) error {
	err := os.Remove(j.path(url, fileName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("journal: %w", err)
	}
	syncDir(j.dir)
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
