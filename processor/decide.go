package processor

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// Upload statuses reported in pkg_upload_status.
const (
	StatusUploaded      = "uploaded"
	StatusHashMatch     = "unchanged-hash-match"
	StatusSkippedExists = "skipped-exists"
	StatusDryRun        = "dry-run"
)

// FileAction is what happens to the file in the distribution point.
type FileAction int

const (
	// FileKeep sends nothing: the object exists and replace_pkg is off.
	FileKeep FileAction = iota
	// FileUnchanged sends nothing: the JCDS already holds identical bytes.
	FileUnchanged
	// FileUpload sends the file; the JCDS has none of that name.
	FileUpload
	// FileReplace sends the file over a same-name file whose bytes differ
	// (or cannot be compared). On Jamf Pro 11.5+ it always goes through an
	// object's /api/v1/packages/{id}/upload (choice.InPlace, choice.CreateFirst),
	// which deletes nothing itself: a file of the package's name may be the
	// file of an object this cluster node has not shown yet. Below 11.5
	// (no {id}/upload) every byte goes to S3 first; the stale file is
	// deleted right before the commit and confirmed gone, so the service
	// never makes Name_1.pkg and the gap is one request.
	FileReplace
)

func (a FileAction) String() string {
	return [...]string{"keep", "unchanged", "upload", "replace"}[a]
}

// MetaAction is what happens to the package object.
type MetaAction int

const (
	MetaNone MetaAction = iota
	MetaCreate
	MetaUpdate
)

func (a MetaAction) String() string {
	return [...]string{"none", "create", "update"}[a]
}

// Facts are what the lookups found; Decide turns them into a Plan. Keeping
// the decision a pure function of the facts lets the tests cover every
// combination of inputs without a server.
type Facts struct {
	Object    *jamf.Package  // the package object, nil when none exists
	JCDSFile  *jamf.JCDSFile // the same-name JCDS file, nil when none
	LocalSize int64
	// Local are the local file's digests, computed only when a same-name,
	// same-size file exists (MD5 when the JCDS lists one to compare with),
	// with the server's SHA3-512 where its bytes matched ours by MD5. The
	// steps start from them.
	Local s3upload.Sums
	// ObjectFileMissing: the object exists but the distribution point does
	// not hold its file (a replace that failed after deleting it).
	ObjectFileMissing bool
	// Pending is what the journal says an earlier run left unfinished
	// (PendingFile, PendingMetadata), "" for nothing; Earlier is that
	// entry (its file's size and digests), nil for none.
	Pending string
	Earlier *JournalEntry
	// Unsettled: the object's record shows a file Jamf Pro has not finished
	// with (PENDING, ERROR, size 0), left by a run that timed out or failed,
	// or read from a cluster node that has not caught up. Failed: ERROR,
	// the file is not usable.
	Unsettled, Failed bool

	// FileName is the local file's name in the distribution point.
	FileName string
	// Mode is the upload mode chosen against the server (ModeJCDS2, ModeV1).
	Mode string
	// Classic: Jamf Pro before 11.5, without /api/v1/packages/{id}/upload.
	Classic bool
	// CanRefresh: Jamf Pro 11.11+, whose inventory refresh fills a record's
	// size and writes the server's own digest.
	CanRefresh bool
	// Zipped: the local file is a bundle zipped for the upload (its size
	// is known only once zipped).
	Zipped bool
	// ServerMD5: the distribution point lists MD5s, so a sent file is
	// compared by MD5 and the server's SHA3-512 can stand in for ours.
	ServerMD5 bool
	// FileExisted: the distribution point held a file of this name before
	// the run (or it could not be told). A v1 object made for a failed
	// upload is then kept: deleting it would delete that file.
	FileExisted bool
	// DupsBefore are the Name_N copies listed before this run uploaded.
	DupsBefore map[string]bool
	// SentEarlier: an earlier attempt of this run already sent the file
	// (the attempt was cut short by a cluster node that had not caught up).
	SentEarlier bool
	// Lost: the file this run sent was accepted, but after a refresh a
	// pod's record (Object) shows a new hash with size 0: it never landed
	// (NotLandedError), and is sent again; that hash is the previous one
	// for the resend. Wrote: this run already created or wrote the object.
	Lost  bool
	Wrote bool
}

