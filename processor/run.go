// Package processor turns an AutoPkg environment into a plan and the plan
// into results: look everything up first, decide, then upload, verify and
// write metadata, in an order where a package object points at a missing
// file only where the server leaves no other way (below Jamf Pro 11.5 the
// delete right before a commit; a new fileName written before its
// {id}/upload), and then the journal has the next run send the file.
//
// The files follow the flow of one run, from main.run to the output plist:
//
//	run.go       Run and Upload: parse, connect, the attempts of one run
//	config.go    ParseConfig: the inputs, checked (refused.go: settings this
//	             processor cannot honour; manifest.go: the inputs described)
//	pkgfile.go   ResolvePkg: the local file, zipped if a bundle
//	local.go     the local file's identity and digests, each computed once
//	survey.go    survey and chooseMode: everything the decision needs, as Facts
//	decide.go    Decide: Facts in, Plan out, pure
//	send.go      the file's bytes to the distribution point, confirmed there
//	metadata.go  the package object written
//	verify.go    settle: refresh and wait until Jamf Pro shows the file ready
//	journal.go   the note of unfinished work a later run finishes
//	outputs.go   the Result written into the environment
//
// Each step takes what it needs and returns what it learned; only the
// run's Result is shared between them.
package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
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
	// S3Endpoint overrides the S3 endpoint of the JCDS upload (tests); ""
	// takes AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or AWS's own.
	S3Endpoint string
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
	if skipped, err := skipRun(env, opts.Logger); skipped || err != nil {
		return err
	}
	// A summary from an earlier processor in the same recipe run must not
	// be reported again as if this run had changed something.
	delete(env, SummaryKey)

	cfg, err := ParseConfig(env, opts.DryRun)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		opts.Logger.Warn().Msg(w)
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
	ctx, stop := withStopTracker(ctx, "connecting to Jamf Pro at "+cfg.URL)

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
	res, err := upload(ctx, cfg, opts, client, file)
	if res != nil {
		res.Stats = client.Stats()
		log.Debug().Int64("requests", res.Stats.Requests).Int64("token_requests", res.Stats.TokenRequests).Msg("Jamf Pro requests")
	}
	return res, stop.explain(ctx, err, log)
}

// uploader is one run against one server: what every step reads, set once
// before the first step.
type uploader struct {
	cfg     *Config
	opts    Options
	log     zerolog.Logger
	client  *jamf.Client
	version jamf.Version
	local   *local   // the local file and its digests
	journal *journal // the note of unfinished work
	res     Result
}

