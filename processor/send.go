package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/poll"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// buildPackage builds the package object to write and checks what writing
// it needs (the category) before any byte is sent.
func (u *uploader) buildPackage(ctx context.Context, plan Plan, facts Facts) (*jamf.Package, error) {
	obj := facts.Object
	if !plan.writesObject() {
		return nil, nil
	}
	cfg := u.cfg
	p := &jamf.Package{}
	if obj != nil {
		cp := *obj
		p = &cp
	}
	p.Name = displayName(cfg, u.local.PkgFile)
	p.FileName = u.local.Name
	p.Info, p.Notes = cfg.Info, cfg.Notes
	p.Priority = cfg.Priority
	p.RebootRequired = cfg.RebootRequired
	p.OSRequirements = cfg.OSRequirements
	p.RequiredProcessor = cfg.RequiredProcessor
	p.SendNotification = cfg.SendNotification
	p.Category, p.CategoryID = "", "-1"
	if cfg.Category != "" {
		cat, err := u.client.FindCategory(ctx, cfg.Category)
		if err != nil {
			return nil, err
		}
		if cat == nil {
			return nil, fmt.Errorf("supplied package category does not exist: %q is not a category in %s; create it in Jamf Pro or fix pkg_category (nothing was uploaded)", cfg.Category, cfg.URL)
		}
		p.Category, p.CategoryID = cat.Name, cat.ID
	} else if obj != nil && u.classic() {
		p.Category = obj.Category
	}
	return p, nil
}

// sendJCDS sends every byte to the JCDS's S3 bucket, deletes a stale
// same-name file right before the commit, and waits until the JCDS lists
// the file with our size and digest.
// obj is the object that names the file (nil for none), for the journal;
// known are the file's digests known before. What it did (the stale file
// deleted, the file sent, its digests) is returned with an error too.
func (u *uploader) sendJCDS(ctx context.Context, step sendJCDS, obj *jamf.Package, known s3upload.Sums) (did, error) {
	file := u.local
	// A part size this file cannot take is refused before the upload starts.
	if _, err := s3upload.NewPlan(file.Size, u.cfg.UploadPartSize, u.cfg.UploadConcurrency); err != nil {
		return did{}, fmt.Errorf("inputs upload_part_size / upload_concurrency: %w", err)
	}
	// The object keeps pointing at this name while its file is at risk:
	// note first that the file must be sent again if this run stops.
	id := ""
	if obj != nil {
		id = obj.ID
	}
	if err := u.note(step.Note, id, displayName(u.cfg, file.PkgFile), false); err != nil {
		return did{}, err
	}
	creds, err := u.client.InitiateUpload(ctx)
	if err != nil {
		return did{}, err
	}
	provider := s3upload.NewRenewingProvider(awsCredentials(creds), func(ctx context.Context) (aws.Credentials, error) {
		c, err := u.client.RenewCredentials(ctx)
		if err != nil {
			return aws.Credentials{}, err
		}
		return awsCredentials(c), nil
	})
	httpClient := u.opts.test.httpClient
	if httpClient == nil {
		if httpClient, err = jamf.NewHTTPClient(u.cfg.Insecure); err != nil {
			return did{}, err
		}
	}
	// A stale same-name file is deleted only once every byte of the new one
	// is in S3 (a one-part file goes as a multipart upload too), just
	// before the upload is committed: a failure anywhere before that leaves
	// the old file and its package object as they were. An object whose
	// file the listing did not show is treated the same way, in case the
	// listing lagged. Right before the commit, a local file that changed
	// since the run began is refused.
	// Whether to delete is Decide's (step.DeleteStale): on 11.5+ a
	// same-name file is never deleted.
	needDelete := step.DeleteStale
	var commitErr error
	deleted := false // the old file is gone and the new one not yet committed
	beforeCommit := func(ctx context.Context) error {
		if commitErr = file.check("during the upload"); commitErr != nil {
			return commitErr
		}
		if !needDelete {
			return nil
		}
		if commitErr = u.note(step.Note, id, displayName(u.cfg, file.PkgFile), true); commitErr != nil {
			return commitErr
		}
		// A phase of its own: the delete is confirmed in the listing for
		// up to a minute before the commit.
		enterStep(ctx, "replacing the stale file %s in the JCDS (deleting it right before the commit)", file.Name)
		if commitErr = u.client.EnsureFreshToken(ctx); commitErr == nil {
			deleted, commitErr = u.deleteStale(ctx)
		}
		return commitErr
	}
	p := file.newProgress("uploading " + file.Name)
	res, err := s3upload.Upload(ctx, s3upload.Input{
		BeforeCommit: beforeCommit,
		Bucket:       creds.BucketName,
		Key:          creds.Path + file.Name,
		Region:       creds.Region,
		Endpoint:     u.opts.test.s3Endpoint,
		MemoryLimit:  s3upload.SoftMemoryLimit,
		Credentials:  provider,
		FilePath:     file.Path,
		Hashes:       u.localDigests(step.ServerMD5),
		HTTPClient:   httpClient,
		MaxAttempts:  u.cfg.MaxTries,
		PartSize:     u.cfg.UploadPartSize,
		Concurrency:  u.cfg.UploadConcurrency,
		Progress:     p,
		Logger:       u.log,
	})
	p.Done()
	if commitErr == nil && err != nil {
		commitErr = fmt.Errorf("upload %s to the JCDS: %w", file.Name, err)
	}
	done := did{DeletedStale: deleted}
	if commitErr != nil {
		if deleted {
			return done, u.lostFileError(obj, commitErr)
		}
		return done, commitErr
	}
	done.Sent = true
	if res.Size != file.Size {
		return done, fmt.Errorf("upload %s: sent %d bytes but the file had %d when the run began; was it rebuilt during the upload? Run again", file.Name, res.Size, file.Size)
	}
	done.Sums = mergeSums(known, res.Sums)
	u.log.Info().Int("parts", res.Parts).Int64("bytes", res.Size).Msg("sent to the JCDS")
	// A phase of its own: the JCDS may take minutes to list the file.
	enterStep(ctx, "verifying %s (waiting for the JCDS to list it)", file.Name)
	done.Sums, err = u.verifyListing(ctx, step.DupsBefore, done.Sums)
	return done, err
}