// jcdsDeprecated is the x-deprecation-date of every /api/v1/jcds/*
// operation in Jamf Pro's own API documents (11.25.2 and later).
const jcdsDeprecated = "2025-08-28"

// Offer is what the server offers to upload through, as the survey asked
// it (asksJCDSList, asksCapability).
type Offer struct {
	// Asked: the JCDS file list was asked for; Files is its answer, or
	// ListErr why there was none.
	Asked   bool
	Files   []jamf.JCDSFile
	ListErr error
	// Capability is the cloud distribution point's upload capability
	// (11.23+), read where the list failed in the default mode; nil when
	// not read, or unreadable (CapabilityErr).
	Capability    *jamf.UploadCapability
	CapabilityErr error
}

// asksJCDSList: the survey asks for the JCDS list unless the inputs are
// refused without it (upload_mode v1 below 11.5).
func asksJCDSList(cfg *Config, v jamf.Version) bool {
	return cfg.UploadMode != ModeV1 || v.AtLeast(11, 5)
}

// asksCapability: where the JCDS list fails, the default mode asks the
// upload capability (11.23+) whether the v1 upload can stand in.
func asksCapability(cfg *Config, v jamf.Version) bool {
	return cfg.UploadMode == ModeAuto && v.AtLeast(11, 23)
}

// ChooseMode settles the upload mode against what the server offers today
// (o): its version, whether the JCDS endpoints answer, and on 11.23+ the
// cloud distribution point's upload capability. It returns a warning for
// the log where the default moves off the JCDS.
//
// Without upload_mode (the default) a server whose JCDS endpoints are gone
// gets the v1 upload with one warning, so a nightly run keeps working the
// day Jamf removes them; only an explicit upload_mode jcds2 fails then.
func ChooseMode(cfg *Config, v jamf.Version, o Offer) (mode, warning string, err error) {
	classic := !v.AtLeast(11, 5)
	if cfg.UploadMode == ModeV1 {
		if classic {
			return "", "", fmt.Errorf("upload_mode v1 needs Jamf Pro 11.5 or later; %s is %s: remove upload_mode (the default uploads through the JCDS here)", cfg.URL, v.Raw)
		}
		// The JCDS list, where it still answers, tells whether identical
		// bytes are already there and whether a file of this name predates
		// the run; without it the package record stands in.
		return ModeV1, "", nil
	}
	err = o.ListErr
	if err == nil {
		return ModeJCDS2, "", nil
	}
	gone, none := jamf.JCDSGone(err), jamf.NoJCDS(err)
	capable := o.Capability == nil || o.Capability.DirectUploadCapable // unread: try
	switch {
	case !gone && !none && o.Capability != nil && !capable:
		// Before 11.25.2 an instance without JCDS 2.0 answered 500 here
		// (jamf/JamfSync#80): the upload capability says whether any cloud
		// distribution point takes uploads.
		return "", "", fmt.Errorf("%s has no cloud distribution point that takes uploads (upload-capability: directUploadCapable false), and its JCDS list fails: %w. Set up Jamf Cloud Distribution Service in Jamf Pro's settings", cfg.URL, err)
	case !gone && !none:
		return "", "", err
	case cfg.UploadMode == ModeJCDS2 && gone:
		return "", "", fmt.Errorf("upload_mode jcds2: Jamf Pro %s at %s no longer has the JCDS endpoints (/api/v1/jcds/*, deprecated by Jamf on %s and now removed): %w. Remove upload_mode from the recipe or override (the default then uploads through /api/v1/packages/{id}/upload), or set upload_mode to v1",
			v.Raw, cfg.URL, jcdsDeprecated, err)
	case cfg.UploadMode == ModeJCDS2:
		return "", "", err
	case classic:
		return "", "", fmt.Errorf("this Jamf Pro (%s) is older than 11.5, so it has no /api/v1/packages/{id}/upload, and its JCDS endpoints do not answer: %w", v.Raw, err)
	case !capable:
		return "", "", fmt.Errorf("%s has no JCDS endpoints (%v) and its cloud distribution point does not take uploads through /api/v1/packages/{id}/upload (upload-capability: directUploadCapable false); check the cloud distribution point in Jamf Pro's settings", cfg.URL, err)
	case gone:
		return ModeV1, fmt.Sprintf("the JCDS endpoints are gone from Jamf Pro %s (deprecated by Jamf on %s); uploading through /api/v1/packages/{id}/upload instead. Nothing to change in the recipe", v.Raw, jcdsDeprecated), nil
	}
	return ModeV1, fmt.Sprintf("this Jamf Pro has no JCDS 2.0; uploading through /api/v1/packages/{id}/upload instead (%v)", err), nil
}

