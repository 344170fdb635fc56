package processor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/poll"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// progressEvery is how often a long wait for Jamf Pro says it is still
// waiting (at -v).
const progressEvery = 30 * time.Second

// wait says, during a long wait for Jamf Pro, that it is still waiting: at
// -v every progressEvery, at -vv on every look.
type wait struct {
	log   zerolog.Logger
	what  string
	start time.Time
	next  time.Time
}

func (u *uploader) newWait(what string) *wait {
	now := time.Now()
	return &wait{log: u.log, what: what, start: now, next: now.Add(progressEvery)}
}

func (w *wait) note(why string) {
	msg := w.what + ": " + why
	w.log.Debug().Msg(msg)
	if now := time.Now(); !now.Before(w.next) {
		w.log.Info().Dur("waited", now.Sub(w.start).Round(time.Second)).Msg(msg)
		w.next = now.Add(progressEvery)
	}
}

// sendTries bounds how often one run sends a file that Jamf Pro accepted
// but that never landed. Jamf's own tool sends it again up to 5 times
// (terraform-provider-jamfplatform PR #273); 3 is our choice, to keep a
// nightly run's time bounded.
const sendTries = 3

// minResendWait is the least time a resent file is given before a size "0"
// counts as another loss.
const minResendWait = 5 * time.Second

// NotLandedError: after a refresh, the record shows size "0" although the
// file was accepted (201, or a commit): the file never landed (jamfplatform
// PR #273). Record is the record as read.
type NotLandedError struct {
	Record *jamf.Package
	File   string
	After  time.Duration // from the start of the wait to the size "0"
}

func (e *NotLandedError) Error() string {
	return fmt.Sprintf("Jamf Pro accepted %s but shows package %s with size 0 after the inventory refresh: the file never landed", e.File, e.Record.ID)
}

// settle makes the package record whole after this run touched it. A
// sent file that Jamf Pro shows never landed ends it with a
// *NotLandedError: the attempt then decides again on that record (a
// resend is a new plan). id is the package object's; waited says
// recalculate_wait_time was already waited in this attempt.
func (u *uploader) settle(ctx context.Context, step settle, id string, waited bool) (did, error) {
	r := u.newRefresher()
	r.waited = waited
	d := func() did { return did{Refreshed: r.refreshed, PerFile: r.perFile, Waited: r.waited} }
	switch step.Kind {
	case settleNone:
		return d(), nil
	case settleListing:
		err := u.verifyListing(ctx, step.Dups)
		return d(), err
	}
	exp := step.Expect
	if exp.local {
		exp.sums = u.local.sums
	}
	// Size "0" says a sent file never landed only where the record did not
	// show it before this send: processing keeps the old values until a
	// refresh after it (jamf-cli and terraform-provider-jamfplatform poll
	// until the previous hash changes), so an old "0" tells nothing, until
	// ZeroAfter (after a resend).
	zeroBefore := step.Object != nil && step.Object.SizeKnown && step.Object.Size == 0
	err := u.awaitRecord(ctx, id, exp, step.Sends, r, zeroBefore, step.ZeroAfter)
	return d(), err
}

// zeroAfter is how long after the start of the wait that follows a resend
// a size "0" counts as another loss. The record shows "0" from the loss
// until a refresh after the next send was processed, so that "0" is told
// apart from the next loss only by time: processing the same bytes again
// is taken to need at most twice what the first loss took to show
// (lostAfter), and never less than minResendWait, so that a busy server is
// not read as a second loss, nor more than half of verify_timeout, so that
// a second loss is still seen within it (our choice); plus the least gap
// between two refreshes.
func (u *uploader) zeroAfter(lostAfter time.Duration) time.Duration {
	return min(max(2*lostAfter, minResendWait), u.cfg.VerifyTimeout/2) + u.newRefresher().gap()
}

