// Package processor turns an AutoPkg environment into a plan and the plan
// into results: look everything up first, decide, then upload, verify and
// write metadata, in the order that never leaves a package object pointing
// at a missing file.
package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// Options are the command-line settings that are not environment keys.
type Options struct {
	DryRun   bool
	Logger   zerolog.Logger
	Progress io.Writer // where progress goes: standard error; nil for none
	Version  string    // this program's version, for the log
	// CacheDir overrides the token cache folder (tests); "" is the default.
	CacheDir string
}

// Result is what a run did; Run writes it into the environment.
type Result struct {
	File        *PkgFile
	Plan        Plan
	Mode        string
	Status      string
	Uploaded    bool
	MetaWritten bool
	PackageID   string
	SHA3        string
	Recalc      bool
	Steps       []string
	Stats       jamf.Stats
}

// Run performs the upload described by env and writes the outputs into it.
func Run(ctx context.Context, env plistio.Env, opts Options) error {
	// A summary from an earlier processor in the same recipe run must not
	// be reported again as if this run had changed something.
	delete(env, SummaryKey)

	cfg, err := ParseConfig(env, opts.DryRun)
	if err != nil {
		return err
	}
	if b, _ := env.Bool("jcds_mode"); b {
		opts.Logger.Warn().Msg("jcds_mode is obsolete and ignored; this processor always uses JCDS 2.0")
	}
	res, err := Upload(ctx, cfg, opts)
	if err != nil {
		return err
	}
	writeOutputs(env, cfg, res)
	return nil
}