// Plan is what a run will do: the file and metadata actions in short (for
// pkg_upload_status and the tests), and the ordered steps that carry them
// out. The steps are the plan: a dry run reports their sentences, a real
// run applies them in order.
type Plan struct {
	File   FileAction
	Meta   MetaAction
	Reason string // why the file action was chosen
	Steps  []Step
}

// Sends reports whether the plan has the file sent in this run.
func (p Plan) Sends() bool { return p.File == FileUpload || p.File == FileReplace }

// Sentences are the steps' sentences, in order: pkg_plan.
func (p Plan) Sentences() []string {
	s := make([]string, len(p.Steps))
	for i, st := range p.Steps {
		s[i] = st.String()
	}
	return s
}

// choice is what Decide chose before it writes the steps out: the file
// and metadata actions and the flags that shape the steps.
type choice struct {
	File   FileAction
	Meta   MetaAction
	Reason string // why the file action was chosen, for the log and dry run
	// Repair: the file is sent although replace_pkg is false, because the
	// object's file is missing or an earlier run left the replace undone.
	Repair bool
	// FinishMeta: only the metadata an earlier run failed to write is
	// written now, with the hash of the file that run uploaded.
	FinishMeta bool
	// VerifyEarlier: an earlier run sent the local file and Jamf Pro was
	// still processing it; it is only verified (PendingVerify).
	VerifyEarlier bool
	// InPlace: the object's file is replaced through
	// /api/v1/packages/{id}/upload, which never deletes it first (the
	// object exists, or is made first: CreateFirst).
	InPlace bool
	// CreateFirst: no object is visible, but the distribution point holds
	// a file of this name. The object is created before any byte is sent,
	// pointing at that file (so it never points at a missing one): the
	// create is checked against the database, where a duplicate name
	// reveals an object this cluster node has not shown (the run then
	// decides again with it, per replace_pkg). On 11.5+ the file is then
	// replaced in place through the new object's {id}/upload; below 11.5
	// the JCDS replace follows, its delete the one unavoidable window.
	CreateFirst bool
	// WriteFileName: the existing object names another file, and the new
	// one goes through its {id}/upload, which refuses a name other than the
	// object's fileName (400 INVALID_FILE_NAME, jamf-upload#162); the new
	// fileName is written first, as JamfPackageUploader does.
	WriteFileName bool
	// SendNow: the file's bytes go out in this attempt (File is FileUpload
	// or FileReplace, and no earlier attempt of the run sent them).
	SendNow bool
}

// Sends reports whether the choice has the file sent in this run.
func (p choice) Sends() bool { return p.File == FileUpload || p.File == FileReplace }