// awaitRecord asks for an inventory refresh (of this file where the server
// can) on every poll tick, whatever the record's status says, as Jamf's
// own tools do (jamf-cli verifyPackageUpload, terraform-provider-jamfplatform
// PollPackageVerification): the refresh is what "will update the status of
// uploads" (the refresh-inventory schema text), and PENDING appears only in
// the schema. It polls GET /api/v1/packages/{id} until the record shows
// cloudTransferStatus READY, the file's size and a digest of the server's
// own that matches ours, for up to verify_timeout. A refresh that fails now
// and then is expected (jamf-cli ignores transient 500s): the poll goes on,
// and only refreshes that keep failing until verify_timeout fail the run.
// Any metadata write blanks size on a real server, so a metadata write
// alone is waited for too. zeroAfter, when above 0, is how long after the
// start of the wait a size "0" means the sent file never landed although
// the record showed "0" before (zeroBefore).
func (u *uploader) awaitRecord(ctx context.Context, id string, exp expectation, sent bool, r *refresher, zeroBefore bool, zeroAfter time.Duration) error {
	if err := u.client.EnsureFreshToken(ctx); err != nil {
		return err
	}
	start := time.Now()
	w := u.newWait("waiting for Jamf Pro to show package " + id + " ready")
	var lastRefresh time.Time
	var refreshErr error // the last refresh's failure; nil once one succeeds
	refreshed := false   // a refresh succeeded since the send
	err := poll.Until(ctx, poll.Policy{Interval: 500 * time.Millisecond, MaxInterval: 10 * time.Second, Timeout: u.cfg.VerifyTimeout},
		func(ctx context.Context) (poll.Tick, error) {
			if lastRefresh.IsZero() || time.Since(lastRefresh) >= r.gap() {
				refreshErr = r.refresh(ctx, exp.fileName)
				lastRefresh = time.Now()
				refreshed = refreshed || refreshErr == nil
			}
			rec, err := u.client.GetPackage(ctx, id)
			if err != nil {
				return poll.Tick{}, fmt.Errorf("verify package %s in Jamf Pro: %w", id, err)
			}
			ok, why, err := u.matches(ctx, rec, exp)
			if err != nil {
				return poll.Tick{}, err
			}
			if ok {
				if exp.local && u.local.sums.SHA3_512 == "" {
					// The server's digest of bytes shown to be ours.
					u.local.adoptSHA3(recordAsFile(rec))
				}
				u.log.Info().Str("id", id).Int64("size", rec.Size).Str("hash_type", rec.HashType).Msg("Jamf Pro shows the package ready: size and digest match")
				return poll.Tick{Done: true}, nil
			}
			if strings.EqualFold(rec.TransferStatus, "ERROR") {
				return poll.Tick{}, fmt.Errorf("processing of %s ended in ERROR in Jamf Pro (package %s, cloudTransferStatus ERROR): the file is not usable, and this run claims nothing. Check the file and run again (the rerun uploads it anew)", exp.fileName, id)
			}
			zeroTells := !zeroBefore || (zeroAfter > 0 && time.Since(start) >= zeroAfter)
			if sent && exp.local && refreshed && zeroTells && rec.SizeKnown && rec.Size == 0 {
				return poll.Tick{}, &NotLandedError{Record: rec, File: exp.fileName, After: time.Since(start)}
			}
			w.note(why)
			return poll.Tick{Reason: why}, nil
		})
	var timeout *poll.TimeoutError
	if !errors.As(err, &timeout) {
		return err
	}
	what := "wrote the metadata of"
	if sent {
		what = "sent"
	}
	if refreshErr != nil {
		// Only a refresh moves processing on and fills the size.
		return fmt.Errorf("%s %s, but the inventory refresh failed, and kept failing until verify_timeout (%s), so Jamf Pro cannot show package %s ready (%s; Jamf Pro shows it as Availability Pending): %w. Run again later: the rerun refreshes and finishes the job", what, exp.fileName, u.cfg.VerifyTimeout, id, timeout.Reason, refreshErr)
	}
	return fmt.Errorf("%s %s, but Jamf Pro did not show it READY with its size and digest within verify_timeout (%s): %s. The file may still arrive: run again later (the rerun checks package %s and finishes the job), or raise verify_timeout for large files", what, exp.fileName, u.cfg.VerifyTimeout, timeout.Reason, id)
}

// refresher asks for the inventory refreshes of one attempt and keeps
// what they did, for packages_recalculated and the recalculate input.
type refresher struct {
	client  jamfAPI
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
	return &refresher{client: u.client, version: u.version, log: u.log, wait: u.cfg.RecalculateWait, sleep: poll.Sleep}
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

// recalculate runs the full refresh the recalculate input asks for,
// unless a refresh already ran in this attempt (sofar), and reports
// whether one ran.
func (u *uploader) recalculate(ctx context.Context, sofar did) (bool, error) {
	if sofar.Refreshed {
		return true, nil
	}
	if !u.canRefresh() {
		u.log.Warn().Msgf("recalculate needs Jamf Pro 11.11 or later; %s is %s", u.cfg.URL, u.version.Raw)
		return false, nil
	}
	if !sofar.Waited && u.cfg.RecalculateWait > 0 {
		u.log.Info().Msgf("Waiting %s before asking for a cloud distribution point inventory refresh (recalculate_wait_time)", u.cfg.RecalculateWait)
		if err := poll.Sleep(ctx, u.cfg.RecalculateWait); err != nil {
			return false, err
		}
	}
	if _, err := u.client.RefreshInventory(ctx, "", u.version); err != nil {
		return false, fmt.Errorf("recalculate (refresh the distribution point inventory): %w", err)
	}
	return true, nil
}
