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
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// The journal records, per Jamf Pro server and package file, the work a run
// started and did not finish, so that any later run finishes it whatever
// replace_pkg says: a file that must be sent again (a replace that deleted
// the old file, or was cut off), or metadata that must still be written
// (the object would otherwise keep the old metadata). An entry is written
// before the risky step and removed once Jamf Pro shows the file READY with
// our size and digest.
// It holds names, sizes and digests only: never a secret.

// Journal steps.
const (
	// PendingFile: the file must be sent again; the object may point at a
	// file that is missing or is not ours. It stays from before the file is
	// put at risk until Jamf Pro shows it READY with our size and digest: a
	// 201 or a commit is not delivery (jamfplatform PR #273).
	PendingFile = "file"
	// PendingMetadata: the file is in place; the package object must still
	// get the metadata (and, before 11.11, the hash) below.
	PendingMetadata = "metadata"
	// PendingVerify: the file was sent (Jamf Pro took it) and the run's
	// verify budget ran out with no pod showing it lost, corrupt or in
	// ERROR: a record keeps the old file until processing ends (jamf/
	// JamfSync#41), so it may still arrive. Only verification remains: a
	// later run with the same local file verifies it without sending it
	// again (a loss it then sees is sent again, as in any run), up to
	// maxVerifyWaits runs.
	PendingVerify = "verify"
)

// JournalEntry is one unfinished upload.
type JournalEntry struct {
	URL         string    `json:"url"`
	FileName    string    `json:"file_name"`
	PackageName string    `json:"package_name"`
	PackageID   string    `json:"package_id,omitempty"`
	Pending     string    `json:"pending"`           // PendingFile, PendingMetadata or PendingVerify
	Deleted     bool      `json:"deleted,omitempty"` // the old file was deleted from the JCDS
	LocalPath   string    `json:"local_path"`
	Size        int64     `json:"size"`
	HashType    string    `json:"hash_type,omitempty"` // metadata hash of the uploaded bytes
	HashValue   string    `json:"hash_value,omitempty"`
	MD5         string    `json:"md5,omitempty"`
	SHA3        string    `json:"sha3,omitempty"`
	Waits       int       `json:"waits,omitempty"` // runs that waited for a PendingVerify file in vain
	Started     time.Time `json:"started"`
	Updated     time.Time `json:"updated"`
}

// journalStore is a folder of entries, one 0600 file per server and
// package in a 0700 folder beside the token cache.
type journalStore struct{ dir string }