// NeedsJCDSList reports whether the decision depends on the JCDS file list:
// only when the file may have to be sent.
func NeedsJCDSList(cfg *Config, obj *jamf.Package) bool {
	return obj == nil || cfg.ReplacePkg
}

// NeedsLocalHash reports whether the file must be hashed before deciding:
// only when a same-name file of the same size is in the JCDS, so that a
// changed file of a different size is hashed while it uploads instead.
func NeedsLocalHash(f *jamf.JCDSFile, localSize int64) bool {
	return f != nil && f.Length == localSize && f.Length > 0
}

// NeedsCompare reports whether the decision needs the local file's digest
// to compare with the distribution point's same-name file: only when the
// file may be sent (a replace, a repair, an unsettled record, no object)
// and the existing object's file is not simply kept, and the same-name
// file has the local size (NeedsLocalHash). An unsettled record alone
// leaves nothing to compare; a repair compares like a replace.
func NeedsCompare(cfg *Config, facts Facts) bool {
	if mayVerifyEarlier(facts) {
		return true // the local SHA3-512 against the journal's
	}
	obj := facts.Object
	mayUpload := NeedsJCDSList(cfg, obj) || facts.Unsettled || facts.ObjectFileMissing || sendAgain(facts)
	keep := obj != nil && !cfg.ReplacePkg && !facts.Failed && !facts.ObjectFileMissing && !sendAgain(facts)
	return mayUpload && !keep && NeedsLocalHash(facts.JCDSFile, facts.LocalSize)
}

// mayVerifyEarlier reports whether the journal says an earlier run sent a
// file of the local file's size that was still processing when it stopped
// waiting: the local SHA3-512 then tells whether it is this file
// (verifiesEarlier).
func mayVerifyEarlier(facts Facts) bool {
	e := facts.Earlier
	return facts.Pending == PendingVerify && e != nil && e.SHA3 != "" && e.Size == facts.LocalSize && facts.Object != nil &&
		e.Waits < maxVerifyWaits
}

// sendAgain: the journal says an earlier run left the file to be sent
// again: PendingFile, or a PendingVerify entry the run does not only
// verify (verifiesEarlier, checked first): another local file, a record in
// ERROR, or one waited for maxVerifyWaits times.
func sendAgain(facts Facts) bool {
	return facts.Pending == PendingFile || facts.Pending == PendingVerify
}

// maxVerifyWaits bounds the runs that wait for a file an earlier run sent
// (PendingVerify) before one sends it again: a file that never arrives
// without ever showing a loss would otherwise be waited for every night.
// Processing takes minutes (about 15 for 10.85 GB, jamf-upload #399), so
// three runs' budgets are far beyond it (our choice).
const maxVerifyWaits = 3

// verifiesEarlier: the file an earlier run sent, still processing when it
// stopped waiting (PendingVerify), is the local file. It is verified, not
// sent again, unless its record says ERROR.
func verifiesEarlier(facts Facts) bool {
	return mayVerifyEarlier(facts) && !facts.Failed && strings.EqualFold(facts.Earlier.SHA3, facts.Local.SHA3_512)
}

// refreshBeforeRead reports whether the survey refreshes the file's
// inventory before it reads the cloud distribution point's (where no JCDS
// list tells): for an unsettled record on a server with a refresh (11.11+),
// and not in a dry run, which changes nothing. This node's inventory may
// predate the file (Jamf Cloud's nodes each keep their own, jamf/scripts
// hit_all_pods_internet.zsh); the wait after the decision would refresh it
// too.
func refreshBeforeRead(cfg *Config, facts Facts) bool {
	return facts.Unsettled && facts.CanRefresh && !cfg.DryRun
}

