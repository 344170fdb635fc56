package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
)

// This file holds the parts of the flow that keep a package from being
// lost: the journal of unfinished work, the check that an existing object's
// file is really there, the choice of an in-place replace, the local file
// identity check before each commit, and the clean-up of a duplicate this
// run made.

// journalDir is where the journal lives: beside the token cache.
func journalDir(cacheDir string) string {
	if cacheDir == "" || cacheDir == "off" {
		return ""
	}
	return filepath.Join(filepath.Dir(cacheDir), "journal")
}

// openJournal opens the journal; without one, a failed replace is still
// reported, and the quiet-night check still repairs a missing file, but a
// metadata write left undone is not finished by a run without replace_pkg.
func (u *uploader) openJournal(create bool) {
	dir := journalDir(u.opts.CacheDir)
	if !create {
		// A dry run reads what is there and makes nothing.
		if dir == "" {
			if base, err := os.UserCacheDir(); err == nil {
				dir = filepath.Join(base, "jcds2-uploader", "journal")
			}
		}
		if _, err := os.Stat(dir); err != nil {
			return
		}
	}
	j, err := openJournal(dir)
	if err != nil {
		u.log.Warn().Err(err).Msg("no journal of unfinished uploads; a run that fails half-way cannot leave a note for the next one")
		return
	}
	u.journal = j
}

// loadPending reads the journal entry for this server and file, and keeps
// it only while it still describes the distribution point: a metadata
// entry whose file has since been replaced by someone else is dropped.
//
// It reads the journal once per run: an entry this run wrote itself (a
// second attempt after a cluster node caught up) is not an earlier run's.
func (u *uploader) loadPending(jcdsListed bool, jf *jamf.JCDSFile) {
	if u.journal == nil || u.journalRead {
		return
	}
	u.journalRead = true
	e, ok, err := u.journal.load(u.cfg.URL, u.file.Name)
	if err != nil {
		u.log.Warn().Err(err).Msg("journal")
		return
	}
	if !ok {
		return
	}
	if e.Pending == PendingMetadata && jcdsListed {
		same := jf != nil && jf.Length == e.Size &&
			(jf.MD5 == "" || e.MD5 == "" || strings.EqualFold(jf.MD5, e.MD5)) &&
			(jf.SHA3 == "" || e.SHA3 == "" || strings.EqualFold(jf.SHA3, e.SHA3))
		if !same {
			u.log.Warn().Str("file", e.FileName).Msg("the journal's unfinished metadata write describes a file the distribution point no longer holds; it is dropped")
			u.clearJournal()
			return
		}
	}
	u.pending, u.earlier = &e, &e
	msg := "an earlier run left this upload unfinished: the file must be sent again"
	if e.Pending == PendingMetadata {
		msg = "an earlier run uploaded this file but did not write its metadata; finishing it"
	}
	u.log.Warn().Str("file", e.FileName).Time("since", e.Started).Bool("old_file_deleted", e.Deleted).Msg(msg)
}

// noteFilePending records, before the file of an existing object is put at
// risk, that the file must be sent again if this run does not finish.
func (u *uploader) noteFilePending(obj *jamf.Package, deleted bool) error {
	if u.journal == nil {
		return nil
	}
	e := JournalEntry{
		URL: u.cfg.URL, FileName: u.file.Name, PackageName: displayName(u.cfg, u.file),
		Pending: PendingFile, Deleted: deleted, LocalPath: u.file.Path, Size: u.file.Size,
	}
	if obj != nil {
		e.PackageID = obj.ID
	} else {
		e.PackageID = u.res.PackageID
	}
	if u.pending != nil {
		e.Started = u.pending.Started
		e.Deleted = e.Deleted || u.pending.Deleted
	}
	if err := u.journal.store(e); err != nil {
		return fmt.Errorf("write the journal before changing %s (nothing was changed): %w", u.file.Name, err)
	}
	u.pending = &e
	return nil
}

// noteMetaPending records, once the file is in place and verified, the
// metadata still to be written.
func (u *uploader) noteMetaPending(pkg *jamf.Package) error {
	if u.journal == nil || pkg == nil {
		return nil
	}
	e := JournalEntry{
		URL: u.cfg.URL, FileName: u.file.Name, PackageName: pkg.Name, PackageID: pkg.ID,
		Pending: PendingMetadata, LocalPath: u.file.Path, Size: u.file.Size,
		HashType: pkg.HashType, HashValue: pkg.HashValue, MD5: u.sums.MD5, SHA3: u.sums.SHA3_512,
	}
	if u.pending != nil {
		e.Started = u.pending.Started
	}
	if err := u.journal.store(e); err != nil {
		return fmt.Errorf("write the journal before the metadata of %s: %w", u.file.Name, err)
	}
	u.pending = &e
	return nil
}

func (u *uploader) clearJournal() {
	if u.journal == nil {
		return
	}
	if err := u.journal.clear(u.cfg.URL, u.file.Name); err != nil {
		u.log.Warn().Err(err).Msg("could not clear the journal entry; the next run will check this package again")
	}
	u.pending, u.earlier = nil, nil
}