// Upload runs the whole flow for cfg.
func Upload(ctx context.Context, cfg *Config, opts Options) (*Result, error) {
	log := opts.Logger
	log.Debug().Str("version", opts.Version).Msg("starting")

	file, err := ResolvePkg(cfg)
	if err != nil {
		return nil, err
	}
	log.Info().Str("path", file.Path).Str("pkg_name", file.Name).Int64("size", file.Size).Msg("package")

	client, err := jamf.NewClient(jamf.Config{
		URL: cfg.URL, Username: cfg.Username, Password: cfg.Password,
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, BearerToken: cfg.BearerToken,
		Insecure: cfg.Insecure, MaxTries: cfg.MaxTries, Sleep: cfg.Sleep,
		CacheDir: opts.CacheDir, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	u := &uploader{cfg: cfg, opts: opts, log: log, client: client, file: file}
	res, err := u.run(ctx)
	if res != nil {
		res.Stats = client.Stats()
		log.Debug().Int64("requests", res.Stats.Requests).Int64("token_requests", res.Stats.TokenRequests).Msg("Jamf Pro requests")
	}
	return res, err
}

type uploader struct {
	cfg     *Config
	opts    Options
	log     zerolog.Logger
	client  *jamf.Client
	file    *PkgFile
	version jamf.Version
	sums    s3upload.Sums
	// serverMD5: the JCDS lists MD5s, so verification can compare them.
	serverMD5 bool
	// fileExisted: the distribution point held a file of this name before
	// the run (or it could not be told). A v1 object made for a failed
	// upload is then kept: deleting it would delete that file.
	fileExisted bool
	// refreshed: an inventory refresh ran; perFile: for this file only.
	refreshed, perFile bool
	// bytesSent: the file went out in an earlier attempt of this run.
	bytesSent bool
	res       Result

	fileID      fileID        // the local file as the run began
	journal     *journal      // nil when unavailable
	pending     *JournalEntry // the journal entry as it stands (nil: none)
	earlier     *JournalEntry // what an earlier run left unfinished
	journalRead bool
	dupsBefore  map[string]bool // Name_N copies listed before this run uploaded
	deleted     bool            // this run deleted the old file and has not yet committed the new one
	// refreshWaited: recalculate_wait_time has been waited in this run.
	refreshWaited bool
}

func (u *uploader) classic() bool { return !u.version.AtLeast(11, 5) }

func (u *uploader) run(ctx context.Context) (*Result, error) {
	cfg, file := u.cfg, u.file
	u.res.File = file
	if !cfg.DryRun && file.Size > 0 {
		id, err := statID(file.Path)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", file.Path, err)
		}
		u.fileID = id
	}
	if !cfg.DryRun {
		unlock, err := u.client.LockUpload(ctx, file.Name, 6*time.Hour, func() {
			u.log.Warn().Msgf("another run on this Mac is uploading %s to %s; waiting for it to finish", file.Name, cfg.URL)
		})
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	if err := u.client.Authenticate(ctx); err != nil {
		return nil, err
	}
	v, err := u.client.Version(ctx)
	if err != nil {
		return nil, err
	}
	u.version = v
	u.log.Info().Str("jamf_pro", v.Raw).Msg("connected")

	obj, err := u.findPackage(ctx, displayName(cfg, file))
	if err != nil {
		return nil, err
	}
	// A second attempt only follows a create that met an object this node
	// did not show; with that object found, no create is tried again.
	for try := 1; ; try++ {
		err = u.attempt(ctx, obj)
		var stale *staleNodeError
		if !errors.As(err, &stale) || try == 3 {
			break
		}
		// The object exists, but this cluster node had not seen it when
		// looked up: decide again with it.
		obj = stale.obj
		u.log.Info().Str("id", obj.ID).Msgf("package object %q was made elsewhere moments ago and this Jamf Cloud node now sees it; deciding again", obj.Name)
		u.res.PackageID, u.res.MetaWritten = "", false
	}
	if err != nil {
		return nil, err
	}
	return &u.res, nil
}

// attempt looks at the distribution point, decides and carries the plan
// out for the package object obj (nil: none found).
func (u *uploader) attempt(ctx context.Context, obj *jamf.Package) error {
	cfg, file := u.cfg, u.file
	facts, err := u.survey(ctx, obj)
	if err != nil {
		return err
	}
	plan := Decide(cfg, facts)
	if u.bytesSent && plan.File != FileUpload && plan.File != FileReplace {
		// An earlier attempt of this run already sent the file; it only
		// needs its object.
		plan.File, plan.Reason = FileUpload, "sent already in this run"
		if obj != nil && plan.Meta == MetaNone && !cfg.SkipMetadata {
			plan.Meta = MetaUpdate
		}
	}
	if plan.File == FileUnchanged {
		u.adoptServerSHA3(facts.JCDSFile)
	}
	if u.inPlace(plan, obj) {
		plan.File, plan.InPlace = FileReplace, true
	}
	u.res.Plan = plan
	u.res.Steps = plan.Steps(cfg, file, u.res.Mode)
	for _, s := range u.res.Steps {
		u.log.Info().Msg("plan: " + s)
	}

	// Preflight what the plan needs, before anything changes.
	pkg, err := u.metadata(ctx, plan, obj)
	if err != nil {
		return err
	}
	if cfg.DryRun {
		u.res.Status = StatusDryRun
		return nil
	}

	switch plan.File {
	case FileKeep:
		u.res.Status = StatusSkippedExists
		u.log.Info().Msgf("Not replacing existing %s as 'replace_pkg' is set to False", obj.Name)
		if plan.FinishMeta && pkg != nil {
			pkg.HashType, pkg.HashValue = u.earlier.HashType, u.earlier.HashValue
		}
	case FileUnchanged:
		u.res.Status = StatusHashMatch
	case FileUpload, FileReplace:
		if !u.bytesSent {
			if err := u.send(ctx, plan, obj, pkg); err != nil {
				return err
			}
			u.bytesSent = true
			u.fileDelivered()
		}
	}

	if plan.Meta != MetaNone && !(u.res.Mode == ModeV1 && plan.Meta == MetaCreate && u.res.MetaWritten) {
		if err := u.writeMetadata(ctx, plan, pkg); err != nil {
			return err
		}
	} else if plan.Meta == MetaNone {
		u.log.Info().Msg("Not updating package metadata")
	}
	if err := u.settle(ctx, plan, obj); err != nil {
		return err
	}
	if u.sent() {
		u.res.Status = StatusUploaded
		u.res.Uploaded = true
		u.log.Info().Str("file", file.Name).Str("mode", u.res.Mode).Msg("uploaded and verified")
	}
	if u.pending != nil || u.earlier != nil || u.res.Uploaded {
		u.clearJournal()
	}
	return u.recalculate(ctx)
}

// staleNodeError: a create met an object of the same name that the cluster
// node serving this run had not shown; obj is that object, now visible.
type staleNodeError struct{ obj *jamf.Package }

func (e *staleNodeError) Error() string {
	return fmt.Sprintf("package object %q already exists (id %s)", e.obj.Name, e.obj.ID)
}

// clusterWait bounds the wait for a Jamf Cloud node to see an object that
// another node wrote: "the cluster refresh, which occurs every minute"
// (developer.jamf.com, sticky sessions for Jamf Cloud), with a margin.
var clusterWait = 90 * time.Second

// awaitObject handles a create refused as a duplicate although the lookup
// found no object: on Jamf Cloud another node made it moments ago (an
// earlier or concurrent run) and this node's cache has not caught up. It
// waits until the object shows, so the run goes on with it instead of
// making a second one.
func (u *uploader) awaitObject(ctx context.Context, name string, dupErr error) error {
	u.log.Info().Msgf("Jamf Pro says a package object %q exists although this node did not show it (Jamf Cloud's nodes catch up with each other once a minute); waiting for it", name)
	deadline := time.Now().Add(clusterWait)
	for {
		if err := sleep(ctx, 3*time.Second); err != nil {
			return err
		}
		obj, err := u.findPackage(ctx, name)
		if err != nil {
			return err
		}
		if obj != nil {
			return &staleNodeError{obj: obj}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w; no package object of that name showed within %s: check for a package with the same name in different case in Jamf Pro", dupErr, clusterWait)
		}
	}
}

// sent reports whether this run sent the file's bytes.
func (u *uploader) sent() bool {
	return u.res.Plan.File == FileUpload || u.res.Plan.File == FileReplace
}

// survey gathers what the decision needs beyond the package object: the
// upload mode and the distribution point's file of this name, only when
// the file may have to be sent (the nightly no-op stays at its few
// requests).
func (u *uploader) survey(ctx context.Context, obj *jamf.Package) (Facts, error) {
	cfg, file := u.cfg, u.file
	facts := Facts{Object: obj, LocalSize: file.Size, Unsettled: u.unsettled(obj),
		Failed: obj != nil && strings.EqualFold(obj.TransferStatus, "ERROR")}
	if obj != nil {
		u.res.PackageID = obj.ID
		u.log.Info().Str("id", obj.ID).Str("name", obj.Name).Msg("package object exists")
		if facts.Unsettled {
			u.log.Warn().Str("id", obj.ID).Msgf("package object %q is not settled in Jamf Pro (cloudTransferStatus %s, size %s); finishing the job", obj.Name, orNone(obj.TransferStatus), sizeText(obj))
		}
	}
	// The quiet night (object there, replace_pkg false) spends the one
	// listing the mode choice makes anyway on checking that the object's
	// file is really there.
	files, listed, err := u.chooseMode(ctx)
	if err != nil {
		return facts, err
	}
	u.openJournal(!cfg.DryRun)
	switch {
	case listed:
		for i := range files {
			if files[i].FileName == file.Name {
				facts.JCDSFile = &files[i]
				break
			}
		}
		u.dupsBefore = map[string]bool{}
		if dups := Duplicates(files, file.Name); len(dups) > 0 {
			u.log.Warn().Strs("files", dups).Msgf("the JCDS holds duplicates of %s made by earlier uploads; delete them in Jamf Pro", file.Name)
			for _, d := range dups {
				u.dupsBefore[d] = true
			}
		}
		u.serverMD5 = listsMD5(files)
		u.fileExisted = facts.JCDSFile != nil
		facts.ObjectFileMissing = objectFileMissing(obj, files)
		if facts.ObjectFileMissing {
			u.log.Warn().Str("id", obj.ID).Str("file", obj.FileName).Msg("the package object's file is missing from the distribution point; it will be uploaded again from the local file")
		}
	case obj != nil && obj.SizeKnown && obj.FileName == file.Name && !facts.Unsettled:
		// No JCDS list: the package record's own size and digests, which the
		// server computed from the file, stand in for it.
		facts.JCDSFile = recordAsFile(obj)
		u.serverMD5 = obj.MD5 != ""
		u.fileExisted = true
	default:
		status, known := u.cloudFile(ctx)
		u.fileExisted = status != "" || !known
		if status != "" && !strings.EqualFold(status, "ERROR") {
			// There, or being processed: its bytes cannot be compared.
			facts.JCDSFile = &jamf.JCDSFile{FileName: file.Name, Length: -1}
		}
		if obj != nil && obj.FileName == file.Name && known && status == "" {
			// No JCDS list and a record without size: the cloud
			// distribution point's inventory is what tells.
			facts.ObjectFileMissing = true
			u.log.Warn().Str("id", obj.ID).Str("file", obj.FileName).Msg("the cloud distribution point does not list the package object's file; it will be uploaded again from the local file")
		}
	}
	u.loadPending(listed, facts.JCDSFile)
	if u.earlier != nil {
		facts.Pending = u.earlier.Pending
	}
	mayUpload := NeedsJCDSList(cfg, obj) || facts.Unsettled || facts.ObjectFileMissing || facts.Pending == PendingFile
	if !mayUpload {
		return facts, nil
	}
	// Only unsettled: nothing to compare. A repair compares like a replace.
	keep := obj != nil && !cfg.ReplacePkg && !facts.Failed && !facts.ObjectFileMissing && facts.Pending != PendingFile
	if !keep && NeedsLocalHash(facts.JCDSFile, file.Size) && (!file.Zipped || !cfg.DryRun) {
		// Compare by MD5 when the server lists one (several times faster
		// than SHA3-512), and compute the metadata's digest in the same
		// pass unless the server's own SHA3-512 can stand in for it.
		which := u.localDigests()
		if facts.JCDSFile.MD5 == "" {
			which |= s3upload.SHA3_512
		}
		sums, err := u.hash(ctx, which)
		if err != nil {
			return facts, err
		}
		facts.LocalSHA3, facts.LocalMD5 = sums.SHA3_512, sums.MD5
	}
	return facts, nil
}

// cloudFile asks the cloud distribution point's inventory (11.23+) about
// the file of this name: its status (READY, PENDING, ERROR; "" when not
// there), and whether the inventory could tell at all.
func (u *uploader) cloudFile(ctx context.Context) (status string, known bool) {
	if !u.version.AtLeast(11, 23) {
		return "", false
	}
	files, err := u.client.CloudFiles(ctx, u.file.Name)
	if err != nil {
		u.log.Debug().Err(err).Msg("cloud distribution point inventory not readable")
		return "", false
	}
	if len(files) == 0 {
		return "", true
	}
	if files[0].Status == "" {
		return "READY", true
	}
	return files[0].Status, true
}

// recordAsFile describes the file a package record points at as the JCDS
// list would: the server's size and digests.
func recordAsFile(p *jamf.Package) *jamf.JCDSFile {
	f := &jamf.JCDSFile{FileName: p.FileName, Length: p.Size, MD5: strings.ToLower(p.MD5), SHA3: strings.ToLower(p.SHA3512)}
	if f.SHA3 == "" && p.HashType == "SHA3_512" {
		f.SHA3 = strings.ToLower(p.HashValue)
	}
	if f.MD5 == "" && p.HashType == "MD5" {
		f.MD5 = strings.ToLower(p.HashValue)
	}
	return f
}

// unsettled reports whether a package record shows a file Jamf Pro has not
// finished with: processing still PENDING or ended in ERROR, a size of 0
// (the file never landed), or a blank size ("Availability Pending": a
// metadata write since the last inventory refresh) where a refresh can fill
// it. A run that timed out waiting or failed leaves such a record, and so
// do other tools' writes; the rerun finishes the job instead of keeping it.
func (u *uploader) unsettled(p *jamf.Package) bool {
	if p == nil || u.classic() {
		return false
	}
	switch strings.ToUpper(p.TransferStatus) {
	case "PENDING", "ERROR":
		return true
	case "":
		// A server that reports no status: only a size of 0 says anything.
		return p.SizeKnown && p.Size == 0
	}
	return p.SizeKnown && p.Size == 0 || !p.SizeKnown && u.canRefresh()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func sizeText(p *jamf.Package) string {
	if !p.SizeKnown {
		return "blank"
	}
	return fmt.Sprint(p.Size)
}

func (u *uploader) findPackage(ctx context.Context, name string) (*jamf.Package, error) {
	if u.classic() {
		return u.client.FindPackageClassic(ctx, name)
	}
	return u.client.FindPackage(ctx, name)
}

// localDigests is what this run computes from the file's bytes: MD5 to
// compare with the JCDS's listing, and the metadata's digest unless that is
// SHA3-512 and the JCDS lists MD5s. Then the JCDS's SHA3-512 of bytes whose
// size and MD5 match ours stands in for it: SHA3-512 is the slowest digest
// by far (about 70 MB/s on a server core), and would otherwise bound the
// upload's speed.
func (u *uploader) localDigests() s3upload.HashSet {
	h := s3upload.MD5
	if meta := u.metaHashSet(); meta != s3upload.SHA3_512 || !u.serverMD5 {
		h |= meta
	}
	return h
}

// adoptServerSHA3 takes the JCDS's SHA3-512 for a file whose bytes were
// shown to equal ours (same size and MD5), when this run did not compute it.
func (u *uploader) adoptServerSHA3(f *jamf.JCDSFile) {
	if u.sums.SHA3_512 == "" && f != nil && f.SHA3 != "" {
		u.sums.SHA3_512 = strings.ToLower(f.SHA3)
		u.res.SHA3 = u.sums.SHA3_512
	}
}

// listsMD5 reports whether the JCDS can be expected to list MD5s. An empty
// distribution point says nothing either way; the reference server lists
// them, and verify still hashes SHA3-512 if the new file's entry lacks one.
func listsMD5(files []jamf.JCDSFile) bool {
	if len(files) == 0 {
		return true
	}
	for _, f := range files {
		if f.MD5 != "" {
			return true
		}
	}
	return false
}

func (u *uploader) hash(ctx context.Context, which s3upload.HashSet) (s3upload.Sums, error) {
	p := u.progress("hashing " + u.file.Name)
	sums, _, err := s3upload.HashFile(ctx, u.file.Path, which, p)
	p.Done()
	if err != nil {
		return sums, fmt.Errorf("hash %s: %w", u.file.Path, err)
	}
	u.sums = mergeSums(u.sums, sums)
	u.res.SHA3 = u.sums.SHA3_512
	return sums, nil
}

func (u *uploader) progress(label string) *s3upload.Progress {
	if u.opts.Progress == nil {
		return nil
	}
	return s3upload.NewProgress(u.opts.Progress, label, u.file.Size)
}

func mergeSums(a, b s3upload.Sums) s3upload.Sums {
	if b.SHA3_512 != "" {
		a.SHA3_512 = b.SHA3_512
	}
	if b.SHA512 != "" {
		a.SHA512 = b.SHA512
	}
	if b.MD5 != "" {
		a.MD5 = b.MD5
	}
	return a
}

// metadata builds the package object to write and checks what writing it
// needs (the category) before any byte is sent.
func (u *uploader) metadata(ctx context.Context, plan Plan, obj *jamf.Package) (*jamf.Package, error) {
	// A v1 upload needs a package object to upload into, so one is built
	// even when skip_metadata_upload keeps the metadata from being written.
	v1NeedsObject := u.res.Mode == ModeV1 && obj == nil && (plan.File == FileUpload || plan.File == FileReplace)
	if plan.Meta == MetaNone && !v1NeedsObject {
		return nil, nil
	}
	cfg := u.cfg
	p := &jamf.Package{}
	if obj != nil {
		cp := *obj
		p = &cp
	}
	p.Name = displayName(cfg, u.file)
	p.FileName = u.file.Name
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

// send uploads the file in the chosen mode and confirms it arrived.
func (u *uploader) send(ctx context.Context, plan Plan, obj, pkg *jamf.Package) error {
	if u.res.Mode == ModeV1 || plan.InPlace {
		return u.sendV1(ctx, obj, pkg)
	}
	// A part size this file cannot take is refused before the upload starts.
	if _, err := s3upload.NewPlan(u.file.Size, u.cfg.UploadPartSize, u.cfg.UploadConcurrency); err != nil {
		return fmt.Errorf("inputs upload_part_size / upload_concurrency: %w", err)
	}
	// The object keeps pointing at this name while its file is at risk:
	// note first that the file must be sent again if this run stops.
	if obj != nil {
		if err := u.noteFilePending(obj, false); err != nil {
			return err
		}
	}
	creds, err := u.client.InitiateUpload(ctx)
	if err != nil {
		return err
	}
	provider := s3upload.NewRenewingProvider(awsCredentials(creds), func(ctx context.Context) (aws.Credentials, error) {
		c, err := u.client.RenewCredentials(ctx)
		if err != nil {
			return aws.Credentials{}, err
		}
		return awsCredentials(c), nil
	})
	httpClient, err := jamf.NewHTTPClient(u.cfg.Insecure)
	if err != nil {
		return err
	}
	// No timeout on a whole multi-GB upload, but a part whose answer never
	// comes must not hang the night: the SDK retries it on its own.
	if t, ok := httpClient.Transport.(*http.Transport); ok {
		t = t.Clone()
		t.ResponseHeaderTimeout = 5 * time.Minute
		httpClient = &http.Client{Transport: t}
	}
	// A stale same-name file is deleted only once every byte of the new one
	// is in S3 (a one-part file goes as a multipart upload too), just
	// before the upload is committed: a failure anywhere before that leaves
	// the old file and its package object as they were. An object whose
	// file the listing did not show is treated the same way, in case the
	// listing lagged. Right before the commit, a local file that changed
	// since the run began is refused.
	needDelete := plan.File == FileReplace || (obj != nil && obj.FileName == u.file.Name)
	var commitErr error
	beforeCommit := func(ctx context.Context) error {
		if commitErr = u.checkFile("during the upload"); commitErr != nil {
			return commitErr
		}
		if !needDelete {
			return nil
		}
		if obj != nil {
			if commitErr = u.noteFilePending(obj, true); commitErr != nil {
				return commitErr
			}
		}
		if commitErr = u.client.EnsureFreshToken(ctx); commitErr == nil {
			commitErr = u.deleteStale(ctx)
		}
		return commitErr
	}
	p := u.progress("uploading " + u.file.Name)
	res, err := s3upload.Upload(ctx, s3upload.Input{
		BeforeCommit: beforeCommit,
		Bucket:       creds.BucketName,
		Key:          creds.Path + u.file.Name,
		Region:       creds.Region,
		Credentials:  provider,
		FilePath:     u.file.Path,
		Hashes:       u.localDigests(),
		HTTPClient:   httpClient,
		MaxAttempts:  u.cfg.MaxTries,
		PartSize:     u.cfg.UploadPartSize,
		Concurrency:  u.cfg.UploadConcurrency,
		Progress:     p,
		Logger:       u.log,
	})
	p.Done()
	if commitErr == nil && err != nil {
		commitErr = fmt.Errorf("upload %s to the JCDS: %w", u.file.Name, err)
	}
	if commitErr != nil {
		if u.deleted {
			return u.lostFileError(obj, commitErr)
		}
		return commitErr
	}
	u.deleted = false
	if res.Size != u.file.Size {
		return fmt.Errorf("upload %s: sent %d bytes but the file had %d when the run began; was it rebuilt during the upload? Run again", u.file.Name, res.Size, u.file.Size)
	}
	u.sums = mergeSums(u.sums, res.Sums)
	u.res.SHA3 = u.sums.SHA3_512
	u.log.Info().Int("parts", res.Parts).Int64("bytes", res.Size).Msg("sent to the JCDS")
	return u.verifyListing(ctx)
}

// deleteStale removes the same-name file and waits until the list no longer
// shows it. If it cannot, the run stops: uploading anyway would make the
// service keep both and name ours Name_1.pkg.
func (u *uploader) deleteStale(ctx context.Context) error {
	name := u.file.Name
	if err := u.client.DeleteJCDSFile(ctx, name); err != nil && !errors.Is(err, jamf.ErrNotFound) {
		return fmt.Errorf("could not delete the stale JCDS file %q, so the new upload was abandoned and nothing was changed (committing it would create a duplicate): %w", name, err)
	}
	u.deleted = true
	deadline := time.Now().Add(60 * time.Second)
	for wait := 500 * time.Millisecond; ; wait = min(wait*2, 5*time.Second) {
		files, err := u.client.JCDSFiles(ctx)
		if err != nil {
			return fmt.Errorf("confirm deletion of JCDS file %q: %w", name, err)
		}
		if !hasFile(files, name) {
			u.log.Info().Str("file", name).Msg("deleted the stale JCDS file")
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the JCDS still lists %q 60 s after it was deleted; the new upload was abandoned to avoid a duplicate. Run again later", name)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
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

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
