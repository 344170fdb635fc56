package processor

import (
	"context"
	"crypto/md5"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// sha3Since is the first Jamf Pro version whose package records take and
// report hashType SHA3_512: servers computed it around 11.11/11.12
// (jamf-api.md, "Real servers"); the simulator takes 11.11, the release
// whose inventory refresh writes SHA3_512. What 11.25 added is the sha3512
// field.
var sha3Since = [2]int{11, 11}

func (u *uploader) sha3Meta() bool { return u.version.AtLeast(sha3Since[0], sha3Since[1]) }

// metaHashSet is the digest the metadata needs: MD5 when asked, SHA3-512
// where the server uses it, SHA-512 before.
func (u *uploader) metaHashSet() s3upload.HashSet {
	switch {
	case u.cfg.MD5:
		return s3upload.MD5
	case u.sha3Meta():
		return s3upload.SHA3_512
	default:
		return s3upload.SHA512
	}
}

func (u *uploader) metaHash(s s3upload.Sums) (typ, value string) {
	switch {
	case u.cfg.MD5:
		return "MD5", s.MD5
	case u.sha3Meta():
		return "SHA3_512", s.SHA3_512
	default:
		return "SHA_512", s.SHA512
	}
}

// sendV1 uploads through /api/v1/packages/{id}/upload, which needs the
// package object first. The file's digests are computed while it streams,
// so no extra hashing pass precedes the upload.
func (u *uploader) sendV1(ctx context.Context, obj, pkg *jamf.Package) error {
	id, created := "", false
	// Noted before the object is made or its file touched: if this run
	// stops half-way, the next one sends the file again. On an existing
	// object Jamf Pro swaps the file itself; the old one stays until the
	// new one is in place.
	if err := u.noteFilePending(obj, false); err != nil {
		return err
	}
	if obj != nil {
		id = obj.ID
	} else {
		if !u.canRefresh() {
			// No inventory refresh before 11.11 to let the server record
			// its own digest: the object has to carry ours.
			if _, err := u.hash(ctx, u.metaHashSet()); err != nil {
				return err
			}
			pkg.HashType, pkg.HashValue = u.metaHash(u.sums)
		}
		var err error
		if id, err = u.client.CreatePackage(ctx, pkg); err != nil {
			if jamf.IsDuplicate(err) {
				return u.awaitObject(ctx, pkg.Name, err)
			}
			return fmt.Errorf("create package object %q to upload into: %w", pkg.Name, err)
		}
		u.res.PackageID, u.res.MetaWritten, created = id, true, true
	}
	hs := newStreamHasher(u.localDigests())
	p := u.progress("uploading " + u.file.Name)
	err := u.client.UploadPackageV1(ctx, id, u.file.Path, u.file.Name, func(r io.Reader) io.Reader {
		// Each try rereads the file from the start.
		hs.reset()
		// At the file's end, before the request is finished, a file that
		// changed since the run began breaks the request off.
		return io.TeeReader(&eofCheck{r: p.Wrap(r), check: func() error { return u.checkFile("during the upload") }}, hs)
	})
	p.Done()
	if err != nil {
		var changed *errFileChanged
		if errors.As(err, &changed) {
			err = changed
		}
		err = fmt.Errorf("upload %s through the Jamf Pro API: %w", u.file.Name, err)
		if !created {
			return err
		}
		if u.fileExisted {
			// Deleting the object would delete the distribution point's
			// file of this name, which was there before this run.
			return fmt.Errorf("%w; the package object %s made for it was kept because the distribution point already held a file named %s, which deleting the object would delete: run again with replace_pkg to upload the new file", err, id, u.file.Name)
		}
		// The object was made for this upload; left behind it would point
		// at no file.
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if derr := u.client.DeletePackage(cleanup, id); derr != nil {
			return fmt.Errorf("%w; the package object %s created for it could not be removed (%v): run again to finish", err, id, derr)
		}
		u.res.MetaWritten = false
		u.res.PackageID = ""
		return err
	}
	u.sums = mergeSums(u.sums, hs.sums())
	u.res.SHA3 = u.sums.SHA3_512
	u.log.Info().Str("id", id).Int64("bytes", u.file.Size).Msg("sent through /api/v1/packages/{id}/upload")
	return nil
}

// writeMetadata creates or updates the package object. An update starts
// from a fresh read of the object and changes only the fields this
// processor owns, so everything else stays as the server has it; size and
// the server's digests of a replaced file are never sent.
func (u *uploader) writeMetadata(ctx context.Context, plan Plan, pkg *jamf.Package) error {
	if err := u.client.EnsureFreshToken(ctx); err != nil {
		return err
	}
	if u.sent() || plan.File == FileUnchanged || plan.Meta == MetaCreate {
		// The hash must describe the bytes in the distribution point: a
		// file rebuilt since they were read is refused.
		if err := u.checkFile("before the metadata was written"); err != nil {
			return err
		}
		typ, value := u.metaHash(u.sums)
		if value == "" {
			if _, err := u.hash(ctx, u.metaHashSet()); err != nil {
				return err
			}
			typ, value = u.metaHash(u.sums)
		}
		pkg.HashType, pkg.HashValue = typ, value
	}
	// Otherwise the file was kept: its recorded hash still describes it, so
	// the object's own hash fields are left as they were.
	if plan.Meta == MetaUpdate && (u.sent() || plan.Repair) {
		// A failed write from here on must be finished by the next run even
		// without replace_pkg, or the object keeps the old file's hash.
		if err := u.noteMetaPending(pkg); err != nil {
			return err
		}
	}
	var err error
	switch {
	case plan.Meta == MetaCreate && u.classic():
		u.res.PackageID, err = u.client.CreatePackageClassic(ctx, pkg)
	case plan.Meta == MetaCreate:
		u.res.PackageID, err = u.client.CreatePackage(ctx, pkg)
	case u.classic():
		err = u.client.UpdatePackageClassic(ctx, pkg)
	default:
		err = u.updateOwned(ctx, pkg)
	}
	if err != nil && plan.Meta == MetaCreate && jamf.IsDuplicate(err) {
		return u.awaitObject(ctx, pkg.Name, err)
	}
	if err != nil {
		return fmt.Errorf("write package metadata for %q (the file is in the distribution point; run again to finish): %w", pkg.Name, err)
	}
	u.res.MetaWritten = true
	u.log.Info().Str("id", u.res.PackageID).Str("name", pkg.Name).Msgf("package metadata %sd", plan.Meta)
	return nil
}

// updateOwned reads the object afresh and writes back only the fields this
// processor owns.
func (u *uploader) updateOwned(ctx context.Context, want *jamf.Package) error {
	cur, err := u.client.GetPackage(ctx, want.ID)
	if err != nil {
		return err
	}
	cur.Name, cur.FileName, cur.CategoryID = want.Name, want.FileName, want.CategoryID
	cur.Info, cur.Notes, cur.Priority = want.Info, want.Notes, want.Priority
	cur.OSRequirements, cur.RebootRequired = want.OSRequirements, want.RebootRequired
	if want.HashType != "" && want.HashValue != "" {
		cur.HashType, cur.HashValue = want.HashType, want.HashValue
	}
	// The server's digests are left out when they may describe another
	// file: after a replacement, and whenever a refresh follows (this read
	// may come from a cluster node that has not seen the latest one; the
	// refresh writes the server's own values again).
	cur.StaleHashes = u.sent() || u.canRefresh()
	return u.client.UpdatePackage(ctx, cur)
}

// streamHasher computes digests of bytes as they stream past.
type streamHasher struct {
	which s3upload.HashSet
	md5   hash.Hash
	sha3  hash.Hash
	sha5  hash.Hash
	w     io.Writer
}

func newStreamHasher(which s3upload.HashSet) *streamHasher {
	h := &streamHasher{which: which}
	h.reset()
	return h
}

func (h *streamHasher) reset() {
	var ws []io.Writer
	h.md5, h.sha3, h.sha5 = nil, nil, nil
	if h.which&s3upload.MD5 != 0 {
		h.md5 = md5.New()
		ws = append(ws, h.md5)
	}
	if h.which&s3upload.SHA3_512 != 0 {
		h.sha3 = sha3.New512()
		ws = append(ws, h.sha3)
	}
	if h.which&s3upload.SHA512 != 0 {
		h.sha5 = sha512.New()
		ws = append(ws, h.sha5)
	}
	h.w = io.MultiWriter(ws...)
}

func (h *streamHasher) Write(b []byte) (int, error) { return h.w.Write(b) }

func (h *streamHasher) sums() s3upload.Sums {
	var s s3upload.Sums
	if h.md5 != nil {
		s.MD5 = hex.EncodeToString(h.md5.Sum(nil))
	}
	if h.sha3 != nil {
		s.SHA3_512 = hex.EncodeToString(h.sha3.Sum(nil))
	}
	if h.sha5 != nil {
		s.SHA512 = hex.EncodeToString(h.sha5.Sum(nil))
	}
	return s
}