// objectFileMissing reports whether the distribution point lacks the file
// the existing object points at (or holds it empty).
func objectFileMissing(obj *jamf.Package, files []jamf.JCDSFile) bool {
	if obj == nil || obj.FileName == "" {
		return false
	}
	for _, f := range files {
		if f.FileName == obj.FileName {
			return f.Length == 0
		}
	}
	return true
}

// inPlace reports whether the file of the existing object is replaced
// through /api/v1/packages/{id}/upload (Jamf Pro 11.5+), which swaps the
// file server-side and so never leaves the object without one. It needs
// the object to already name this file: the endpoint refuses another name.
// An explicit upload_mode jcds2 ("the JCDS flow only") keeps the JCDS path,
// with its one-request window.
func (u *uploader) inPlace(plan Plan, obj *jamf.Package) bool {
	return obj != nil && !u.classic() && obj.FileName == u.file.Name && u.cfg.UploadMode != ModeJCDS2 &&
		(plan.File == FileReplace || plan.File == FileUpload)
}

// checkFile refuses a local file that changed since the run began.
func (u *uploader) checkFile(when string) error {
	return checkUnchanged(u.file.Path, u.fileID, when)
}

// eofCheck wraps the bytes of an upload that cannot be checked before its
// commit (v1 {id}/upload): at the file's end, before the request is
// finished, a changed file fails the read, so the request breaks off
// and the server never gets a whole body.
type eofCheck struct {
	r     io.Reader
	check func() error
}

func (e *eofCheck) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, io.EOF) {
		if cerr := e.check(); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

// ownDuplicate finds a Name_N copy that appeared during this run with our
// size (and MD5, when listed): the service stored our upload under it
// because another upload of the same name committed first.
func (u *uploader) ownDuplicate(files []jamf.JCDSFile) *jamf.JCDSFile {
	for _, d := range Duplicates(files, u.file.Name) {
		if u.dupsBefore[d] {
			continue
		}
		for i := range files {
			f := &files[i]
			if f.FileName != d || f.Length != u.file.Size {
				continue
			}
			if f.MD5 != "" && u.sums.MD5 != "" && !strings.EqualFold(f.MD5, u.sums.MD5) {
				continue
			}
			return f
		}
	}
	return nil
}

// removeOwnDuplicate deletes the copy this run made and says what
// happened.
func (u *uploader) removeOwnDuplicate(ctx context.Context, dup *jamf.JCDSFile, nameHoldsOurs bool) error {
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	derr := u.client.DeleteJCDSFile(cleanup, dup.FileName)
	if derr != nil && !errors.Is(derr, jamf.ErrNotFound) {
		return fmt.Errorf("another upload of %s to %s committed while this one was running, so the JCDS stored this run's file as %s; deleting that duplicate failed (%v): delete %s in Jamf Pro, then run again", u.file.Name, u.cfg.URL, dup.FileName, derr, dup.FileName)
	}
	if nameHoldsOurs {
		u.log.Warn().Str("duplicate", dup.FileName).Msgf("another upload of identical bytes to %s committed first; the JCDS stored this run's copy as %s, which was deleted", u.file.Name, dup.FileName)
		return nil
	}
	return fmt.Errorf("another upload of %s to %s (from another Mac, or a run that does not share this Mac's lock folder) committed while this one was running, so the JCDS stored this run's file as %s; that duplicate was deleted and %s holds the other upload's file. No package metadata was written; run again to upload this file over it", u.file.Name, u.cfg.URL, dup.FileName, u.file.Name)
}

// lostFileError says, for a failure after the old file was deleted and
// before the new one was committed, what state the run left and that any
// later run repairs it.
func (u *uploader) lostFileError(obj *jamf.Package, err error) error {
	if obj == nil {
		return fmt.Errorf("the old file %s was deleted from the distribution point (no package object pointed at it), but the new one could not be committed; run again to upload it. Cause: %w", u.file.Name, err)
	}
	who := fmt.Sprintf("package object %q (id %s)", obj.Name, obj.ID)
	note := "any later run uploads it again from the local file, whatever replace_pkg says (it sees the file missing)"
	if u.journal != nil {
		note = "the journal records it, and any later run uploads it again from the local file, whatever replace_pkg says"
	}
	return fmt.Errorf("the old file %s was deleted from the distribution point, but the new one could not be committed, so %s points at a missing file until the next run: %s. Cause: %w", u.file.Name, who, note, err)
}

// listedAsOurs reports whether the listing shows the file under its own
// name with our size and MD5: identical bytes from another upload.
func (u *uploader) listedAsOurs(files []jamf.JCDSFile) bool {
	for _, f := range files {
		if f.FileName == u.file.Name && f.Length == u.file.Size && f.MD5 != "" && strings.EqualFold(f.MD5, u.sums.MD5) {
			return true
		}
	}
	return false
}

// fileDelivered drops the "send the file again" note once Jamf Pro has the
// whole file (committed and listed, or {id}/upload answered 201). What is
// left, Jamf Pro's own processing, a later run sees in the record (PENDING,
// ERROR, size 0) or the listing; sending the file again then would only
// race the processing.
func (u *uploader) fileDelivered() {
	if u.pending != nil && u.pending.Pending == PendingFile {
		u.clearJournal()
	}
}