// Decide chooses the file and metadata actions, following the reference
// processor's rules, corrected where it lied or lost packages. It is the
// run's only decision: the steps after it carry the plan out.
func Decide(cfg *Config, facts Facts) Plan {
	if facts.Lost {
		return resend(cfg, facts)
	}
	c := choose(cfg, facts)
	return Plan{File: c.File, Meta: c.Meta, Reason: c.Reason, Steps: steps(cfg, facts, c)}
}

// choose is the decision, before it is written out as steps.
func choose(cfg *Config, facts Facts) choice {
	p := decideActions(cfg, facts)
	if facts.SentEarlier && !p.Sends() {
		// An earlier attempt of this run already sent the file; it only
		// needs its object.
		p.File, p.Reason = FileUpload, "sent already in this run"
		if facts.Object != nil && p.Meta == MetaNone && !cfg.SkipMetadata {
			p.Meta = MetaUpdate
		}
	}
	if inPlace(facts, p) {
		p.File, p.InPlace = FileReplace, true
	}
	p.SendNow = p.Sends() && !facts.SentEarlier
	// A file of this name with no visible object: on Jamf Cloud the object
	// may exist on the database while this node's cache has not caught up.
	// The database is asked first, by creating the object; nothing is
	// deleted on a node's view.
	p.CreateFirst = p.SendNow && p.File == FileReplace && facts.Object == nil && facts.JCDSFile != nil
	p.InPlace = p.InPlace || p.CreateFirst && !facts.Classic
	obj := facts.Object
	p.WriteFileName = p.SendNow && obj != nil && obj.FileName != facts.FileName && (p.InPlace || facts.Mode == ModeV1)
	return p
}

// inPlace reports whether the file of the existing object is replaced
// through /api/v1/packages/{id}/upload (Jamf Pro 11.5+), which needs no
// delete. Our choice, whatever upload_mode says: a same-name file on 11.5+
// always goes this way, so no run deletes a file an object may point at.
// An object that names another file gets the new fileName written first
// (choice.WriteFileName); one whose file is simply absent keeps the fast
// JCDS path when the mode allows it, as that deletes nothing either.
func inPlace(facts Facts, p choice) bool {
	obj := facts.Object
	if obj == nil || facts.Classic || !p.Sends() {
		return false
	}
	return obj.FileName != "" && obj.FileName == facts.FileName || p.File == FileReplace && !facts.SentEarlier
}

