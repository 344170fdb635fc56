package processor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// progressEvery is how often a long wait for Jamf Pro says it is still
// waiting (at -v).
const progressEvery = 30 * time.Second

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

// sendTries bounds how often one run sends a file that Jamf Pro accepted
// but that never landed. Jamf's own tool sends it again up to 5 times
// (terraform-provider-jamfplatform PR #273); 3 is our choice, to keep a
// nightly run's time bounded.
const sendTries = 3

// minResendWait is the least time a resent file is given before a size "0"
// counts as another loss.
const minResendWait = 5 * time.Second

// notLandedError: after a refresh, the record shows size "0" although the
// file was accepted (201, or a commit): the file never landed (jamfplatform
// PR #273). rec is the record as read.
type notLandedError struct {
	rec   *jamf.Package
	file  string
	after time.Duration // from the start of the wait to the size "0"
}

func (e *notLandedError) Error() string {
	return fmt.Sprintf("Jamf Pro accepted %s but shows package %s with size 0 after the inventory refresh: the file never landed", e.file, e.rec.ID)
}

// settleSent settles the record, and sends the file again, through the
// object's {id}/upload, while Jamf Pro shows that a sent file never landed,
// up to sendTries sends in all. The journal keeps saying "send it again"
// until the file is verified, so after the last try the next run does.
func (u *uploader) settleSent(ctx context.Context, plan Plan, facts Facts, r *refresher) error {
	var zeroAfter time.Duration
	for try := 1; ; try++ {
		err := u.settle(ctx, plan, facts, r, zeroAfter)
		var lost *notLandedError
		if !errors.As(err, &lost) {
			return err
		}
		if try == sendTries {
			return fmt.Errorf("%w, after %d sends in this run: no file is verified in the distribution point, and the journal keeps the upload unfinished, so the next run sends it again. If it keeps happening, check the cloud distribution point in Jamf Pro", err, sendTries)
		}
		u.log.Warn().Str("id", lost.rec.ID).Str("file", lost.file).Msgf("Jamf Pro shows size 0 after the inventory refresh: %s never landed although the upload was accepted; sending it again (try %d of %d)", lost.file, try+1, sendTries)
		// The record shows "0" from now on until a refresh after the next
		// send was processed, so that "0" is told apart from the next loss
		// only by time: processing the same bytes again is taken to need
		// at most twice what the first loss took to show, and never less
		// than minResendWait, so that a busy server (or a loaded test
		// machine) is not read as a second loss, nor more than half of
		// verify_timeout, so that a second loss is still seen within it
		// (our choice).
		zeroAfter = min(max(2*lost.after, minResendWait), u.cfg.VerifyTimeout/2) + r.gap()
		again := facts
		again.Object = lost.rec
		// The object's fileName is this file's since the first send.
		resend := plan
		resend.WriteFileName = false
		if _, err := u.sendV1(ctx, resend, again, nil); err != nil {
			return err
		}
		// The next wait starts from the record as the loss left it: its
		// "0" is old from now on, and tells only after zeroAfter.
		plan, facts = resend, again
	}
}