// sendV1 uploads through /api/v1/packages/{id}/upload, which needs the
// package object first. The file's digests are computed while it streams,
// so no extra hashing pass precedes the upload.
// id is the object's: the one found, or the one createObject made
// (step.Created), which a failed upload removes unless step.KeepCreated.
// What it did (the file sent; after a failure, the object pointed back or
// removed) is returned with an error too.
func (u *uploader) sendV1(ctx context.Context, step sendV1, id string) (done did, err error) {
	file := u.local
	// Noted once the object is there and before its file is touched: if
	// this run stops half-way, the next one sends the file again, whatever
	// replace_pkg says. Not before a create, which may still meet an object
	// this node has not shown (awaitObject): that object's file is kept
	// when replace_pkg is false, and an entry would have a later run
	// replace it. What a real server serves between the upload and the end
	// of its processing is documented nowhere (jamf/JamfSync#41: the record
	// is wrong until the inventory refresh), so the run waits for the record
	// to show the new file (settle).
	if err := u.note(step.Note, id, displayName(u.cfg, file.PkgFile), false); err != nil {
		return did{}, err
	}
	if step.RevertTo != nil {
		// writeFileName pointed the object at this file's name: a failed
		// upload points it back.
		defer func() {
			if err != nil {
				done.PointedBack, err = u.pointBack(ctx, step.RevertTo, step.RevertHash, err)
			}
		}()
	}
	var hs *s3upload.Hasher
	defer func() {
		if hs != nil {
			hs.Close()
		}
	}()
	p := file.newProgress("uploading " + file.Name)
	err = u.client.UploadPackageV1(ctx, id, file.Path, file.Name, func(r io.Reader) io.Reader {
		// Each try rereads the file from the start, into digests of its
		// own: the last try's body may still be copied out.
		if hs != nil {
			hs.Close()
		}
		hs = s3upload.NewHasher(u.localDigests(step.ServerMD5))
		// At the file's end, before the request is finished, a file that
		// changed since the run began breaks the request off.
		return io.TeeReader(&eofCheck{r: p.Wrap(r), check: func() error { return file.check("during the upload") }}, hs)
	})
	p.Done()
	var unconfirmed *jamf.UploadUnconfirmedError
	if errors.As(err, &unconfirmed) {
		// The bytes may have landed: the settle step's refresh and reads
		// on every pod say whether they did (a loss there sends again).
		u.log.Warn().Err(err).Str("id", id).Msgf("%s was sent but Jamf Pro's answer did not confirm it; verifying what landed instead of sending it again", file.Name)
		err = nil
	}
	if err != nil {
		var changed *errFileChanged
		if errors.As(err, &changed) {
			err = changed
		}
		err = fmt.Errorf("upload %s through the Jamf Pro API: %w", file.Name, err)
		if !step.Created {
			return did{}, err
		}
		if step.KeepCreated {
			// Deleting the object would delete the distribution point's
			// file of this name, which was there before this run.
			return did{}, fmt.Errorf("%w; the package object %s made for it was kept because the distribution point already held a file named %s, which deleting the object would delete; it points at that file, and the next run uploads the new one whatever replace_pkg says (journal)", err, id, file.Name)
		}
		// The object was made for this upload; left behind it would point
		// at no file.
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if derr := u.client.DeletePackage(cleanup, id); derr != nil {
			return did{}, fmt.Errorf("%w; the package object %s created for it could not be removed (%v): run again to finish", err, id, derr)
		}
		return did{Removed: true}, err
	}
	done = did{Sent: true}
	if hs != nil {
		done.Sums = hs.Sums()
	}
	u.log.Info().Str("id", id).Int64("bytes", file.Size).Msg("sent through /api/v1/packages/{id}/upload")
	return done, nil
}