// decideActions is the decision from the facts of the distribution point
// and the journal alone.
func decideActions(cfg *Config, facts Facts) choice {
	var p choice
	if verifiesEarlier(facts) {
		p.File, p.VerifyEarlier = FileUnchanged, true
		p.Reason = "an earlier run sent this file and Jamf Pro was still processing it (journal): it is verified, not sent again"
		if cfg.ReplaceMetadata && !cfg.SkipMetadata {
			p.Meta = MetaUpdate
		}
		return p
	}
	p.Repair = facts.Object != nil && !cfg.ReplacePkg && (facts.ObjectFileMissing || sendAgain(facts))
	switch {
	case facts.Object != nil && !cfg.ReplacePkg && !facts.Unsettled && !p.Repair:
		p.File = FileKeep
		p.Reason = fmt.Sprintf("package object %q exists and replace_pkg is false", facts.Object.Name)
		p.FinishMeta = facts.Pending == PendingMetadata
	case facts.Object != nil && !cfg.ReplacePkg && !facts.Failed && !p.Repair && facts.JCDSFile != nil && facts.JCDSFile.Length != 0:
		p.File = FileKeep
		p.Reason = fmt.Sprintf("package object %q exists and its file is in the distribution point; Jamf Pro has not finished with it yet", facts.Object.Name)
	case facts.JCDSFile == nil:
		p.File = FileUpload
		p.Reason = "the JCDS has no file of this name"
	case facts.JCDSFile.Length < 0:
		p.File = FileReplace
		p.Reason = "the distribution point holds a file of this name whose bytes cannot be compared"
	case facts.JCDSFile.Length == 0:
		p.File = FileReplace
		p.Reason = "the JCDS file of this name is empty (a failed earlier upload)"
	case facts.JCDSFile.Length != facts.LocalSize:
		p.File = FileReplace
		p.Reason = fmt.Sprintf("the JCDS file differs in size (%d bytes there, %d here)", facts.JCDSFile.Length, facts.LocalSize)
	case facts.JCDSFile.MD5 != "" && facts.Local.MD5 != "" && strings.EqualFold(facts.JCDSFile.MD5, facts.Local.MD5):
		p.File = FileUnchanged
		p.Reason = "the JCDS file has the same size and MD5"
	case (facts.JCDSFile.MD5 == "" || facts.Local.MD5 == "") && facts.Local.SHA3_512 != "" && strings.EqualFold(facts.JCDSFile.SHA3, facts.Local.SHA3_512):
		p.File = FileUnchanged
		p.Reason = "the JCDS file has the same SHA3-512"
	default:
		p.File = FileReplace
		p.Reason = "the JCDS file has the same size but different content"
	}

	if p.Repair {
		why := "an earlier run left its replace of this file unfinished (journal)"
		if facts.ObjectFileMissing {
			why = fmt.Sprintf("package object %q points at %q, which the distribution point does not hold", facts.Object.Name, facts.Object.FileName)
		}
		p.Reason = "repair: " + why + "; " + p.Reason
	}
	if cfg.SkipMetadata && facts.Object != nil {
		// As the reference: skip_metadata_upload never amends an existing
		// object ("for organisations where amending packages is not
		// allowed"), but a new package still gets one, or no policy could
		// use the file.
		p.Meta = MetaNone
		p.FinishMeta = false
		return p
	}
	switch {
	case facts.Object == nil && p.File != FileKeep:
		// Also when the bytes were already there: a run that uploaded but
		// failed before writing metadata must converge on the rerun.
		p.Meta = MetaCreate
	case facts.Object != nil && (p.File == FileUpload || p.File == FileReplace || cfg.ReplaceMetadata || cfg.ReplacePkg || p.Repair || p.FinishMeta):
		// A repair whose file turned out complete still writes the hash:
		// the run that broke off may have left the old file's on the object.
		p.Meta = MetaUpdate
	}
	return p
}

// steps writes the choice out as the ordered steps a run applies. Every
// choice of what to send, delete, create or write is made here.
func steps(cfg *Config, facts Facts, c choice) []Step {
	var s []Step
	obj := facts.Object
	name := facts.FileName
	if cfg.DisplayName != "" {
		name = cfg.DisplayName
	}
	switch c.File {
	case FileKeep:
		s = append(s, keepFile{Object: obj.Name, Reason: c.Reason})
	case FileUnchanged:
		s = append(s, skipUpload{File: facts.FileName, Reason: c.Reason})
	}
	var created bool // the object is created before the send
	if c.SendNow {
		var send []Step
		send, created = sendSteps(facts, c, name)
		s = append(s, send...)
	}

	hash := hashServer
	switch {
	case facts.CanRefresh:
	case c.Sends() || c.File == FileUnchanged || c.Meta == MetaCreate:
		hash = hashOurs
	case c.FinishMeta && facts.Earlier != nil:
		hash = hashJournal
	default:
		hash = hashKept
	}
	switch {
	case c.Meta == MetaCreate && !created:
		s = append(s, writeMetadata{Name: name, Create: true, Classic: facts.Classic, Hash: hash})
	case c.Meta == MetaUpdate:
		note := noteNothing
		if c.Sends() || c.Repair {
			note = noteMeta
		}
		s = append(s, writeMetadata{Name: name, Classic: facts.Classic, Hash: hash, Earlier: facts.Earlier,
			Note: note, Record: recordHash{Write: hash != hashServer, DropServer: c.Sends()}})
	case c.Meta == MetaNone && cfg.SkipMetadata:
		s = append(s, noMetadata{Reason: "skip_metadata_upload is true"})
	case c.Meta == MetaNone:
		s = append(s, noMetadata{Reason: "nothing changed and replace_pkg_metadata is false"})
	}

	// Whatever this run wrote or sent, or an earlier run left unsettled,
	// is waited for until Jamf Pro shows it whole.
	if c.Meta == MetaNone && !created && !c.Sends() && !facts.Unsettled && !c.VerifyEarlier {
		return s
	}
	// A file sent, and still processing when the budget runs out, is
	// noted for a later run to verify without sending it again.
	st := settle{Kind: settleRecord, Expect: expect(facts, c), Sends: c.Sends(), Mode: facts.Mode, Object: obj,
		Dups: facts.DupsBefore, Pending: c.File == FileUnchanged && !cfg.ReplacePkg && c.Meta == MetaNone || c.VerifyEarlier,
		NoteVerify: c.Sends() || c.VerifyEarlier}
	switch {
	case facts.Classic:
		st.Kind = settleNone
	case !facts.CanRefresh && c.Sends() && facts.Mode == ModeV1:
		// Nothing fills size again before 11.11; a JCDS upload was
		// already verified through the JCDS list.
		st.Kind = settleListing
	case !facts.CanRefresh:
		st.Kind = settleNone
	}
	s = append(s, st)
	if cfg.Recalculate && (c.Meta != MetaNone || created || facts.Wrote) {
		s = append(s, recalculate{Refreshed: st.Kind == settleRecord})
	}
	return s
}

