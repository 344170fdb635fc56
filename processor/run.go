// Package processor turns an AutoPkg environment into a plan and the plan
// into results: look everything up first, decide, then upload, verify and
// write metadata, in an order where a package object points at a missing
// file only where the server leaves no other way (below Jamf Pro 11.5 the
// delete right before a commit; a new fileName written before its
// {id}/upload), and then the journal has the next run send the file.
//
// The files follow the flow of one run, from main.run to the output plist:
//
//	run.go       Run and Upload: parse, connect, the attempts of one run,
//	             the step loop (uploader.apply)
//	config.go    ParseConfig: the inputs, checked (refused.go: settings this
//	             processor cannot honour; manifest.go: the inputs described)
//	pkgfile.go   ResolvePkg: the local file, zipped if a bundle
//	local.go     the local file's identity; its digests, computed on demand
//	survey.go    survey and probe: everything the decision needs, as Facts
//	decide.go    ChooseMode and Decide: what the server offers and Facts in,
//	             the mode and the Plan (ordered steps) out, pure; every
//	             choice of how and what to send, delete, create or write
//	steps.go     the steps: what each says (pkg_plan) and applies
//	client.go    jamfAPI: what the steps ask of Jamf Pro
//	send.go      the file's bytes to the distribution point, confirmed there
//	metadata.go  the package object written
//	verify.go    settle: refresh and wait until Jamf Pro shows the file ready
//	journal.go   the note of unfinished work a later run finishes
//	outputs.go   the Result written into the environment
//
// Each step gets what the steps before it did, folded by the loop (the
// object's id, the local file's digests computed so far, what was sent,
// refreshed and waited), and returns what it did; the loop folds that
// into the run's Result. Besides what is fixed for the run, the steps
// share two things by design: the on-disk journal of unfinished work (a
// note that outlives the run), and the root client's memos that every
// pod view shares (the token, the server's version, the instance's pods).
package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/poll"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// Options are the command-line settings that are not environment keys.
type Options struct {
	DryRun   bool
	Logger   zerolog.Logger
	Progress io.Writer // where progress goes: standard error; nil for none
	Version  string    // this program's version, for the log

	// test holds what tests replace (export_test.go); the zero value is
	// the product's behaviour.
	test testKnobs
}

