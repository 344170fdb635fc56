package processor

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
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
	// object's /api/v1/packages/{id}/upload (Plan.InPlace, Plan.CreateFirst),
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
	LocalSHA3 string // computed only when a same-name, same-size file exists
	LocalMD5  string // likewise, when the JCDS lists an MD5 to compare with
	// ObjectFileMissing: the object exists but the distribution point does
	// not hold its file (a replace that failed after deleting it).
	ObjectFileMissing bool
	// Pending is what the journal says an earlier run left unfinished
	// (PendingFile, PendingMetadata), "" for nothing.
	Pending string
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
}

// Plan is the sequence of changes a run will make.
type Plan struct {
	File   FileAction
	Meta   MetaAction
	Reason string // why the file action was chosen, for the log and dry run
	// Repair: the file is sent although replace_pkg is false, because the
	// object's file is missing or an earlier run left the replace undone.
	Repair bool
	// FinishMeta: only the metadata an earlier run failed to write is
	// written now, with the hash of the file that run uploaded.
	FinishMeta bool
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

// Sends reports whether the plan has the file sent in this run.
func (p Plan) Sends() bool { return p.File == FileUpload || p.File == FileReplace }

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

// Decide chooses the file and metadata actions, following the reference
// processor's rules, corrected where it lied or lost packages. It is the
// run's only decision: the steps after it carry the plan out.
func Decide(cfg *Config, facts Facts) Plan {
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
// (Plan.WriteFileName); one whose file is simply absent keeps the fast
// JCDS path when the mode allows it, as that deletes nothing either.
func inPlace(facts Facts, p Plan) bool {
	obj := facts.Object
	if obj == nil || facts.Classic || !p.Sends() {
		return false
	}
	return obj.FileName != "" && obj.FileName == facts.FileName || p.File == FileReplace && !facts.SentEarlier
}

// decideActions is the decision from the facts of the distribution point
// and the journal alone.
func decideActions(cfg *Config, facts Facts) Plan {
	var p Plan
	p.Repair = facts.Object != nil && !cfg.ReplacePkg && (facts.ObjectFileMissing || facts.Pending == PendingFile)
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
	case facts.JCDSFile.MD5 != "" && facts.LocalMD5 != "" && strings.EqualFold(facts.JCDSFile.MD5, facts.LocalMD5):
		p.File = FileUnchanged
		p.Reason = "the JCDS file has the same size and MD5"
	case (facts.JCDSFile.MD5 == "" || facts.LocalMD5 == "") && facts.LocalSHA3 != "" && strings.EqualFold(facts.JCDSFile.SHA3, facts.LocalSHA3):
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

// Steps describes the plan as a list of sentences, for the log and the
// output of a dry run.
func (p Plan) Steps(cfg *Config, f *PkgFile, mode string) []string {
	var s []string
	if p.WriteFileName {
		s = append(s, fmt.Sprintf("write fileName %s on the package object first ({id}/upload refuses another name); until the upload lands it names a file the distribution point does not hold, and a failed upload points it back", f.Name))
	}
	switch p.File {
	case FileKeep:
		s = append(s, "keep the file: "+p.Reason)
		if p.FinishMeta {
			s = append(s, "finish the metadata write an earlier run left undone (journal)")
		}
	case FileUnchanged:
		s = append(s, fmt.Sprintf("do not upload %s: %s", f.Name, p.Reason))
	case FileReplace:
		if p.CreateFirst {
			s = append(s, fmt.Sprintf("create package object %q first, pointing at the file of this name already in the distribution point (%s); if Jamf Pro says the name exists (an object this Jamf Cloud node has not shown yet), wait for it and decide again with it", displayName(cfg, f), p.Reason))
		}
		if p.InPlace {
			s = append(s, fmt.Sprintf("replace the object's file through /api/v1/packages/{id}/upload (%s); nothing is deleted first. No source says whether the old file stays installable while Jamf Pro processes the new one, so the run waits for the record to show the new file READY", p.Reason))
			s = append(s, fmt.Sprintf("upload %s (%d bytes) through /api/v1/packages/{id}/upload, then verify its size and digest", f.Name, f.Size))
			break
		}
		if mode == ModeV1 {
			s = append(s, fmt.Sprintf("replace the file of this name (%s)", p.Reason))
		} else {
			s = append(s, fmt.Sprintf("send every byte of %s to S3, then delete the stale JCDS file (%s), confirm it is gone and commit at once: below Jamf Pro 11.5 there is no {id}/upload, so the delete cannot be avoided and the package object points at no file for that one request", f.Name, p.Reason))
		}
		fallthrough
	case FileUpload:
		if f.Zipped {
			s = append(s, fmt.Sprintf("zip the bundle package into %s", f.Path))
		}
		size := fmt.Sprintf("%d bytes", f.Size)
		if f.Size == 0 && f.Zipped {
			size = "size known once zipped"
		}
		if mode == ModeV1 {
			s = append(s, fmt.Sprintf("upload %s (%s) through /api/v1/packages/{id}/upload", f.Name, size))
		} else {
			s = append(s, fmt.Sprintf("upload %s (%s) to the JCDS, then verify its size and digest", f.Name, size))
		}
	}
	if p.File == FileUnchanged && !cfg.ReplacePkg && p.Meta == MetaNone {
		s = append(s, "wait for Jamf Pro to finish with the file an earlier run left unsettled")
	}
	switch p.Meta {
	case MetaCreate:
		if p.CreateFirst {
			break
		}
		s = append(s, fmt.Sprintf("create package object %q", displayName(cfg, f)))
	case MetaUpdate:
		s = append(s, fmt.Sprintf("update the metadata of package object %q", displayName(cfg, f)))
	default:
		if cfg.SkipMetadata {
			s = append(s, "do not write metadata: skip_metadata_upload is true")
		} else {
			s = append(s, "do not write metadata: nothing changed and replace_pkg_metadata is false")
		}
	}
	if p.Meta != MetaNone || p.File == FileUpload || p.File == FileReplace {
		s = append(s, "refresh the distribution point inventory and wait until the package record shows the file's size, digest and READY")
	}
	return s
}

func displayName(cfg *Config, f *PkgFile) string {
	if cfg.DisplayName != "" {
		return cfg.DisplayName
	}
	return f.Name
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
