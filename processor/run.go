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
	res       Result
}

func (u *uploader) classic() bool { return !u.version.AtLeast(11, 5) }

func (u *uploader) run(ctx context.Context) (*Result, error) {
	cfg, file := u.cfg, u.file
	u.res.File = file
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

	mode, err := u.chooseMode(ctx)
	if err != nil {
		return nil, err
	}
	u.res.Mode = mode

	// Lookups.
	obj, err := u.findPackage(ctx, displayName(cfg, file))
	if err != nil {
		return nil, err
	}
	facts := Facts{Object: obj, LocalSize: file.Size}
	if obj != nil {
		u.res.PackageID = obj.ID
		u.log.Info().Str("id", obj.ID).Str("name", obj.Name).Msg("package object exists")
	}
	if NeedsJCDSList(cfg, obj) && mode == ModeJCDS2 {
		files, err := u.client.JCDSFiles(ctx)
		if err != nil {
			return nil, err
		}
		for i := range files {
			if files[i].FileName == file.Name {
				facts.JCDSFile = &files[i]
				break
			}
		}
		if dups := Duplicates(files, file.Name); len(dups) > 0 {
			u.log.Warn().Strs("files", dups).Msgf("the JCDS holds duplicates of %s made by earlier uploads; delete them in Jamf Pro", file.Name)
		}
		u.serverMD5 = listsMD5(files)
		if NeedsLocalHash(facts.JCDSFile, file.Size) && (!file.Zipped || !cfg.DryRun) {
			// Compare by MD5 when the JCDS lists one (several times faster
			// than SHA3-512), and compute the metadata's digest in the same
			// pass unless the JCDS's own SHA3-512 can stand in for it.
			which := u.localDigests()
			if facts.JCDSFile.MD5 == "" {
				which |= s3upload.SHA3_512
			}
			sums, err := u.hash(ctx, which)
			if err != nil {
				return nil, err
			}
			facts.LocalSHA3, facts.LocalMD5 = sums.SHA3_512, sums.MD5
		}
	}
	plan := Decide(cfg, facts)
	if plan.File == FileUnchanged {
		u.adoptServerSHA3(facts.JCDSFile)
	}
	u.res.Plan = plan
	u.res.Steps = plan.Steps(cfg, file, mode)
	for _, s := range u.res.Steps {
		u.log.Info().Msg("plan: " + s)
	}

	// Preflight what the plan needs, before anything changes.
	pkg, err := u.metadata(ctx, plan, obj)
	if err != nil {
		return nil, err
	}
	if cfg.DryRun {
		u.res.Status = StatusDryRun
		return &u.res, nil
	}

	switch plan.File {
	case FileKeep:
		u.res.Status = StatusSkippedExists
		u.log.Info().Msgf("Not replacing existing %s as 'replace_pkg' is set to False", obj.Name)
	case FileUnchanged:
		u.res.Status = StatusHashMatch
	case FileUpload, FileReplace:
		if err := u.send(ctx, plan, obj, pkg); err != nil {
			return nil, err
		}
		u.res.Status = StatusUploaded
		u.res.Uploaded = true
	}

	if plan.Meta != MetaNone && !(mode == ModeV1 && plan.Meta == MetaCreate && u.res.MetaWritten) {
		if err := u.writeMetadata(ctx, plan, pkg); err != nil {
			return nil, err
		}
	} else if plan.Meta == MetaNone {
		u.log.Info().Msg("Not updating package metadata")
	}
	if cfg.Recalculate && u.res.MetaWritten {
		if err := u.recalculate(ctx); err != nil {
			return nil, err
		}
	}
	return &u.res, nil
}

