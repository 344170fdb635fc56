package processor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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
// but that never landed. Jamf's own provider sends it up to 5 times
// (terraform-provider-jamfplatform helpers.go, PR #273), each time taking
// the hash the record then shows as the previous one; so do we.
const sendTries = 5

// NotLandedError: after a refresh, a pod shows the hash moved away from
// the one before the send, with size "0" (terraform-provider-jamfplatform
// classifyPollTick): the file was accepted (201, or a commit) but never
// landed. Record is the record as that pod read it; its hash is the
// previous one for the next send.
type NotLandedError struct {
	Record *jamf.Package
	File   string
	Pod    string // the pod's balancer cookie; "" without one
}

func (e *NotLandedError) Error() string {
	on := ""
	if e.Pod != "" {
		on = " on pod " + e.Pod
	}
	return fmt.Sprintf("Jamf Pro accepted %s but shows package %s%s with a new hash and size 0 after the inventory refresh: the file never landed", e.File, e.Record.ID, on)
}

// CorruptError: a pod shows a SHA3-512 that is neither the file's nor the
// one before the send, with the file's size: Jamf Pro holds other bytes
// than were sent. The run fails at once.
type CorruptError struct {
	Package string // the package object's name
	err     *podCorruptError
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("package %q: %v", e.Package, e.err)
}

// settle makes the package record whole after this run touched it: on
// every pod of a Jamf Cloud instance (once where the server sets no
// balancer cookie) it refreshes the file's inventory and waits until the
// record shows READY, the file's size and its SHA3-512. A sent file that a
// pod shows lost ends it with a *NotLandedError: the attempt then decides
// again on that record (a resend is a new plan). sofar is what the steps
// before it did: the object's id, when the last byte was sent, whether
// recalculate_wait_time was waited.
func (u *uploader) settle(ctx context.Context, step settle, sofar did) (did, error) {
	r := u.newRefresher()
	r.waited = sofar.Waited
	sums := sofar.Sums // the local file's digests, with any computed here
	d := func() did {
		return did{Refreshed: r.refreshed, PerFile: r.perFile, Waited: r.waited, Pods: r.pods, Sums: sums}
	}
	var err error
	switch step.Kind {
	case settleNone:
		return d(), nil
	case settleListing:
		sums, err = u.verifyListing(ctx, step.Dups, sums)
		return d(), err
	}
	exp := step.Expect
	if exp.local {
		// The pods' records are compared by SHA3-512.
		if sums, err = u.local.digests(ctx, sums, s3upload.SHA3_512); err != nil {
			return d(), err
		}
		exp.sums = sums
	}
	want := settleWant{FileName: exp.fileName, Size: exp.size, SHA3: strings.ToLower(exp.sums.SHA3_512), MD5: strings.ToLower(exp.sums.MD5)}
	// The hash before this send: one moving away from it with size "0" is
	// a loss. Where the run sent nothing, the record's own hash is the
	// previous one too: a metadata write does not move it.
	prev := ""
	if step.Object != nil {
		prev = recordSHA3(step.Object)
	}
	if err := u.client.EnsureFreshToken(ctx); err != nil {
		return d(), err
	}
	if err := r.waitOnce(ctx); err != nil {
		return d(), err
	}
	pods, err := u.settlePods(ctx)
	if err != nil {
		return d(), err
	}
	budget := u.verifyBudget(exp.size)
	out, err := verifyEveryPod(ctx, u.log, r.track(pods), podVerify{PackageID: sofar.ID, Want: want, PrevSHA3: prev,
		Policy: poll.Policy{Interval: 500 * time.Millisecond, MaxInterval: 10 * time.Second, Timeout: budget}, SentAt: sofar.SentAt})
	verified := 0
	for _, o := range out {
		if o.Verified {
			verified++
		}
	}
	r.pods = verified
	if err == nil {
		return d(), nil
	}
	noted := false
	if step.NoteVerify && onlyTimedOut(err) {
		name := displayName(u.cfg, u.local.PkgFile)
		if step.Object != nil && step.Object.Name != "" {
			name = step.Object.Name
		}
		if nerr := u.journal.noteVerify(sofar.ID, name, u.local.Path, exp.size, want.SHA3); nerr != nil {
			u.log.Warn().Err(nerr).Msg("journal")
		} else {
			noted = u.journal.available()
		}
	}
	return d(), u.settleError(step, exp, sofar.ID, budget, len(pods), verified, noted, err)
}

// onlyTimedOut reports whether every pod that ended the wait unverified
// (err: one pod's, or errors.Join of several) ran out of budget, none
// showing the file lost, corrupt or in ERROR: the file the run sent may
// still arrive.
func onlyTimedOut(err error) bool {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var t *podTimeoutError
		if !errors.As(e, &t) {
			return false
		}
	}
	return len(errs) > 0
}

