package processor

import (
	"context"
	"fmt"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// Step is one change a run makes, chosen by Decide. Its String is the
// sentence a dry run reports in pkg_plan and a real run logs as it starts
// the step ("step K/N: ..."): the plan is what runs.
type Step interface {
	fmt.Stringer
	// while is the step in short, as a phrase that reads after "stopped
	// by SIGTERM while": what a stop names as the step the run was in.
	while(in stepInput) string
	// apply carries the step out. in is what the earlier steps of the
	// attempt did, folded by the loop; the step returns what it did, also
	// with an error, where it changed something before the error.
	apply(ctx context.Context, u *uploader, in stepInput) (did, error)
}

// stepInput is what a step may read besides the uploader's fixed parts:
// the package object the run writes (built and checked before the first
// step; steps copy it, never change it) and what the steps before it did.
type stepInput struct {
	pkg   *jamf.Package
	sofar did
}

// did is what a step did; the loop folds each into the run's Result.
type did struct {
	ID          string // the package object's id, once known
	Created     bool   // this attempt created the object
	MetaWritten bool   // a create or a metadata write succeeded
	Sent        bool   // the file's bytes went out (and were confirmed taken)
	Verified    bool   // Jamf Pro shows the file (or record) settled
	// What else a step changed, for a stop's account of the run.
	Renamed      bool // the object was pointed at the local file's name
	DeletedStale bool // the stale same-name JCDS file was deleted
	PointedBack  bool // a failed upload pointed the object back at its old file
	Removed      bool // a failed upload removed the object this attempt made
	// What the inventory refreshes did, for packages_recalculated and the
	// recalculate step.
	Refreshed, PerFile, Waited bool
	Recalc                     bool
	// SentAt is when the last send step ended (the file's last byte was
	// taken); Pods is how many pods showed the file verified.
	SentAt time.Time
	Pods   int
	// Sums are the local file's digests the step computed (or took from
	// the server for bytes shown equal to ours): folded, they are every
	// digest known so far, so no step computes one twice.
	Sums s3upload.Sums
}

// fold adds what one step did to what the steps before it did.
func (d did) fold(n did) did {
	if n.ID != "" {
		d.ID = n.ID
	}
	d.Created = d.Created || n.Created
	d.MetaWritten = d.MetaWritten || n.MetaWritten
	d.Sent = d.Sent || n.Sent
	d.Verified = d.Verified || n.Verified
	d.Renamed = d.Renamed || n.Renamed
	d.DeletedStale = d.DeletedStale || n.DeletedStale
	d.PointedBack = d.PointedBack || n.PointedBack
	d.Removed = d.Removed || n.Removed
	d.Refreshed = d.Refreshed || n.Refreshed
	d.PerFile = d.PerFile || n.PerFile
	d.Waited = d.Waited || n.Waited
	d.Recalc = d.Recalc || n.Recalc
	if !n.SentAt.IsZero() {
		d.SentAt = n.SentAt
	}
	if n.Pods > 0 {
		d.Pods = n.Pods
	}
	d.Sums = mergeSums(d.Sums, n.Sums)
	return d
}

// writesObject reports whether a step creates or writes the package
// object, which is then built (and its category checked) before the first
// step.
func (p Plan) writesObject() bool {
	for _, s := range p.Steps {
		switch s.(type) {
		case createObject, writeMetadata:
			return true
		}
	}
	return false
}

// journalNote is what a step notes in the journal before it changes
// anything, as Decide chose: the work the next run must finish if this
// one stops half-way.
type journalNote int

const (
	noteNothing journalNote = iota
	// noteFile: the file must be sent again (PendingFile): the object
	// names a file at risk.
	noteFile
	// noteMeta: the metadata must still be written (PendingMetadata).
	noteMeta
)

// recordHash is what a write of the whole package record (updateOwned)
// does with the record's hash fields, as Decide chose.
type recordHash struct {
	// Write: no inventory refresh will write the server's digest (before
	// 11.11), so the hash fields the write carries go on the record.
	Write bool
	// DropServer: the server's md5/sha256/sha3512 describe a file this run
	// replaces; they are left out, or they would stick (with Write).
	DropServer bool
}

// keepFile sends nothing: the object exists and replace_pkg is off.
type keepFile struct {
	Object string // the package object's name
	Reason string
}

func (s keepFile) String() string { return "keep the file: " + s.Reason }

func (s keepFile) while(stepInput) string {
	return "keeping the file of package object " + quote(s.Object)
}

func (s keepFile) apply(_ context.Context, u *uploader, _ stepInput) (did, error) {
	u.log.Info().Msgf("Not replacing existing %s as 'replace_pkg' is set to False", s.Object)
	return did{}, nil
}

// skipUpload sends nothing: the distribution point holds identical bytes.
type skipUpload struct {
	File, Reason string
}

func (s skipUpload) String() string { return fmt.Sprintf("do not upload %s: %s", s.File, s.Reason) }

func (s skipUpload) while(stepInput) string {
	return "skipping the upload of " + s.File + " (the distribution point holds these bytes)"
}

func (s skipUpload) apply(_ context.Context, u *uploader, _ stepInput) (did, error) {
	u.log.Info().Str("file", s.File).Msg("the distribution point already holds these bytes; nothing to send")
	return did{}, nil
}

// createObject makes the package object before any byte is sent: for a
// {id}/upload to upload into, or (First) pointing at the same-name file
// already in the distribution point, so the database is asked first
// whether an object of this name exists that this cluster node has not
// shown (a duplicate: the run waits for it and decides again).
type createObject struct {
	Name     string
	FileName string
	First    bool // a file of this name is already in the distribution point
	Classic  bool // through the Classic API (before 11.5)
	// OurHash: no inventory refresh will write the server's digest (before
	// 11.11), so the object carries ours.
	OurHash bool
	Reason  string
}

func (s createObject) String() string {
	if s.First {
		return fmt.Sprintf("create package object %q first, pointing at the file of this name already in the distribution point (%s); if Jamf Pro says the name exists (an object this Jamf Cloud node has not shown yet), wait for it and decide again with it", s.Name, s.Reason)
	}
	return fmt.Sprintf("create package object %q to upload into", s.Name)
}

func (s createObject) while(stepInput) string { return "creating package object " + quote(s.Name) }

func (s createObject) apply(ctx context.Context, u *uploader, in stepInput) (did, error) {
	pkg := *in.pkg
	var known s3upload.Sums // the digests the object carries, for the steps after
	if s.OurHash {
		if err := u.local.check("before the metadata was written"); err != nil {
			return did{}, err
		}
		sums, err := u.local.digests(ctx, in.sofar.Sums, u.metaHashSet())
		if err != nil {
			return did{}, err
		}
		known = sums
		pkg.HashType, pkg.HashValue = u.metaHash(sums)
	}
	if err := u.client.EnsureFreshToken(ctx); err != nil {
		return did{Sums: known}, err
	}
	var id string
	var err error
	if s.Classic {
		id, err = u.client.CreatePackageClassic(ctx, &pkg)
	} else {
		id, err = u.client.CreatePackage(ctx, &pkg)
	}
	if err != nil {
		if jamf.IsDuplicate(err) {
			return did{Sums: known}, u.awaitObject(ctx, pkg.Name, err)
		}
		return did{Sums: known}, fmt.Errorf("create package object %q to upload into: %w", pkg.Name, err)
	}
	u.log.Info().Str("id", id).Str("name", pkg.Name).Msg("package object created before the upload")
	return did{ID: id, Created: true, MetaWritten: true, Sums: known}, nil
}

// writeFileName points the existing object at the local file's name
// before its {id}/upload, which refuses any other name (400
// INVALID_FILE_NAME, jamf-upload#162); the send that follows points it
// back if the upload fails.
type writeFileName struct {
	Object *jamf.Package // the object as the run found it
	To     string
	Note   journalNote // noted before the object names a file not yet there
	Hash   recordHash
}

func (s writeFileName) String() string {
	return fmt.Sprintf("write fileName %s on the package object first ({id}/upload refuses another name); until the upload lands it names a file the distribution point does not hold, and a failed upload points it back", s.To)
}

func (s writeFileName) while(stepInput) string {
	return fmt.Sprintf("pointing package object %q at %s", s.Object.Name, s.To)
}

func (s writeFileName) apply(ctx context.Context, u *uploader, _ stepInput) (did, error) {
	// Noted before the object names a file the distribution point does
	// not hold: if this run stops, the next one sends it.
	if err := u.note(s.Note, s.Object.ID, s.Object.Name, false); err != nil {
		return did{}, err
	}
	if err := u.writeFileName(ctx, s.Object, s.Hash); err != nil {
		return did{}, err
	}
	return did{Renamed: true}, nil
}

// sendJCDS sends the file through the JCDS's S3 bucket and waits until the
// JCDS lists it with our size and digest.
type sendJCDS struct {
	File   string
	Size   int64
	Zipped bool
	// DeleteStale: below Jamf Pro 11.5 a same-name file is deleted right
	// before the commit (no {id}/upload to replace it in place).
	DeleteStale bool
	Object      *jamf.Package // the object that names the file, nil for none
	// Note: an object names the file (Object, or one createObject made
	// first), so the journal notes the file at risk before the send, and
	// again before a delete.
	Note       journalNote
	ServerMD5  bool
	DupsBefore map[string]bool
	Reason     string
}

func (s sendJCDS) String() string {
	if s.DeleteStale {
		return fmt.Sprintf("send every byte of %s (%s) to S3, then delete the stale JCDS file (%s), confirm it is gone and commit at once: below Jamf Pro 11.5 there is no {id}/upload, so the delete cannot be avoided and the package object points at no file for that one request; then verify its size and digest", s.File, sendSize(s.Size, s.Zipped), s.Reason)
	}
	return fmt.Sprintf("upload %s (%s) to the JCDS, then verify its size and digest", s.File, sendSize(s.Size, s.Zipped))
}

func (s sendJCDS) while(stepInput) string { return "uploading " + s.File + " to the JCDS" }

func (s sendJCDS) apply(ctx context.Context, u *uploader, in stepInput) (did, error) {
	obj := s.Object
	if obj == nil && in.sofar.ID != "" {
		// Created first by this attempt (below 11.5): the journal notes
		// the replace under it.
		obj = &jamf.Package{ID: in.sofar.ID, Name: in.pkg.Name, FileName: s.File}
	}
	// What was done is returned with an error too: a stop while the JCDS
	// is to list the file says the file was sent.
	return u.sendJCDS(ctx, s, obj, in.sofar.Sums)
}

// sendV1 sends the file through /api/v1/packages/{id}/upload, into the
// object found, or the one createObject made.
type sendV1 struct {
	File    string
	Size    int64
	Zipped  bool
	InPlace bool // the object's own file is replaced; nothing is deleted first
	// RevertTo: the object as found, whose fileName writeFileName changed;
	// a failed upload points it back.
	RevertTo *jamf.Package
	// Created: createObject made the object for this upload, so a failed
	// first upload removes it again, unless KeepCreated: a file of this
	// name was in the distribution point before the run, and deleting the
	// object would delete that file. After a resend the journal has the
	// next run finish instead.
	Created, KeepCreated bool
	// Note: noted before the object's file is touched; RevertHash is what
	// pointing it back writes.
	Note       journalNote
	RevertHash recordHash
	ServerMD5  bool
	Resend     bool // the file sent before never landed
	Reason     string
}

func (s sendV1) String() string {
	if s.Resend {
		return fmt.Sprintf("send %s (%s) again through /api/v1/packages/{id}/upload: %s", s.File, sendSize(s.Size, s.Zipped), s.Reason)
	}
	if s.InPlace {
		return fmt.Sprintf("replace the object's file through /api/v1/packages/{id}/upload (%s); nothing is deleted first. No source says whether the old file stays installable while Jamf Pro processes the new one, so the run waits for the record to show the new file READY; upload %s (%s), then verify its size and digest", s.Reason, s.File, sendSize(s.Size, s.Zipped))
	}
	return fmt.Sprintf("upload %s (%s) through /api/v1/packages/{id}/upload", s.File, sendSize(s.Size, s.Zipped))
}

func (s sendV1) while(in stepInput) string {
	again := ""
	if s.Resend {
		again = " again"
	}
	return fmt.Sprintf("uploading %s%s through /api/v1/packages/%s/upload", s.File, again, in.sofar.ID)
}

func (s sendV1) apply(ctx context.Context, u *uploader, in stepInput) (did, error) {
	return u.sendV1(ctx, s, in.sofar.ID)
}

// hashSource is which hash a metadata write puts on the object.
type hashSource int

const (
	// hashServer: the hash fields are left to Jamf Pro, whose inventory
	// refresh (11.11+) writes its own digest of the file.
	hashServer hashSource = iota
	// hashOurs: no refresh will write one: the local file's digest.
	hashOurs
	// hashJournal: the digest an earlier run recorded for the bytes it
	// uploaded and could not describe on the object (journal).
	hashJournal
	// hashKept: the file was kept; the object's hash still describes it.
	hashKept
)

func (h hashSource) String() string {
	return [...]string{
		"hash fields left to Jamf Pro's inventory refresh",
		"with this file's digest",
		"with the digest the journal recorded for the file an earlier run uploaded",
		"keeping its hash fields (its file is unchanged)",
	}[h]
}

// writeMetadata creates or updates the package object.
type writeMetadata struct {
	Name    string
	Create  bool
	Classic bool
	Hash    hashSource
	Earlier *JournalEntry // for hashJournal
	// Note: a failed write must be finished by the next run even without
	// replace_pkg (an update after a send or a repair): noteMeta.
	Note journalNote
	// Record is what an update of the whole record does with its hash
	// fields.
	Record recordHash
}

func (s writeMetadata) String() string {
	if s.Create {
		return fmt.Sprintf("create package object %q (%s)", s.Name, s.Hash)
	}
	return fmt.Sprintf("update the metadata of package object %q (%s)", s.Name, s.Hash)
}

func (s writeMetadata) while(stepInput) string {
	if s.Create {
		return "creating package object " + quote(s.Name)
	}
	return "writing the metadata of package object " + quote(s.Name)
}

func (s writeMetadata) apply(ctx context.Context, u *uploader, in stepInput) (did, error) {
	pkg := *in.pkg
	if in.sofar.ID != "" {
		pkg.ID = in.sofar.ID
	}
	id, sums, err := u.writeMetadata(ctx, s, &pkg, in.sofar.Sums)
	if err != nil {
		return did{Sums: sums}, err
	}
	return did{ID: id, Created: s.Create, MetaWritten: true, Sums: sums}, nil
}

// noMetadata writes nothing on the object.
type noMetadata struct{ Reason string }

func (s noMetadata) String() string { return "do not write metadata: " + s.Reason }

func (noMetadata) while(stepInput) string { return "leaving the package metadata as it is" }

func (s noMetadata) apply(_ context.Context, u *uploader, _ stepInput) (did, error) {
	u.log.Info().Msg("Not updating package metadata")
	return did{}, nil
}

// settleKind is how a run sees that Jamf Pro is done with what it wrote.
type settleKind int

const (
	// settleRecord: refresh the inventory and poll the package record
	// (11.11+).
	settleRecord settleKind = iota
	// settleListing: no refresh fills the record before 11.11; a file sent
	// through {id}/upload is checked in the JCDS list instead.
	settleListing
	// settleNone: nothing shows processing (before 11.5, or an older
	// server after a metadata write alone).
	settleNone
)

// settle waits until Jamf Pro shows what the run wrote, then clears the
// journal. It is one unit: apply calls settleRecord with the expectation
// and the client, so a verifier that asks every pod can replace it.
type settle struct {
	Kind    settleKind
	Expect  expectation
	Sends   bool // the run sent the file (a size 0 may say it never landed)
	Mode    string
	Object  *jamf.Package // the record as the run found it, nil for none
	Dups    map[string]bool
	Pending bool // only an earlier run's unsettled file is waited for
	// NoteVerify: where the budget runs out with the file still processing
	// on every pod not verified, the journal notes that only verification
	// remains (PendingVerify).
	NoteVerify bool
}

func (s settle) String() string {
	switch {
	case s.Kind == settleListing:
		return "wait until the JCDS lists the file with its size and digest"
	case s.Kind == settleNone:
		return "nothing to wait for: this Jamf Pro shows no processing state"
	case s.Pending:
		return "wait for Jamf Pro to finish with the file an earlier run left unsettled: on every pod, refresh the distribution point inventory and wait until the package record shows the file's size, digest and READY"
	}
	return "on every pod, refresh the distribution point inventory and wait until the package record shows the file's size, digest and READY"
}

func (s settle) while(stepInput) string {
	file := s.Expect.fileName
	switch {
	case s.Kind == settleListing:
		return "verifying " + file + " (waiting for the JCDS to list it)"
	case s.Kind == settleNone:
		return "finishing (this Jamf Pro shows no processing state to wait for)"
	case s.Pending:
		return "waiting for Jamf Pro to finish with " + file + ", which an earlier run left unsettled"
	case s.Sends:
		return "verifying " + file + " (waiting for Jamf Pro to show it ready)"
	}
	return "waiting for Jamf Pro to show " + file + " ready"
}

func (s settle) apply(ctx context.Context, u *uploader, in stepInput) (did, error) {
	out, err := u.settle(ctx, s, in.sofar)
	if err != nil {
		return out, err
	}
	out.Verified = true
	u.journal.clear()
	return out, nil
}

// recalculate meets the recalculate input, as Decide chose (Refreshed).
type recalculate struct {
	// Refreshed: the settle step before it refreshed the distribution
	// point inventory on every pod (11.11+), which is the recalculation:
	// no request of its own. Otherwise this server (before 11.11) has no
	// refresh to ask for, and the step says so.
	Refreshed bool
}

func (s recalculate) String() string {
	if s.Refreshed {
		return "recalculate: the inventory refresh of the step before is the recalculation; nothing more to ask for"
	}
	return "recalculate: not possible, this Jamf Pro has no inventory refresh (it needs 11.11 or later)"
}

func (recalculate) while(stepInput) string { return "asking Jamf Pro to recalculate its packages" }

func (s recalculate) apply(_ context.Context, u *uploader, in stepInput) (did, error) {
	if !s.Refreshed {
		u.log.Warn().Msgf("recalculate needs Jamf Pro 11.11 or later; %s is %s", u.cfg.URL, u.version.Raw)
	}
	// packages_recalculated says whether a refresh went through.
	return did{Recalc: in.sofar.Refreshed}, nil
}

// expectation is what the package record must show once Jamf Pro is done
// with the file: its size and a digest that matches.
type expectation struct {
	fileName string
	size     int64 // -1: any size above 0
	sums     s3upload.Sums
	// local: the local file is what the distribution point holds, so the
	// digests are the local file's (computed when needed).
	local bool
}

// quote quotes a package object's name as the messages of a run do.
func quote(name string) string { return fmt.Sprintf("%q", name) }

// sendSize says how many bytes a send step sends.
func sendSize(size int64, zipped bool) string {
	if size == 0 && zipped {
		return "size known once zipped"
	}
	return fmt.Sprintf("%d bytes", size)
}