// testKnobs are the seams tests set: the token cache and journal folder,
// the S3 endpoint of the JCDS upload, and the HTTP client of every
// request (an in-memory network on synctest's fake clock).
type testKnobs struct {
	cacheDir   string // "" is the default folder
	s3Endpoint string // "" takes AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or AWS's own
	httpClient *http.Client
	// standsFor is the file size the default verify budget is computed
	// for (0: the file's own): a small file standing in for a large one
	// whose processing time the simulator was given.
	standsFor int64
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
	Pods        int // pods that showed the file (or record) verified
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
		CacheDir: opts.test.cacheDir, Logger: log, HTTPClient: opts.test.httpClient,
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

// uploader is one attempt of a run against one server. Its fields are set
// when it is made and never written after: the inputs, the logger, the
// client and the server's version, the local file as the run began, and
// the journal, whose entry on disk is the one record a step writes for
// later (for the next run, or a stop). What a step did, the file's
// digests included, is returned by the step and folded by the loop, never
// left in a field for another to read.
type uploader struct {
	cfg     *Config
	opts    Options
	log     zerolog.Logger
	client  jamfAPI
	version jamf.Version
	local   *local   // the local file and its identity as the run began
	journal *journal // the note of unfinished work
	// root is the run's own client (nil with a fake client), which finds
	// the instance's pods once, when the run first needs them
	// (jamf.Client.Pods). client is root, or for an attempt after the
	// run's own pod lagged, the pod that showed the object (upload).
	root *jamf.Client
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
	u := &uploader{cfg: cfg, opts: opts, log: log, client: client, root: client, version: v, local: lf,
		journal: openRunJournal(opts.test.cacheDir, !cfg.DryRun, cfg.URL, file.Name, log)}

	obj, err := u.findPackage(ctx, displayName(cfg, file))
	if err != nil {
		return nil, err
	}
	// A second attempt only follows a create that met an object this node
	// did not show: a new decision on new facts (that object, and whether
	// the file went out already). With that object found, no create is
	// tried again.
	// The attempt after a lagging pod runs on an uploader whose client is
	// the pod that showed the object: within one attempt the client is
	// fixed.
	var before did // what the attempts before did: sent the file, its digests
	for try := 1; ; try++ {
		res, err := u.attempt(ctx, obj, before)
		var gone *ObjectGoneError
		if errors.As(err, &gone) && try < 3 {
			// The object this pod showed was deleted elsewhere: decide
			// again without it, as for a package never uploaded (a create,
			// which the database answers).
			u.log.Warn().Str("id", gone.ID).Msgf("%v; deciding again without it", gone)
			obj = nil
			before = did{Sent: before.Sent || gone.did.Sent, Sums: mergeSums(before.Sums, gone.did.Sums)}
			continue
		}
		var stale *LaggingNodeError
		if !errors.As(err, &stale) || try == 3 {
			return res, err
		}
		obj = stale.Object
		before = did{Sent: before.Sent || stale.did.Sent, Sums: mergeSums(before.Sums, stale.did.Sums)}
		if stale.view != nil {
			next := *u
			next.client = stale.view
			u = &next
		}
		u.log.Info().Str("id", obj.ID).Msgf("package object %q was made elsewhere moments ago and this Jamf Cloud node now sees it; deciding again", obj.Name)
	}
}

// attempt looks at the distribution point, decides and applies the plan's
// steps in order for the package object obj (nil: none found). before is
// what earlier attempts of this run did: whether they sent the file, and
// the file's digests they computed. The Result is nil on an error; a
// LaggingNodeError carries what this attempt did.
func (u *uploader) attempt(ctx context.Context, obj *jamf.Package, before did) (*Result, error) {
	cfg, file := u.cfg, u.local.PkgFile
	enterStep(ctx, "looking at %s in Jamf Pro and its distribution point", file.Name)
	facts, err := u.survey(ctx, obj)
	if err != nil {
		return nil, err
	}
	facts.SentEarlier = before.Sent
	plan := Decide(cfg, facts)
	res := &Result{File: file, Mode: facts.Mode, Plan: plan}
	if obj != nil {
		res.PackageID = obj.ID
	}

	// Preflight what the steps need, before anything changes.
	pkg, err := u.buildPackage(ctx, plan, facts)
	if err != nil {
		return nil, err
	}
	if cfg.DryRun {
		// The plan is what a dry run was asked for: it is logged whatever
		// the verbosity.
		for i, s := range plan.Steps {
			u.log.WithLevel(zerolog.NoLevel).Msgf("dry run, step %d/%d: %s", i+1, len(plan.Steps), s)
		}
		res.Status = StatusDryRun
		res.SHA3 = facts.Local.SHA3_512
		return res, nil
	}
	done := did{ID: res.PackageID, Sums: mergeSums(before.Sums, facts.Local)}
	for sends := 1; ; sends++ {
		done, err = u.apply(ctx, plan.Steps, pkg, done)
		var lost *NotLandedError
		if !errors.As(err, &lost) {
			break
		}
		if sends == sendTries {
			err = fmt.Errorf("%w, after %d sends in this run: no file is verified in the distribution point, and the journal keeps the upload unfinished, so the next run sends it again. If it keeps happening, check the cloud distribution point in Jamf Pro", err, sendTries)
			break
		}
		u.log.Warn().Str("id", lost.Record.ID).Str("file", lost.File).Msgf("%v; sending it again (try %d of %d)", lost, sends+1, sendTries)
		// A new decision on new facts: the record as the loss left it (its
		// hash is the previous one for the next send).
		facts.Object, facts.Lost, facts.Wrote = lost.Record, true, done.MetaWritten
		plan = Decide(cfg, facts)
	}
	if err != nil {
		var stale *LaggingNodeError
		if errors.As(err, &stale) {
			stale.did = done
		}
		if obj != nil && !done.Created && objectGone(err, obj.ID) {
			return nil, &ObjectGoneError{ID: obj.ID, Name: obj.Name, did: done, err: err}
		}
		return nil, err
	}
	if done.ID != "" {
		res.PackageID = done.ID
	}
	res.MetaWritten = done.MetaWritten
	res.Pods = done.Pods
	switch {
	case plan.File == FileKeep:
		res.Status = StatusSkippedExists
	case plan.File == FileUnchanged:
		res.Status = StatusHashMatch
	case plan.Sends():
		res.Status, res.Uploaded = StatusUploaded, true
		u.log.Info().Str("file", file.Name).Str("mode", facts.Mode).Msg("uploaded and verified")
	}
	if u.journal.hasWork() {
		u.journal.clear()
	}
	res.Recalc = plan.Sends() && done.PerFile || done.Recalc
	res.SHA3 = done.Sums.SHA3_512
	return res, nil
}

// apply runs the steps in order, logging each as it starts in the words of
// the plan, and folds what each did. It is also what a stop reports: the
// step entered last (in its short form, or a phase the step named inside
// it) and the changes each step's did shows, also for a step that ended in
// an error. sofar is what earlier plans of the attempt did (the object's
// id, found or made, at least).
func (u *uploader) apply(ctx context.Context, steps []Step, pkg *jamf.Package, sofar did) (did, error) {
	for k, s := range steps {
		u.log.Info().Msgf("step %d/%d: %s", k+1, len(steps), s)
		in := stepInput{pkg: pkg, sofar: sofar}
		enterStep(ctx, "%s", s.while(in))
		d, err := s.apply(ctx, u, in)
		if d.Sent && d.SentAt.IsZero() {
			d.SentAt = time.Now()
		}
		u.noteDid(ctx, in, d)
		sofar = sofar.fold(d)
		if err != nil {
			return sofar, err
		}
	}
	return sofar, nil
}

// noteDid notes for a stop what one step changed in Jamf Pro, as its did
// says, in the order the changes were made.
func (u *uploader) noteDid(ctx context.Context, in stepInput, d did) {
	name := displayName(u.cfg, u.local.PkgFile) // the object's, as buildPackage names it
	id := d.ID
	if id == "" {
		id = in.sofar.ID
	}
	switch {
	case d.Created:
		noteChange(ctx, "created package object %q (id %s)", name, id)
	case d.MetaWritten:
		noteChange(ctx, "updated package object %q (id %s)", name, id)
	}
	if d.Renamed {
		noteChange(ctx, "pointed package object %q at %s before uploading it", name, u.local.Name)
	}
	if d.DeletedStale {
		if d.Sent {
			noteChange(ctx, "deleted the old file %s from the distribution point", u.local.Name)
		} else {
			noteChange(ctx, "deleted the old file %s from the distribution point (the new one was not committed)", u.local.Name)
		}
	}
	if d.Sent {
		noteSent(ctx, u.local.Name)
	}
	if d.PointedBack {
		noteChange(ctx, "pointed it back at its old file, as the upload did not finish")
	}
	if d.Removed {
		noteChange(ctx, "removed that package object again, as its upload did not finish")
	}
	if d.Verified {
		noteVerified(ctx)
	}
}

// LaggingNodeError: a create met an object of the same name that the cluster
// node serving this run had not shown (Object). The run waits for it
// and decides again with it; after three such attempts the error is the
// run's.
type LaggingNodeError struct {
	Object *jamf.Package // the object, now visible
	did    did           // what the attempt that met it did (sent the file, digests)
	// view is the client pinned to the pod that showed Object where the
	// run's own pod did not (nil: the run's own pod showed it); the next
	// attempt runs there.
	view jamfAPI
}

func (e *LaggingNodeError) Error() string {
	return fmt.Sprintf("package object %q already exists (id %s)", e.Object.Name, e.Object.ID)
}

// ObjectGoneError: a write to the package object the lookup found was
// answered 404, so the object is gone from the database, deleted by
// another run or an admin, while the pod serving this run still listed it
// (Jamf Cloud's pods catch up with each other's writes, deletes too, once
// a minute). The run decides again without it; the error is the run's
// only after three attempts.
type ObjectGoneError struct {
	ID, Name string
	did      did   // what the attempt did before the 404 (sent the file, digests)
	err      error // the write's own error
}

func (e *ObjectGoneError) Error() string {
	return fmt.Sprintf("package object %q (id %s) was deleted in Jamf Pro although this run's pod still listed it: %v", e.Name, e.ID, e.err)
}

func (e *ObjectGoneError) Unwrap() error { return e.err }

// objectGone reports whether err is a 404 answer to a write to package
// object id: its record (Jamf Pro API or Classic API) or its
// {id}/upload. A 404 from anything else (a JCDS file, a lookup) says
// nothing about the object.
func objectGone(err error, id string) bool {
	var api *jamf.APIError
	if !errors.As(err, &api) || api.Status != http.StatusNotFound || api.Method == http.MethodGet {
		return false
	}
	switch strings.TrimSuffix(api.Path, "/") {
	case "/api/v1/packages/" + id, "/api/v1/packages/" + id + "/upload", "/JSSResource/packages/id/" + id:
		return true
	}
	return false
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
	// Another pod may show it already: the run moves there and goes on,
	// instead of waiting out the lag on its own pod.
	if view, found, err := u.findOnOtherPods(ctx, name); err != nil || found != nil {
		if err != nil {
			return err
		}
		return &LaggingNodeError{Object: found, view: view}
	}
	u.log.Info().Msgf("Jamf Pro says a package object %q exists although this node did not show it (Jamf Cloud's nodes catch up with each other once a minute); waiting for it", name)
	// A phase of its own inside the step that met the refusal: up to
	// clusterWait, and changing nothing.
	enterStep(ctx, "waiting for a Jamf Cloud node to show the package object %q", name)
	// The first look comes a poll interval after the refusal: the node
	// that refused it has just been asked.
	if err := poll.Sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	var found *jamf.Package
	err := poll.Until(ctx, poll.Policy{Interval: 3 * time.Second, Timeout: clusterWait}, func(ctx context.Context) (poll.Tick, error) {
		obj, err := u.findPackage(ctx, name)
		found = obj
		return poll.Tick{Done: obj != nil, Reason: "not shown yet"}, err
	})
	var timeout *poll.TimeoutError
	switch {
	case errors.As(err, &timeout):
		return fmt.Errorf("%w; no package object of that name showed within %s: check for a package with the same name in different case in Jamf Pro", dupErr, clusterWait)
	case err != nil:
		return err
	}
	return &LaggingNodeError{Object: found}
}

// findOnOtherPods looks for the package object name on every pod of a
// Jamf Cloud instance (jamf.FindOnPods) and returns the first pod that
// shows it, as a client pinned there (the next attempt runs on it), with
// what it found. It finds nothing on an instance of one pod, or with a
// fake client.
func (u *uploader) findOnOtherPods(ctx context.Context, name string) (jamfAPI, *jamf.Package, error) {
	if u.root == nil {
		return nil, nil, nil
	}
	pods, err := u.instancePods(ctx)
	if err != nil {
		// Without the pods the run waits on its own, as it did before it
		// knew them; verification, which needs them, says so itself.
		u.log.Debug().Err(err).Msg("looking on the other pods")
		return nil, nil, nil
	}
	if len(pods) < 2 {
		return nil, nil, nil
	}
	classic := u.classic()
	view, found, err := jamf.FindOnPods(ctx, u.root, pods, func(ctx context.Context, on *jamf.Client) (*jamf.Package, error) {
		if classic {
			return on.FindPackageClassic(ctx, name)
		}
		return on.FindPackage(ctx, name)
	})
	if found == nil {
		if err != nil {
			u.log.Debug().Err(err).Msg("looking on the other pods")
		}
		return nil, nil, nil // wait on this pod, as without pods
	}
	u.log.Info().Str("id", found.ID).Str("pod", view.Pod().String()).Msgf("pod %s shows package object %q (id %s) that this run's pod does not yet; the run goes on there", view.Pod(), name, found.ID)
	return view, found, nil
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