// verifyBudget is the run's verify budget for a file of size bytes
// (Config.VerifyBudget).
func (u *uploader) verifyBudget(size int64) time.Duration {
	if u.opts.test.standsFor > 0 {
		size = u.opts.test.standsFor
	}
	return u.cfg.VerifyBudget(max(size, 0))
}

// settleError turns what ended the wait on the pods into the run's error:
// a loss of a file this run sent into a *NotLandedError (the attempt sends
// it again), corruption into a *CorruptError naming the package, a timeout
// into one that says whether the file is in and still processing.
func (u *uploader) settleError(step settle, exp expectation, id string, budget time.Duration, pods, verified int, noted bool, err error) error {
	var (
		lost    *podLostError
		corrupt *podCorruptError
		failed  *podFailedError
		timeout *podTimeoutError
	)
	name := u.local.Name
	if step.Object != nil && step.Object.Name != "" {
		name = step.Object.Name
	}
	switch {
	case errors.As(err, &lost) && (step.Sends || exp.local):
		return &NotLandedError{Record: lost.Record, File: exp.fileName, Pod: podLabel(lost.Pod)}
	case errors.As(err, &corrupt):
		return &CorruptError{Package: name, err: corrupt}
	case errors.As(err, &failed):
		return err
	case errors.As(err, &timeout):
		what := "wrote the metadata of"
		if step.Sends {
			what = "sent"
		}
		state := "Jamf Pro does not show the file on it yet"
		if step.Sends {
			state = "Jamf Pro accepted the upload, and the pod does not show it processed yet"
		}
		if timeout.InProcessing {
			state = "the file is in and still processing"
		}
		next := ""
		if noted {
			next = "; the next run verifies it without sending it again (journal)"
		}
		return fmt.Errorf("%s %s, but it is verified on %d of %d pods within the verify budget (%s; verify_timeout sets it): %s, and the file may still arrive%s: %w", what, exp.fileName, verified, pods, budget.Round(time.Second), state, next, err)
	}
	return err
}

// podLabel is a pod's name for errors, "" for an instance without pods.
func podLabel(name string) string {
	if name == noPodName {
		return ""
	}
	return name
}

// settlePods are the pods the settle step verifies on, found once per run
// (Jamf Support's hit_all_pods_internet.zsh): every pod of a Jamf Cloud
// instance, or the one server of an instance without a balancer cookie.
func (u *uploader) settlePods(ctx context.Context) ([]settlePod, error) {
	if u.root == nil {
		// A step's test on a fake client: one server.
		return []settlePod{apiPod{c: u.client, version: u.version}}, nil
	}
	pods, err := u.instancePods(ctx)
	if err != nil {
		return nil, err
	}
	if len(pods) > 1 {
		u.log.Info().Int("pods", len(pods)).Msgf("the instance has %d pods; the file is verified on each", len(pods))
	}
	return podsOf(u.root, pods, u.version), nil
}

// instancePods is the instance's pods, which the run's root client finds
// once, when the run first needs them (jamf.Client.Pods). A balancer that
// does not pin by cookie as Jamf Cloud does (discovery does not settle)
// leaves the run's own pod, as before pods were known, with a warning.
func (u *uploader) instancePods(ctx context.Context) ([]jamf.Pod, error) {
	pods, err := u.root.Pods(ctx)
	var de *jamf.PodDiscoveryError
	switch {
	case errors.As(err, &de) && len(de.Found) > 0:
		u.log.Warn().Err(err).Msg("verifying on this run's own pod only")
		own, _ := u.root.CurrentPod()
		return []jamf.Pod{own}, nil
	case err != nil:
		return nil, fmt.Errorf("find the pods of %s: %w", u.cfg.URL, err)
	}
	return pods, nil
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

	waited bool // recalculate_wait_time has been waited
	pods   int  // pods that showed the file verified

	mu        sync.Mutex // the pods' refreshes run side by side
	refreshed bool       // an inventory refresh ran
	perFile   bool       // ... for this file only
}

// track wraps pods so that their refreshes count as this attempt's.
func (r *refresher) track(pods []settlePod) []settlePod {
	out := make([]settlePod, len(pods))
	for i, p := range pods {
		out[i] = trackedPod{settlePod: p, r: r}
	}
	return out
}

// trackedPod is a pod whose refreshes the refresher counts.
type trackedPod struct {
	settlePod
	r *refresher
}

func (p trackedPod) RefreshInventory(ctx context.Context, fileName string) (bool, error) {
	perFile, err := p.settlePod.RefreshInventory(ctx, fileName)
	if err == nil {
		p.r.mu.Lock()
		p.r.refreshed = true
		p.r.perFile = p.r.perFile || perFile
		p.r.mu.Unlock()
	}
	return perFile, err
}

func (u *uploader) newRefresher() *refresher {
	return &refresher{client: u.client, version: u.version, log: u.log, wait: u.cfg.RecalculateWait, sleep: poll.Sleep}
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