// chooseMode settles the upload mode against what the server offers, and
// says clearly when the chosen mode cannot work here.
func (u *uploader) chooseMode(ctx context.Context) (string, error) {
	switch u.cfg.UploadMode {
	case ModeV1:
		if !u.version.AtLeast(11, 5) {
			return "", fmt.Errorf("upload_mode v1 needs Jamf Pro 11.5 or later; %s is %s: use upload_mode jcds2", u.cfg.URL, u.version.Raw)
		}
		return ModeV1, nil
	case ModeAuto:
		err := u.client.JCDSProperties(ctx)
		if err == nil {
			return ModeJCDS2, nil
		}
		if !u.version.AtLeast(11, 5) {
			return "", fmt.Errorf("upload_mode auto: the JCDS endpoints do not answer (%v) and Jamf Pro %s is too old for v1 uploads", err, u.version.Raw)
		}
		u.log.Info().Err(err).Msg("JCDS endpoints unavailable; uploading through /api/v1/packages")
		return ModeV1, nil
	}
	return ModeJCDS2, nil
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

// metaHashSet is the digest the metadata needs: MD5 when asked, SHA3-512
// where the server understands it (11.25+), SHA-512 otherwise.
func (u *uploader) metaHashSet() s3upload.HashSet {
	switch {
	case u.cfg.MD5:
		return s3upload.MD5
	case u.version.AtLeast(11, 25):
		return s3upload.SHA3_512
	default:
		return s3upload.SHA512
	}
}

func (u *uploader) metaHash(s s3upload.Sums) (typ, value string) {
	switch {
	case u.cfg.MD5:
		return "MD5", s.MD5
	case u.version.AtLeast(11, 25):
		return "SHA3_512", s.SHA3_512
	default:
		return "SHA_512", s.SHA512
	}
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
	if u.res.Mode == ModeV1 {
		return u.sendV1(ctx, obj, pkg)
	}
	// A part size this file cannot take is refused before the upload starts.
	if _, err := s3upload.NewPlan(u.file.Size, u.cfg.UploadPartSize, u.cfg.UploadConcurrency); err != nil {
		return fmt.Errorf("inputs upload_part_size / upload_concurrency: %w", err)
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
	// is in S3, just before the upload is committed: a failure anywhere
	// before that leaves the old file and its package object as they were.
	var beforeCommit func(context.Context) error
	var commitErr error
	if plan.File == FileReplace {
		beforeCommit = func(ctx context.Context) error {
			if commitErr = u.client.EnsureFreshToken(ctx); commitErr == nil {
				commitErr = u.deleteStale(ctx)
			}
			return commitErr
		}
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
	if commitErr != nil {
		return commitErr
	}
	if err != nil {
		return fmt.Errorf("upload %s to the JCDS: %w", u.file.Name, err)
	}
	if res.Size != u.file.Size {
		return fmt.Errorf("upload %s: sent %d bytes but the file had %d when the run began; was it rebuilt during the upload? Run again", u.file.Name, res.Size, u.file.Size)
	}
	u.sums = mergeSums(u.sums, res.Sums)
	u.res.SHA3 = u.sums.SHA3_512
	u.log.Info().Int("parts", res.Parts).Int64("bytes", res.Size).Msg("uploaded")
	return u.verify(ctx)
}

// deleteStale removes the same-name file and waits until the list no longer
// shows it. If it cannot, the run stops: uploading anyway would make the
// service keep both and name ours Name_1.pkg.
func (u *uploader) deleteStale(ctx context.Context) error {
	name := u.file.Name
	if err := u.client.DeleteJCDSFile(ctx, name); err != nil && !errors.Is(err, jamf.ErrNotFound) {
		return fmt.Errorf("could not delete the stale JCDS file %q, so the new upload was abandoned and nothing was changed (committing it would create a duplicate): %w", name, err)
	}
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

// verify asks for an inventory refresh and polls the JCDS list until the
// file is there with our size and SHA3-512 ("Availability Pending" and
// "could not be verified" otherwise follow in Jamf Pro).
func (u *uploader) verify(ctx context.Context) error {
	if err := u.client.EnsureFreshToken(ctx); err != nil {
		return err
	}
	name := u.file.Name
	if u.version.AtLeast(11, 10) {
		if err := u.client.RefreshInventory(ctx, name, u.version); err != nil && !errors.Is(err, jamf.ErrUnsupported) {
			u.log.Warn().Err(err).Msg("inventory refresh failed; waiting for the JCDS to list the file anyway")
		}
	}
	deadline := time.Now().Add(u.cfg.VerifyTimeout)
	var last string
	for wait := 500 * time.Millisecond; ; wait = min(wait*2, 10*time.Second) {
		files, err := u.client.JCDSFiles(ctx)
		if err != nil {
			return fmt.Errorf("verify upload of %s: %w", name, err)
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
					last = "listed with a different MD5"
					continue
				}
				u.adoptServerSHA3(&f)
				u.log.Info().Str("file", name).Msg("verified in the JCDS: size and MD5 match")
				return nil
			case f.SHA3 != "" && u.sums.SHA3_512 != "":
				if !strings.EqualFold(f.SHA3, u.sums.SHA3_512) {
					last = "listed with a different SHA3-512"
					continue
				}
				u.log.Info().Str("file", name).Msg("verified in the JCDS: size and SHA3-512 match")
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
			return fmt.Errorf("uploaded %s, but the JCDS did not confirm it within verify_timeout (%s): %s. No package metadata was written; run again to finish", name, u.cfg.VerifyTimeout, last)
		}
		u.log.Debug().Str("file", name).Msg("waiting for the JCDS: " + last)
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// sendV1 uploads through /api/v1/packages/{id}/upload, which needs the
// package object first.
func (u *uploader) sendV1(ctx context.Context, obj, pkg *jamf.Package) error {
	id := ""
	if obj != nil {
		id = obj.ID
	} else {
		if _, err := u.hash(ctx, u.metaHashSet()); err != nil {
			return err
		}
		pkg.HashType, pkg.HashValue = u.metaHash(u.sums)
		var err error
		if id, err = u.client.CreatePackage(ctx, pkg); err != nil {
			return err
		}
		u.res.PackageID = id
		u.res.MetaWritten = true
	}
	if _, v := u.metaHash(u.sums); v == "" {
		if _, err := u.hash(ctx, u.metaHashSet()); err != nil {
			return err
		}
	}
	p := u.progress("uploading " + u.file.Name)
	err := u.client.UploadPackageV1(ctx, id, u.file.Path, u.file.Name, func(r io.Reader) io.Reader {
		return p.Wrap(r)
	})
	p.Done()
	if err != nil {
		err = fmt.Errorf("upload %s through the Jamf Pro API: %w", u.file.Name, err)
		if obj == nil {
			// The object was made for this upload; left behind it would point
			// at no file, and the rerun would skip it as existing.
			cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			if derr := u.client.DeletePackage(cleanup, id); derr != nil {
				return fmt.Errorf("%w; the package object %s created for it could not be removed (%v): delete it in Jamf Pro before running again", err, id, derr)
			}
			u.res.MetaWritten = false
			u.res.PackageID = ""
		}
		return err
	}
	return nil
}

func (u *uploader) writeMetadata(ctx context.Context, plan Plan, pkg *jamf.Package) error {
	if err := u.client.EnsureFreshToken(ctx); err != nil {
		return err
	}
	if u.res.Uploaded || plan.File == FileUnchanged || plan.Meta == MetaCreate {
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
	if pkg.HashType == "" || pkg.HashValue == "" {
		pkg.HashType, pkg.HashValue = "", ""
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
		err = u.client.UpdatePackage(ctx, pkg)
	}
	if err != nil {
		return fmt.Errorf("write package metadata for %q (the file is in the distribution point; run again to finish): %w", pkg.Name, err)
	}
	u.res.MetaWritten = true
	u.log.Info().Str("id", u.res.PackageID).Str("name", pkg.Name).Msgf("package metadata %sd", plan.Meta)
	return nil
}

func (u *uploader) recalculate(ctx context.Context) error {
	if !u.version.AtLeast(11, 10) {
		u.log.Warn().Msgf("recalculate needs Jamf Pro 11.10 or later; %s is %s", u.cfg.URL, u.version.Raw)
		return nil
	}
	if err := u.client.RefreshInventory(ctx, "", u.version); err != nil {
		return fmt.Errorf("recalculate (refresh the distribution point inventory): %w", err)
	}
	u.res.Recalc = true
	return nil
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