// writeFileName points the existing object obj at the local file's name
// before its {id}/upload, which refuses any other name (400
// INVALID_FILE_NAME, jamf-upload#162; JamfPackageUploader PUTs the new
// fileName first). It runs after every precondition passed, through the
// metadata update, and changes nothing but the fileName. Until the upload
// lands the object names a file the distribution point does not hold:
// pointBack, for a failed upload, points it back at its old file; after a
// kill the journal entry (noted before) and the missing-file check make
// any later run send the file again.
func (u *uploader) writeFileName(ctx context.Context, obj *jamf.Package, rh recordHash) error {
	file := u.local
	if err := file.check("before the upload"); err != nil {
		return err
	}
	want := *obj
	want.FileName = file.Name
	if err := u.updateOwned(ctx, &want, rh); err != nil {
		return fmt.Errorf("write fileName %s on package object %q before uploading into it (nothing was sent): %w", file.Name, obj.Name, err)
	}
	u.log.Info().Str("id", obj.ID).Str("from", obj.FileName).Str("to", file.Name).Msg("package object's fileName written before the upload")
	return nil
}

// pointBack points obj at its old file again after a failed upload into
// it, and says so in the error; ok says it did.
func (u *uploader) pointBack(ctx context.Context, obj *jamf.Package, rh recordHash, cause error) (ok bool, err error) {
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	old := *obj
	if rerr := u.updateOwned(cleanup, &old, rh); rerr != nil {
		return false, fmt.Errorf("%w; package object %q now names %s, which did not arrive, and pointing it back at %s failed (%v): run again to finish", cause, obj.Name, u.local.Name, obj.FileName, rerr)
	}
	return true, fmt.Errorf("%w; package object %q points at its old file %s again", cause, obj.Name, obj.FileName)
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

// deleteStale removes the same-name file and waits until the list no longer
// shows it. If it cannot, the run stops: uploading anyway would make the
// service keep both and name ours Name_1.pkg. deleted says the delete
// request succeeded, whatever came after.
func (u *uploader) deleteStale(ctx context.Context) (deleted bool, err error) {
	name := u.local.Name
	if err := u.client.DeleteJCDSFile(ctx, name); err != nil && !errors.Is(err, jamf.ErrNotFound) {
		return false, fmt.Errorf("could not delete the stale JCDS file %q, so the new upload was abandoned and nothing was changed (committing it would create a duplicate): %w", name, err)
	}
	err = poll.Until(ctx, poll.Policy{Interval: 500 * time.Millisecond, MaxInterval: 5 * time.Second, Timeout: 60 * time.Second},
		func(ctx context.Context) (poll.Tick, error) {
			files, err := u.client.JCDSFiles(ctx)
			if err != nil {
				return poll.Tick{}, fmt.Errorf("confirm deletion of JCDS file %q: %w", name, err)
			}
			return poll.Tick{Done: !hasFile(files, name)}, nil
		})
	var timeout *poll.TimeoutError
	switch {
	case errors.As(err, &timeout):
		return true, fmt.Errorf("the JCDS still lists %q 60 s after it was deleted; the new upload was abandoned to avoid a duplicate. Run again later", name)
	case err != nil:
		return true, err
	}
	u.log.Info().Str("file", name).Msg("deleted the stale JCDS file")
	return true, nil
}

// lostFileError says, for a failure after the old file was deleted and
// before the new one was committed, what state the run left and that any
// later run repairs it.
func (u *uploader) lostFileError(obj *jamf.Package, err error) error {
	name := u.local.Name
	if obj == nil {
		return fmt.Errorf("the old file %s was deleted from the distribution point (no package object pointed at it), but the new one could not be committed; run again to upload it. Cause: %w", name, err)
	}
	who := fmt.Sprintf("package object %q (id %s)", obj.Name, obj.ID)
	note := "any later run uploads it again from the local file, whatever replace_pkg says (it sees the file missing)"
	if u.journal.available() {
		note = "the journal records it, and any later run uploads it again from the local file, whatever replace_pkg says"
	}
	return fmt.Errorf("the old file %s was deleted from the distribution point, but the new one could not be committed, so %s points at a missing file until the next run: %s. Cause: %w", name, who, note, err)
}

// verifyListing polls the JCDS list until the file sent through S3 is there
// with our size and digest. It runs before a new package object is made, so
// no object ever points at a file that never arrived. dupsBefore are the
// Name_N copies listed before the upload; sums are the file's digests
// known, returned with any it computed or took from the listing.
func (u *uploader) verifyListing(ctx context.Context, dupsBefore map[string]bool, sums s3upload.Sums) (s3upload.Sums, error) {
	if err := u.client.EnsureFreshToken(ctx); err != nil {
		return sums, err
	}
	file := u.local
	name := file.Name
	w := u.newWait("waiting for the JCDS to list " + name)
	var done error // what the poll ends with besides a match: a duplicate's outcome
	err := poll.Until(ctx, poll.Policy{Interval: 500 * time.Millisecond, MaxInterval: 10 * time.Second, Timeout: u.verifyBudget(u.local.Size)},
		func(ctx context.Context) (poll.Tick, error) {
			files, err := u.client.JCDSFiles(ctx)
			if err != nil {
				return poll.Tick{}, fmt.Errorf("verify upload of %s: %w", name, err)
			}
			if dup := OwnDuplicate(files, u.local.Name, u.local.Size, dupsBefore, sums); dup != nil {
				// Another upload of the same name committed first (the lock
				// covers one Mac only): ours became Name_N.pkg.
				done = u.removeOwnDuplicate(ctx, dup, u.listedAsOurs(files, sums))
				return poll.Tick{Done: true}, nil
			}
			last := "not listed yet"
			for _, f := range files {
				if f.FileName != name {
					continue
				}
				switch {
				case f.Length != file.Size:
					last = fmt.Sprintf("listed with %d bytes, expected %d", f.Length, file.Size)
				case f.MD5 != "" && sums.MD5 != "":
					if !strings.EqualFold(f.MD5, sums.MD5) {
						last = "listed with other content (not processed yet, or replaced by another upload of the same name)"
						continue
					}
					sums = withServerSHA3(sums, &f)
					u.log.Info().Str("file", name).Msg("in the JCDS: size and MD5 match")
					return poll.Tick{Done: true}, nil
				case f.SHA3 != "" && sums.SHA3_512 != "":
					if !strings.EqualFold(f.SHA3, sums.SHA3_512) {
						last = "listed with other content (not processed yet, or replaced by another upload of the same name)"
						continue
					}
					u.log.Info().Str("file", name).Msg("in the JCDS: size and SHA3-512 match")
					return poll.Tick{Done: true}, nil
				case f.SHA3 != "":
					// The listing has only a digest this run did not compute.
					sha3, err := file.hash(ctx, s3upload.SHA3_512)
					if err != nil {
						return poll.Tick{}, err
					}
					sums = mergeSums(sums, sha3)
					last = "hashed the file to compare SHA3-512"
				default:
					last = "listed without a digest yet"
				}
			}
			if dups := Duplicates(files, name); len(dups) > 0 && last == "not listed yet" {
				last = fmt.Sprintf("not listed, but %s is: another upload of the same name ran at the same time", strings.Join(dups, ", "))
			}
			w.note(last)
			return poll.Tick{Reason: last}, nil
		})
	var timeout *poll.TimeoutError
	if errors.As(err, &timeout) {
		return sums, fmt.Errorf("sent %s, but the JCDS did not list it within the verify budget (%s): %s. The file may still arrive; no package metadata was written. Run again to finish (a rerun converges: it uploads only what is missing)", name, u.verifyBudget(u.local.Size), timeout.Reason)
	}
	if err != nil {
		return sums, err
	}
	return sums, done
}

// removeOwnDuplicate deletes the copy this run made and says what
// happened.
func (u *uploader) removeOwnDuplicate(ctx context.Context, dup *jamf.JCDSFile, nameHoldsOurs bool) error {
	name := u.local.Name
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	derr := u.client.DeleteJCDSFile(cleanup, dup.FileName)
	if derr != nil && !errors.Is(derr, jamf.ErrNotFound) {
		return fmt.Errorf("another upload of %s to %s committed while this one was running, so the JCDS stored this run's file as %s; deleting that duplicate failed (%v): delete %s in Jamf Pro, then run again", name, u.cfg.URL, dup.FileName, derr, dup.FileName)
	}
	if nameHoldsOurs {
		u.log.Warn().Str("duplicate", dup.FileName).Msgf("another upload of identical bytes to %s committed first; the JCDS stored this run's copy as %s, which was deleted", name, dup.FileName)
		return nil
	}
	return fmt.Errorf("another upload of %s to %s (from another Mac, or a run that does not share this Mac's lock folder) committed while this one was running, so the JCDS stored this run's file as %s; that duplicate was deleted and %s holds the other upload's file. No package metadata was written; run again to upload this file over it", name, u.cfg.URL, dup.FileName, name)
}

// listedAsOurs reports whether the listing shows the file under its own
// name with our size and MD5 (sums): identical bytes from another upload.
func (u *uploader) listedAsOurs(files []jamf.JCDSFile, sums s3upload.Sums) bool {
	file := u.local
	for _, f := range files {
		if f.FileName == file.Name && f.Length == file.Size && f.MD5 != "" && strings.EqualFold(f.MD5, sums.MD5) {
			return true
		}
	}
	return false
}

func hasFile(files []jamf.JCDSFile, name string) bool {
	for _, f := range files {
		if f.FileName == name {
			return true
		}
	}
	return false
}

func awsCredentials(c *jamf.UploadCredentials) aws.Credentials {
	return aws.Credentials{
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		SessionToken:    c.SessionToken,
		Source:          "JCDS",
		CanExpire:       !c.Expiration.IsZero(),
		Expires:         c.Expiration,
	}
}

// note makes the journal note the step was given (n), before it puts the
// file of package object id (name) at risk; deleted says the old file is
// about to be deleted.
func (u *uploader) note(n journalNote, id, name string, deleted bool) error {
	if n != noteFile {
		return nil
	}
	return u.journal.noteFile(id, name, u.local.Path, u.local.Size, deleted)
}