// sendSteps are the steps that send the file now (choice.SendNow): the
// object created first where the send needs it (created), its fileName
// written first, and the send through {id}/upload or the JCDS.
func sendSteps(facts Facts, c choice, name string) (s []Step, created bool) {
	obj := facts.Object
	// A v1 upload, or any same-name replace on 11.5+, goes through the
	// object's {id}/upload, which needs the object first.
	v1 := facts.Mode == ModeV1 || c.InPlace
	if c.CreateFirst || v1 && obj == nil {
		s = append(s, createObject{Name: name, FileName: facts.FileName, First: c.CreateFirst,
			Classic: facts.Classic, OurHash: !facts.CanRefresh, Reason: c.Reason})
		created = true
	}
	// A write of the whole record that only points the object at a
	// file carries the object's own hash where no refresh will write
	// the server's (before 11.11), never the server's digests of the
	// file being replaced.
	pointing := recordHash{Write: !facts.CanRefresh, DropServer: true}
	if c.WriteFileName {
		s = append(s, writeFileName{Object: obj, To: facts.FileName, Note: noteFile, Hash: pointing})
	}
	if v1 {
		var revert *jamf.Package
		if c.WriteFileName {
			revert = obj
		}
		// Noted once the object is there and before its file is
		// touched: if the run stops half-way, the next one sends the
		// file again, whatever replace_pkg says.
		s = append(s, sendV1{File: facts.FileName, Size: facts.LocalSize, Zipped: facts.Zipped, InPlace: c.InPlace,
			RevertTo: revert, Created: created, KeepCreated: facts.FileExisted, Note: noteFile, RevertHash: pointing,
			ServerMD5: facts.ServerMD5, Reason: c.Reason})
	} else {
		// Below 11.5 a same-name file is deleted right before the
		// commit, and an object that names this file's name too, in
		// case the listing lagged; on 11.5+ a same-name file always
		// goes in place (above).
		del := facts.Classic && (c.File == FileReplace || obj != nil && obj.FileName == facts.FileName)
		// Where an object names the file (found, or made first), the
		// journal notes it at risk.
		note := noteNothing
		if obj != nil || created {
			note = noteFile
		}
		s = append(s, sendJCDS{File: facts.FileName, Size: facts.LocalSize, Zipped: facts.Zipped, DeleteStale: del,
			Object: obj, Note: note, ServerMD5: facts.ServerMD5, DupsBefore: facts.DupsBefore, Reason: c.Reason})
	}

	return s, created
}