// openJournalStore opens (making if needed) the journal folder. dir ""
// means the user cache folder's jcds2-uploader/journal.
func openJournalStore(dir string) (*journalStore, error) {
	if dir == "" {
		base, err := jamf.CacheDir()
		if err != nil {
			return nil, fmt.Errorf("journal: find the user cache folder: %w", err)
		}
		dir = filepath.Join(base, "journal")
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
	return &journalStore{dir: dir}, nil
}

func journalKey(url, fileName string) string {
	sum := sha256.Sum256([]byte(url + "\x00" + fileName))
	return hex.EncodeToString(sum[:16])
}

func (j *journalStore) path(url, fileName string) string {
	return filepath.Join(j.dir, journalKey(url, fileName)+".json")
}

// load returns the entry for url and fileName; ok is false when there is
// none. An unreadable entry is an error: silently ignoring it would forget
// a deleted file.
func (j *journalStore) load(url, fileName string) (e JournalEntry, ok bool, err error) {
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
func (j *journalStore) store(e JournalEntry) error {
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
func (j *journalStore) clear(url, fileName string) error {
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

// journalDir is where the journal lives: beside the token cache.
func journalDir(cacheDir string) string {
	if cacheDir == "" || cacheDir == "off" {
		return ""
	}
	return filepath.Join(filepath.Dir(cacheDir), "journal")
}

// journal is one run's view of the journal entry for its server and file:
// what an earlier run left unfinished (earlier) and the entry as this run
// has left it so far (pending). Without a store (none could be opened, or a
// dry run found none) every method does nothing: a failed replace is still
// reported, and the quiet-night check still repairs a missing file, but a
// metadata write left undone is not finished by a run without replace_pkg.
type journal struct {
	store         *journalStore // nil: no journal
	url, fileName string
	log           zerolog.Logger

	read    bool          // the entry was read (once per run)
	earlier *JournalEntry // what an earlier run left unfinished
	pending *JournalEntry // the entry as it stands (nil: none)
}

// openRunJournal opens the journal for url and fileName. create false (a
// dry run) reads what is there and makes nothing.
func openRunJournal(cacheDir string, create bool, url, fileName string, log zerolog.Logger) *journal {
	j := &journal{url: url, fileName: fileName, log: log}
	dir := journalDir(cacheDir)
	if !create {
		if dir == "" {
			if base, err := jamf.CacheDir(); err == nil {
				dir = filepath.Join(base, "journal")
			}
		}
		if _, err := os.Stat(dir); err != nil {
			return j
		}
	}
	store, err := openJournalStore(dir)
	if err != nil {
		log.Warn().Err(err).Msg("no journal of unfinished uploads; a run that fails half-way cannot leave a note for the next one")
		return j
	}
	j.store = store
	return j
}

// available reports whether notes are kept.
func (j *journal) available() bool { return j.store != nil }

// hasWork reports whether an entry was read or written in this run.
func (j *journal) hasWork() bool { return j.pending != nil || j.earlier != nil }

// load reads the entry once per run (an entry this run wrote itself, in a
// second attempt after a cluster node caught up, is not an earlier run's)
// and returns what an earlier run left unfinished, nil for nothing. A
// metadata entry whose file the listing (jcdsListed) shows replaced by
// someone else since (jf: the listed file of this name) is dropped.
func (j *journal) load(jcdsListed bool, jf *jamf.JCDSFile) *JournalEntry {
	if j.store == nil || j.read {
		return j.earlier
	}
	j.read = true
	e, ok, err := j.store.load(j.url, j.fileName)
	if err != nil {
		j.log.Warn().Err(err).Msg("journal")
		return nil
	}
	if !ok {
		return nil
	}
	if e.Pending == PendingMetadata && jcdsListed {
		same := jf != nil && jf.Length == e.Size &&
			(jf.MD5 == "" || e.MD5 == "" || strings.EqualFold(jf.MD5, e.MD5)) &&
			(jf.SHA3 == "" || e.SHA3 == "" || strings.EqualFold(jf.SHA3, e.SHA3))
		if !same {
			j.log.Warn().Str("file", e.FileName).Msg("the journal's unfinished metadata write describes a file the distribution point no longer holds; it is dropped")
			j.clear()
			return nil
		}
	}
	j.pending, j.earlier = &e, &e
	msg := "an earlier run left this upload unfinished: the file must be sent again"
	switch e.Pending {
	case PendingMetadata:
		msg = "an earlier run uploaded this file but did not write its metadata; finishing it"
	case PendingVerify:
		msg = "an earlier run sent this file, and Jamf Pro was still processing it when that run stopped waiting; verifying it, without sending it again if the local file is the same"
	}
	j.log.Warn().Str("file", e.FileName).Time("since", e.Started).Bool("old_file_deleted", e.Deleted).Msg(msg)
	return j.earlier
}

// noteFile records, before the file of an existing object is put at risk,
// that the file must be sent again if this run does not finish. deleted
// says the old file is being deleted; once noted, it stays noted.
func (j *journal) noteFile(packageID, packageName, localPath string, size int64, deleted bool) error {
	if j.store == nil {
		return nil
	}
	e := JournalEntry{
		URL: j.url, FileName: j.fileName, PackageName: packageName, PackageID: packageID,
		Pending: PendingFile, Deleted: deleted, LocalPath: localPath, Size: size,
	}
	if j.pending != nil {
		e.Deleted = e.Deleted || j.pending.Deleted
	}
	return j.put(e, "write the journal before changing %s (nothing was changed): %w")
}

// put writes e as the entry, keeping when the unfinished work started;
// failed names the file and the error.
func (j *journal) put(e JournalEntry, failed string) error {
	if j.pending != nil {
		e.Started = j.pending.Started
	}
	if err := j.store.store(e); err != nil {
		return fmt.Errorf(failed, j.fileName, err)
	}
	j.pending = &e
	return nil
}

// noteMeta records, once the file is in place, the metadata of pkg still
// to be written; sums describe the uploaded bytes. An entry that says the
// file must be sent again stays as it is until the file is verified: a
// rerun that sends it writes the metadata too.
func (j *journal) noteMeta(pkg *jamf.Package, localPath string, size int64, sums s3upload.Sums) error {
	if j.store == nil || pkg == nil || (j.pending != nil && j.pending.Pending == PendingFile) {
		return nil
	}
	e := JournalEntry{
		URL: j.url, FileName: j.fileName, PackageName: pkg.Name, PackageID: pkg.ID,
		Pending: PendingMetadata, LocalPath: localPath, Size: size,
		HashType: pkg.HashType, HashValue: pkg.HashValue, MD5: sums.MD5, SHA3: sums.SHA3_512,
	}
	return j.put(e, "write the journal before the metadata of %s: %w")
}

// noteVerify records, when the verify budget ran out with the file sent
// and no pod showing it lost, that only verification remains for the file
// whose SHA3-512 is sha3: it replaces the entry that said to send it
// again, and counts the runs that waited for that file in vain.
func (j *journal) noteVerify(packageID, packageName, localPath string, size int64, sha3 string) error {
	if j.store == nil || sha3 == "" {
		return nil
	}
	e := JournalEntry{
		URL: j.url, FileName: j.fileName, PackageName: packageName, PackageID: packageID,
		Pending: PendingVerify, LocalPath: localPath, Size: size, SHA3: sha3,
	}
	if j.pending != nil {
		e.Deleted = j.pending.Deleted
		if j.pending.Pending == PendingVerify && strings.EqualFold(j.pending.SHA3, sha3) {
			e.Waits = j.pending.Waits
		}
	}
	e.Waits++
	return j.put(e, "journal: note that %s only needs verifying: %w")
}

// clear removes the entry.
func (j *journal) clear() {
	if j.store == nil {
		return
	}
	if err := j.store.clear(j.url, j.fileName); err != nil {
		j.log.Warn().Err(err).Msg("could not clear the journal entry; the next run will check this package again")
	}
	j.pending, j.earlier = nil, nil
}