// settle makes the package record whole after this run touched it: any
// metadata write blanks size on a real server, and an upload is processed
// asynchronously. As Jamf's own tools do (jamf-cli verifyPackageUpload,
// terraform-provider-jamfplatform PollPackageVerification), it asks for an
// inventory refresh (of this file where the server can) on every poll tick,
// whatever the record's status says: the refresh is what "will update the
// status of uploads" (the refresh-inventory schema text), and PENDING
// appears only in the schema. It then polls GET /api/v1/packages/{id} until
// the record shows cloudTransferStatus READY, the file's size and a digest
// of the server's own that matches ours, for up to verify_timeout. A
// refresh that fails now and then is expected (jamf-cli ignores transient
// 500s): the poll goes on, and only refreshes that keep failing until
// verify_timeout fail the run. r keeps what the refreshes did. zeroAfter,
// when above 0, is how long after the start of the wait a size "0" means
// the sent file never landed although the record showed "0" before.
func (u *uploader) settle(ctx context.Context, plan Plan, facts Facts, r *refresher, zeroAfter time.Duration) error {
	id := u.res.PackageID
	touched := u.res.MetaWritten || plan.Sends() || facts.Unsettled
	if !touched || id == "" || u.classic() {
		return nil
	}
	if !u.canRefresh() {
		// Nothing fills size again before 11.11; an upload was already
		// verified through the JCDS list in jcds2 mode.
		if plan.Sends() && facts.Mode == ModeV1 {
			return u.verifyListing(ctx, facts.DupsBefore)
		}
		return nil
	}
	enterStep(ctx, "verifying %s (waiting for Jamf Pro to show it ready)", u.local.Name)
	exp := u.expect(plan, facts.Object)
	// Size "0" says a sent file never landed only where the record did not
	// show it before this send: processing keeps the old values until a
	// refresh after it (jamf-cli and terraform-provider-jamfplatform poll
	// until the previous hash changes), so an old "0" tells nothing.
	zeroBefore := facts.Object != nil && facts.Object.SizeKnown && facts.Object.Size == 0
	if err := u.client.EnsureFreshToken(ctx); err != nil {
		return err
	}
	start := time.Now()
	deadline := start.Add(u.cfg.VerifyTimeout)
	nextNote := start.Add(progressEvery)
	var lastRefresh time.Time
	var refreshErr error // the last refresh's failure; nil once one succeeds
	refreshed := false   // a refresh succeeded since the send
	var last string
	for wait := 500 * time.Millisecond; ; wait = min(wait*2, 10*time.Second) {
		if lastRefresh.IsZero() || time.Since(lastRefresh) >= r.gap() {
			refreshErr = r.refresh(ctx, exp.fileName)
			lastRefresh = time.Now()
			refreshed = refreshed || refreshErr == nil
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
			if exp.local && u.local.sums.SHA3_512 == "" {
				// The server's digest of bytes shown to be ours.
				u.local.adoptSHA3(recordAsFile(rec))
			}
			u.log.Info().Str("id", id).Int64("size", rec.Size).Str("hash_type", rec.HashType).Msg("Jamf Pro shows the package ready: size and digest match")
			return nil
		}
		if strings.EqualFold(rec.TransferStatus, "ERROR") {
			return fmt.Errorf("processing of %s ended in ERROR in Jamf Pro (package %s, cloudTransferStatus ERROR): the file is not usable, and this run claims nothing. Check the file and run again (the rerun uploads it anew)", exp.fileName, id)
		}
		zeroTells := !zeroBefore || (zeroAfter > 0 && time.Since(start) >= zeroAfter)
		if plan.Sends() && exp.local && refreshed && zeroTells && rec.SizeKnown && rec.Size == 0 {
			return &notLandedError{rec: rec, file: exp.fileName, after: time.Since(start)}
		}
		last = why
		if !time.Now().Add(wait).Before(deadline) {
			what := "wrote the metadata of"
			if plan.Sends() {
				what = "sent"
			}
			if refreshErr != nil {
				// Only a refresh moves processing on and fills the size.
				return fmt.Errorf("%s %s, but the inventory refresh failed, and kept failing until verify_timeout (%s), so Jamf Pro cannot show package %s ready (%s; Jamf Pro shows it as Availability Pending): %w. Run again later: the rerun refreshes and finishes the job", what, exp.fileName, u.cfg.VerifyTimeout, id, last, refreshErr)
			}
			return fmt.Errorf("%s %s, but Jamf Pro did not show it READY with its size and digest within verify_timeout (%s): %s. The file may still arrive: run again later (the rerun checks package %s and finishes the job), or raise verify_timeout for large files", what, exp.fileName, u.cfg.VerifyTimeout, last, id)
		}
		nextNote = u.note(nextNote, start, fmt.Sprintf("waiting for Jamf Pro to show package %s ready: %s", id, last))
		if err := jamf.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// refresher asks for the inventory refreshes of one attempt and keeps
// what they did, for packages_recalculated and the recalculate input.
type refresher struct {
	client  *jamf.Client
	version jamf.Version
	log     zerolog.Logger
	// wait is recalculate_wait_time; sleep waits it (tests record it).
	wait  time.Duration
	sleep func(context.Context, time.Duration) error

	waited    bool // recalculate_wait_time has been waited
	refreshed bool // an inventory refresh ran
	perFile   bool // ... for this file only
}

func (u *uploader) newRefresher() *refresher {
	return &refresher{client: u.client, version: u.version, log: u.log, wait: u.cfg.RecalculateWait, sleep: jamf.Sleep}
}

// gap is the least time between two refreshes: a full refresh (before
// 11.14) runs at most once every 15 s.
func (r *refresher) gap() time.Duration {
	if r.version.AtLeast(11, 14) {
		return 2 * time.Second
	}
	return 15 * time.Second
}

// waitOnce waits recalculate_wait_time before the first inventory refresh
// of the run, as JamfPackageUploader does before its refresh request: some
// sites give Jamf Pro time to take in the new file first. Later refreshes
// in the same run do not wait again.
func (r *refresher) waitOnce(ctx context.Context) error {
	if r.wait <= 0 || r.waited {
		return nil
	}
	r.waited = true
	r.log.Info().Msgf("Waiting %s before asking for a cloud distribution point inventory refresh (recalculate_wait_time)", r.wait)
	return r.sleep(ctx, r.wait)
}

// refresh asks for an inventory refresh of fileName ("" for all). A failure
// (after the request's own tries) is logged and returned; the caller
// decides whether the record can still become whole without one.
func (r *refresher) refresh(ctx context.Context, fileName string) error {
	if err := r.waitOnce(ctx); err != nil {
		return err
	}
	perFile, err := r.client.RefreshInventory(ctx, fileName, r.version)
	switch {
	case errors.Is(err, jamf.ErrUnsupported):
		return nil
	case err != nil:
		r.log.Warn().Err(err).Msg("inventory refresh failed")
		return err
	}
	r.refreshed = true
	r.perFile = r.perFile || perFile
	return nil
}

// expect says what the record must show: the local file when it is what
// the distribution point holds (sent, or identical bytes). A kept file is
// whatever the server shows once refreshed: any size above 0, READY. What
// this run read of it may be a cluster node's stale copy, so it is no
// measure.
func (u *uploader) expect(plan Plan, obj *jamf.Package) expectation {
	if plan.Sends() || plan.File == FileUnchanged {
		return expectation{fileName: u.local.Name, size: u.local.Size, sums: u.local.sums, local: true}
	}
	if earlier := u.journal.earlier; plan.FinishMeta && earlier != nil {
		// The file an earlier run uploaded, as the journal describes it.
		return expectation{fileName: earlier.FileName, size: earlier.Size,
			sums: s3upload.Sums{MD5: earlier.MD5, SHA3_512: earlier.SHA3}}
	}
	exp := expectation{fileName: u.local.Name, size: -1}
	if obj != nil {
		exp.fileName = obj.FileName
	}
	return exp
}

// matches compares a package record with what it must show: READY (where
// the record has cloudTransferStatus at all; an empty one means this node's
// inventory has no file for it, terraform-provider-jamfplatform "No CDP
// binary"), the size, and the server's own digests (SHA3-512 from hashType
// or the sha3512 field of 11.25, MD5 where listed) equal to ours. A record
// that still shows the old file's hash, or the new hash with the old size
// (the flip during processing, terraform-provider-jamfplatform helpers.go),
// does not match. why says what is still missing.
func (u *uploader) matches(ctx context.Context, rec *jamf.Package, exp expectation) (bool, string, error) {
	switch st := strings.ToUpper(rec.TransferStatus); {
	case st == "" && rec.StatusShown:
		return false, "cloudTransferStatus empty (this node's inventory has no file for it yet)", nil
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
		if _, err := u.local.hash(ctx, s3upload.SHA3_512); err != nil {
			return false, "", err
		}
		exp.sums = u.local.sums
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

// recalculate runs the full refresh the recalculate input asks for, unless
// a refresh already ran in this attempt, and returns packages_recalculated.
func (u *uploader) recalculate(ctx context.Context, plan Plan, r *refresher) (bool, error) {
	recalc := plan.Sends() && r.perFile
	if !u.cfg.Recalculate || !u.res.MetaWritten {
		return recalc, nil
	}
	if r.refreshed {
		return true, nil
	}
	if !u.canRefresh() {
		u.log.Warn().Msgf("recalculate needs Jamf Pro 11.11 or later; %s is %s", u.cfg.URL, u.version.Raw)
		return recalc, nil
	}
	if err := r.waitOnce(ctx); err != nil {
		return recalc, err
	}
	if _, err := u.client.RefreshInventory(ctx, "", u.version); err != nil {
		return recalc, fmt.Errorf("recalculate (refresh the distribution point inventory): %w", err)
	}
	return true, nil
}