// upload takes the file's identity and the lock, connects, and makes the
// attempts of one run.
func upload(ctx context.Context, cfg *Config, opts Options, client *jamf.Client, file *PkgFile) (*Result, error) {
	log := opts.Logger
	lf := &local{PkgFile: file, progress: opts.Progress}
	if !cfg.DryRun && file.Size > 0 {
		id, err := statID(file.Path)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", file.Path, err)
		}
		lf.id = id
	}
	if !cfg.DryRun {
		unlock, err := client.LockUpload(ctx, file.Name, 6*time.Hour, func() {
			enterStep(ctx, "waiting for another run on this Mac to finish uploading %s", file.Name)
			log.Warn().Msgf("another run on this Mac is uploading %s to %s; waiting for it to finish", file.Name, cfg.URL)
		})
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	enterStep(ctx, "connecting to Jamf Pro at %s", cfg.URL)
	if err := client.Authenticate(ctx); err != nil {
		return nil, err
	}
	v, err := client.Version(ctx)
	if err != nil {
		return nil, err
	}
	log.Info().Str("jamf_pro", v.Raw).Msg("connected")
	u := &uploader{cfg: cfg, opts: opts, log: log, client: client, version: v, local: lf,
		journal: openRunJournal(opts.CacheDir, !cfg.DryRun, cfg.URL, file.Name, log)}
	u.res.File = file

	obj, err := u.findPackage(ctx, displayName(cfg, file))
	if err != nil {
		return nil, err
	}
	// A second attempt only follows a create that met an object this node
	// did not show; with that object found, no create is tried again.
	sent := false
	for try := 1; ; try++ {
		sent, err = u.attempt(ctx, obj, sent)
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
// out for the package object obj (nil: none found). sentEarlier says an
// earlier attempt of this run sent the file; sent says whether it has been
// sent once this attempt returns.
func (u *uploader) attempt(ctx context.Context, obj *jamf.Package, sentEarlier bool) (sent bool, err error) {
	cfg, file := u.cfg, u.local.PkgFile
	defer func() { u.res.SHA3 = u.local.sums.SHA3_512 }()
	enterStep(ctx, "looking at %s in Jamf Pro and its distribution point", file.Name)
	facts, err := u.survey(ctx, obj)
	if err != nil {
		return sentEarlier, err
	}
	facts.SentEarlier = sentEarlier
	plan := Decide(cfg, facts)
	if plan.File == FileUnchanged {
		u.local.adoptSHA3(facts.JCDSFile)
	}
	if obj != nil {
		u.res.PackageID = obj.ID
	}
	u.res.Mode = facts.Mode
	u.res.Plan = plan
	u.res.Steps = plan.Steps(cfg, file, facts.Mode)
	for _, s := range u.res.Steps {
		u.log.Info().Msg("plan: " + s)
	}

	// Preflight what the plan needs, before anything changes.
	pkg, err := u.buildPackage(ctx, plan, facts)
	if err != nil {
		return sentEarlier, err
	}
	if cfg.DryRun {
		u.res.Status = StatusDryRun
		return sentEarlier, nil
	}

	created := false
	switch plan.File {
	case FileKeep:
		u.res.Status = StatusSkippedExists
		u.log.Info().Msgf("Not replacing existing %s as 'replace_pkg' is set to False", obj.Name)
		if plan.FinishMeta && pkg != nil {
			earlier := u.journal.earlier
			pkg.HashType, pkg.HashValue = earlier.HashType, earlier.HashValue
		}
	case FileUnchanged:
		u.res.Status = StatusHashMatch
	case FileUpload, FileReplace:
		if plan.SendNow && plan.CreateFirst && !plan.InPlace {
			// Below 11.5 the Classic create is the database's check; the
			// JCDS replace that follows is noted in the journal under the
			// object made here.
			id, err := u.writeMetadata(ctx, plan, pkg)
			if err != nil {
				return sentEarlier, err
			}
			pkg.ID = id
			facts.Object = pkg
			u.res.PackageID, u.res.MetaWritten, created = id, true, true
		}
		if plan.SendNow {
			id, err := u.send(ctx, plan, facts, pkg)
			if id != "" {
				u.res.PackageID, u.res.MetaWritten, created = id, true, true
			}
			if err != nil {
				return sentEarlier, err
			}
			// The journal keeps "send it again" until settle sees the
			// file READY with our size and digest.
			sentEarlier = true
		}
	}

	if plan.Meta != MetaNone && !created {
		id, err := u.writeMetadata(ctx, plan, pkg)
		if err != nil {
			return sentEarlier, err
		}
		if plan.Meta == MetaCreate {
			u.res.PackageID = id
		}
		u.res.MetaWritten = true
	} else if plan.Meta == MetaNone {
		u.log.Info().Msg("Not updating package metadata")
	}
	r := u.newRefresher()
	if err := u.settleSent(ctx, plan, facts, r); err != nil {
		return sentEarlier, err
	}
	if plan.Sends() {
		u.res.Status = StatusUploaded
		u.res.Uploaded = true
		u.log.Info().Str("file", file.Name).Str("mode", facts.Mode).Msg("uploaded and verified")
		noteVerified(ctx)
	}
	if u.journal.hasWork() || u.res.Uploaded {
		u.journal.clear()
	}
	enterStep(ctx, "asking Jamf Pro to recalculate its packages")
	recalc, err := u.recalculate(ctx, plan, r)
	u.res.Recalc = recalc
	return sentEarlier, err
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
const clusterWait = 90 * time.Second

// awaitObject handles a create refused as a duplicate although the lookup
// found no object: on Jamf Cloud another node made it moments ago (an
// earlier or concurrent run) and this node's cache has not caught up. It
// waits until the object shows, so the run goes on with it instead of
// making a second one.
func (u *uploader) awaitObject(ctx context.Context, name string, dupErr error) error {
	u.log.Info().Msgf("Jamf Pro says a package object %q exists although this node did not show it (Jamf Cloud's nodes catch up with each other once a minute); waiting for it", name)
	enterStep(ctx, "waiting for a Jamf Cloud node to show the package object %q", name)
	deadline := time.Now().Add(clusterWait)
	for {
		if err := jamf.Sleep(ctx, 3*time.Second); err != nil {
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

func (u *uploader) classic() bool { return !u.version.AtLeast(11, 5) }

// canRefresh reports whether the server has an inventory refresh (11.11+).
func (u *uploader) canRefresh() bool { return u.version.AtLeast(11, 11) }

func (u *uploader) findPackage(ctx context.Context, name string) (*jamf.Package, error) {
	if u.classic() {
		return u.client.FindPackageClassic(ctx, name)
	}
	return u.client.FindPackage(ctx, name)
}