// resend is the plan after a sent file never landed: send it again
// through the object's {id}/upload (its fileName is this file's since the
// first send, and its metadata was written then), and wait for it, as
// Jamf's own tool does (terraform-provider-jamfplatform PR #273).
func resend(cfg *Config, facts Facts) Plan {
	why := "Jamf Pro accepted it, but after the inventory refresh the package record shows a new hash with size 0: it never landed"
	c := choice{File: FileReplace, Reason: why, InPlace: true, SendNow: true}
	s := []Step{
		sendV1{File: facts.FileName, Size: facts.LocalSize, Zipped: facts.Zipped, InPlace: true, Resend: true,
			Note: noteFile, ServerMD5: facts.ServerMD5, Reason: why},
		settle{Kind: settleRecord, Expect: expect(facts, c), Sends: true, Mode: facts.Mode, Object: facts.Object,
			Dups: facts.DupsBefore},
	}
	if cfg.Recalculate && facts.Wrote {
		s = append(s, recalculate{Refreshed: true}) // the settle step refreshes
	}
	return Plan{File: c.File, Meta: MetaNone, Reason: why, Steps: s}
}

// expect says what the record must show: the local file when it is what
// the distribution point holds (sent, or identical bytes). A kept file is
// whatever the server shows once refreshed: any size above 0, READY. What
// this run read of it may be a cluster node's stale copy, so it is no
// measure.
func expect(facts Facts, c choice) expectation {
	if c.Sends() || c.File == FileUnchanged {
		return expectation{fileName: facts.FileName, size: facts.LocalSize, local: true}
	}
	if earlier := facts.Earlier; c.FinishMeta && earlier != nil {
		// The file an earlier run uploaded, as the journal describes it.
		return expectation{fileName: earlier.FileName, size: earlier.Size,
			sums: s3upload.Sums{MD5: earlier.MD5, SHA3_512: earlier.SHA3}}
	}
	exp := expectation{fileName: facts.FileName, size: -1}
	if facts.Object != nil {
		exp.fileName = facts.Object.FileName
	}
	return exp
}

func displayName(cfg *Config, f *PkgFile) string {
	if cfg.DisplayName != "" {
		return cfg.DisplayName
	}
	return f.Name
}

// OwnDuplicate is the JCDS file this run deletes after its upload, if
// any: a Name_N copy of name that was not listed before the upload
// (dupsBefore) with our size (and MD5, when listed). The service stored
// our upload under it because another upload of the same name committed
// first; copies made by others, or before this run, are never ours to
// delete.
func OwnDuplicate(files []jamf.JCDSFile, name string, size int64, dupsBefore map[string]bool, sums s3upload.Sums) *jamf.JCDSFile {
	for _, d := range Duplicates(files, name) {
		if dupsBefore[d] {
			continue
		}
		for i := range files {
			f := &files[i]
			if f.FileName != d || f.Length != size {
				continue
			}
			if f.MD5 != "" && sums.MD5 != "" && !strings.EqualFold(f.MD5, sums.MD5) {
				continue
			}
			return f
		}
	}
	return nil
}

// Duplicates returns the JCDS files that look like service-made copies of
// name (Name_1.pkg, Name_2.pkg …), left by earlier uploads that did not
// delete first.
func Duplicates(files []jamf.JCDSFile, name string) []string {
	ext := ""
	base := name
	if i := strings.LastIndex(name, "."); i > 0 {
		base, ext = name[:i], name[i:]
	}
	re := regexp.MustCompile("^" + regexp.QuoteMeta(base) + `_\d+` + regexp.QuoteMeta(ext) + "$")
	var dups []string
	for _, f := range files {
		if re.MatchString(f.FileName) {
			dups = append(dups, f.FileName)
		}
	}
	return dups
}
