package processor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// progressEvery is how often a long wait for Jamf Pro says it is still
// waiting (at -v).
const progressEvery = 30 * time.Second

// canRefresh reports whether the server has an inventory refresh (11.11+).
func (u *uploader) canRefresh() bool { return u.version.AtLeast(11, 11) }

// verifyListing polls the JCDS list until the file sent through S3 is there
// with our size and digest. It runs before a new package object is made, so
// no object ever points at a file that never arrived.
func (u *uploader) verifyListing(ctx context.Context) error {
	if err := u.client.EnsureFreshToken(ctx); err != nil {
		return err
	}
	name := u.file.Name
	start := time.Now()
	deadline := start.Add(u.cfg.VerifyTimeout)
	nextNote := start.Add(progressEvery)
	var last string
	for wait := 500 * time.Millisecond; ; wait = min(wait*2, 10*time.Second) {
		files, err := u.client.JCDSFiles(ctx)
		if err != nil {
			return fmt.Errorf("verify upload of %s: %w", name, err)
		}
		if dup := u.ownDuplicate(files); dup != nil {
			// Another upload of the same name committed first (the lock
			// covers one Mac only): ours became Name_N.pkg.
			return u.removeOwnDuplicate(ctx, dup, u.listedAsOurs(files))
		}
		last = "not listed yet"
		for _, f := range files {
			if f.FileName != name {
				continue
			}
			switch {
			case f.Length != u.file.Size:
				last = fmt.Sprintf("listed with %d bytes, expected %d", f.Length, u.file.Size)
			case f.MD5 != "" && u.sums.MD5 != "":
				if !strings.EqualFold(f.MD5, u.sums.MD5) {
					last = "listed with other content (not processed yet, or replaced by another upload of the same name)"
					continue
				}
				u.adoptServerSHA3(&f)
				u.log.Info().Str("file", name).Msg("in the JCDS: size and MD5 match")
				return nil
			case f.SHA3 != "" && u.sums.SHA3_512 != "":
				if !strings.EqualFold(f.SHA3, u.sums.SHA3_512) {
					last = "listed with other content (not processed yet, or replaced by another upload of the same name)"
					continue
				}
				u.log.Info().Str("file", name).Msg("in the JCDS: size and SHA3-512 match")
				return nil
			case f.SHA3 != "":
				// The listing has only a digest this run did not compute.
				if _, err := u.hash(ctx, s3upload.SHA3_512); err != nil {
					return err
				}
				last = "hashed the file to compare SHA3-512"
			default:
				last = "listed without a digest yet"
			}
		}
		if dups := Duplicates(files, name); len(dups) > 0 && last == "not listed yet" {
			last = fmt.Sprintf("not listed, but %s is: another upload of the same name ran at the same time", strings.Join(dups, ", "))
		}
		if !time.Now().Add(wait).Before(deadline) {
			return fmt.Errorf("sent %s, but the JCDS did not list it within verify_timeout (%s): %s. The file may still arrive; no package metadata was written. Run again to finish (a rerun converges: it uploads only what is missing)", name, u.cfg.VerifyTimeout, last)
		}
		nextNote = u.note(nextNote, start, "waiting for the JCDS to list "+name+": "+last)
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// note logs a progress line at -v when the next one is due, and says more
// at -vv on every poll.
func (u *uploader) note(next, start time.Time, msg string) time.Time {
	u.log.Debug().Msg(msg)
	if now := time.Now(); !now.Before(next) {
		u.log.Info().Dur("waited", now.Sub(start).Round(time.Second)).Msg(msg)
		return now.Add(progressEvery)
	}
	return next
}

// expectation is what the package record must show once Jamf Pro is done
// with the file: its size and a digest that matches.
type expectation struct {
	fileName string
	size     int64 // -1: any size above 0
	sums     s3upload.Sums
	// local: sums describe the local file, so a missing digest may be
	// computed from it.
	local bool
}

// settle makes the package record whole after this run touched it: any
// metadata write blanks size on a real server, and an upload leaves the
// record PENDING. It asks for an inventory refresh (of this file where the
// server can) and polls GET /api/v1/packages/{id} until the record shows
// the file's size, a matching digest and cloudTransferStatus READY, as Jamf's
// own tools do, for up to verify_timeout.
func (u *uploader) settle(ctx context.Context, plan Plan, obj *jamf.Package) error {
	id := u.res.PackageID
	touched := u.res.MetaWritten || u.sent() || u.unsettled(obj)
	if !touched || id == "" || u.classic() {
		return nil
	}
	if !u.canRefresh() {
		// Nothing fills size again before 11.11; an upload was already
		// verified through the JCDS list in jcds2 mode.
		if u.sent() && u.res.Mode == ModeV1 {
			return u.verifyListing(ctx)
		}
		return nil
	}
	exp := u.expect(plan, obj)
	if err := u.client.EnsureFreshToken(ctx); err != nil {
		return err
	}
	start := time.Now()
	deadline := start.Add(u.cfg.VerifyTimeout)
	nextNote := start.Add(progressEvery)
	var lastRefresh time.Time
	needRefresh := true
	var last string
	for wait := 500 * time.Millisecond; ; wait = min(wait*2, 10*time.Second) {
		var refreshErr error
		if needRefresh && (lastRefresh.IsZero() || time.Since(lastRefresh) >= u.refreshGap()) {
			refreshErr = u.refresh(ctx, exp.fileName)
			lastRefresh = time.Now()
		}
		rec, err := u.client.GetPackage(ctx, id)
		if err != nil {
			return fmt.Errorf("verify package %s in Jamf Pro: %w", id, err)
		}
		ok, why, err := u.matches(ctx, rec, exp)
		if err != nil {
			return err
		}
		if ok {
			if exp.local && u.res.SHA3 == "" {
				// The server's digest of bytes shown to be ours.
				u.adoptServerSHA3(recordAsFile(rec))
			}
			u.log.Info().Str("id", id).Int64("size", rec.Size).Str("hash_type", rec.HashType).Msg("Jamf Pro shows the package ready: size and digest match")
			return nil
		}
		if strings.EqualFold(rec.TransferStatus, "ERROR") {
			return fmt.Errorf("processing of %s ended in ERROR in Jamf Pro (package %s, cloudTransferStatus ERROR): the file is not usable, and this run claims nothing. Check the file and run again (the rerun uploads it anew)", exp.fileName, id)
		}
		last = why
		if refreshErr != nil && !strings.EqualFold(rec.TransferStatus, "PENDING") {
			// Only a refresh fills the size again, and it failed after its
			// tries: waiting longer cannot help.
			return fmt.Errorf("%s is in the distribution point, but the inventory refresh failed, so Jamf Pro cannot show package %s ready (%s; Jamf Pro shows it as Availability Pending): %w. Run again later: the rerun refreshes and finishes without uploading again", exp.fileName, id, why, refreshErr)
		}
		// A refresh that came before the service finished with the file
		// left the record without it: refresh again once processing is
		// over.
		needRefresh = !strings.EqualFold(rec.TransferStatus, "PENDING")
		if !time.Now().Add(wait).Before(deadline) {
			what := "wrote the metadata of"
			if u.sent() {
				what = "sent"
			}
			return fmt.Errorf("%s %s, but Jamf Pro did not show it ready within verify_timeout (%s): %s. The file may still arrive: run again later (the rerun checks package %s and finishes without uploading again what arrived), or raise verify_timeout for large files", what, exp.fileName, u.cfg.VerifyTimeout, last, id)
		}
		nextNote = u.note(nextNote, start, fmt.Sprintf("waiting for Jamf Pro to show package %s ready: %s", id, last))
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// refreshGap is the least time between two refreshes: a full refresh
// (before 11.14) runs at most once every 15 s.
func (u *uploader) refreshGap() time.Duration {
	if u.version.AtLeast(11, 14) {
		return 2 * time.Second
	}
	return 15 * time.Second
}

// refresh asks for an inventory refresh. A failure (after the request's
// own tries) is logged and returned; the caller decides whether the record
// can still become whole without one.
func (u *uploader) refresh(ctx context.Context, fileName string) error {
	if err := u.waitBeforeRefresh(ctx); err != nil {
		return err
	}
	perFile, err := u.client.RefreshInventory(ctx, fileName, u.version)
	switch {
	case errors.Is(err, jamf.ErrUnsupported):
		return nil
	case err != nil:
		u.log.Warn().Err(err).Msg("inventory refresh failed")
		return err
	}
	u.refreshed = true
	u.perFile = u.perFile || perFile
	return nil
}

// expect says what the record must show: the local file when it is what
// the distribution point holds (sent, or identical bytes). A kept file is
// whatever the server shows once refreshed: any size above 0, READY. What
// this run read of it may be a cluster node's stale copy, so it is no
// measure.
func (u *uploader) expect(plan Plan, obj *jamf.Package) expectation {
	if u.sent() || plan.File == FileUnchanged {
		return expectation{fileName: u.file.Name, size: u.file.Size, sums: u.sums, local: true}
	}
	if plan.FinishMeta && u.earlier != nil {
		// The file an earlier run uploaded, as the journal describes it.
		return expectation{fileName: u.earlier.FileName, size: u.earlier.Size,
			sums: s3upload.Sums{MD5: u.earlier.MD5, SHA3_512: u.earlier.SHA3}}
	}
	exp := expectation{fileName: u.file.Name, size: -1}
	if obj != nil {
		exp.fileName = obj.FileName
	}
	return exp
}

// matches compares a package record with what it must show. why says what
// is still missing.
func (u *uploader) matches(ctx context.Context, rec *jamf.Package, exp expectation) (bool, string, error) {
	switch st := strings.ToUpper(rec.TransferStatus); {
	case st != "" && st != "READY":
		return false, "cloudTransferStatus " + st, nil
	case !rec.SizeKnown:
		return false, "size still blank (waiting for the inventory refresh)", nil
	case rec.Size == 0:
		return false, "size 0: the file has not landed", nil
	case exp.size >= 0 && rec.Size != exp.size:
		return false, fmt.Sprintf("size %d, expected %d", rec.Size, exp.size), nil
	}
	got := recordAsFile(rec)
	sha512 := ""
	if rec.HashType == "SHA_512" {
		sha512 = strings.ToLower(rec.HashValue)
	}
	if got.SHA3 != "" && exp.sums.SHA3_512 == "" && got.MD5 == "" && exp.local {
		// The record has only a digest this run did not compute.
		if _, err := u.hash(ctx, s3upload.SHA3_512); err != nil {
			return false, "", err
		}
		exp.sums = mergeSums(exp.sums, u.sums)
	}
	compared := 0
	for _, pair := range [][2]string{{got.SHA3, exp.sums.SHA3_512}, {got.MD5, exp.sums.MD5}, {sha512, exp.sums.SHA512}} {
		if pair[0] == "" || pair[1] == "" {
			continue
		}
		if !strings.EqualFold(pair[0], pair[1]) {
			return false, "a digest that is not the file's yet", nil
		}
		compared++
	}
	if compared == 0 && exp.local {
		return false, "no digest to compare yet", nil
	}
	if compared == 0 && got.SHA3 == "" && got.MD5 == "" && sha512 == "" {
		return false, "no digest yet", nil
	}
	return true, "", nil
}

// recalculate reports packages_recalculated and runs the full refresh the
// recalculate input asks for, unless a refresh already ran in this run.
func (u *uploader) recalculate(ctx context.Context) error {
	if u.sent() && u.perFile {
		u.res.Recalc = true
	}
	if !u.cfg.Recalculate || !u.res.MetaWritten {
		return nil
	}
	if u.refreshed {
		u.res.Recalc = true
		return nil
	}
	if !u.canRefresh() {
		u.log.Warn().Msgf("recalculate needs Jamf Pro 11.11 or later; %s is %s", u.cfg.URL, u.version.Raw)
		return nil
	}
	if err := u.waitBeforeRefresh(ctx); err != nil {
		return err
	}
	if _, err := u.client.RefreshInventory(ctx, "", u.version); err != nil {
		return fmt.Errorf("recalculate (refresh the distribution point inventory): %w", err)
	}
	u.res.Recalc = true
	return nil
}
