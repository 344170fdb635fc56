package processor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/poll"
)

// On Jamf Cloud each pod keeps its own inventory of the cloud distribution
// point, and a refresh on one pod is not trusted to reach the others (Jamf
// Support's hit_all_pods_internet.zsh refreshes every pod for that reason).
// A device that lands on a pod that does not show the file READY reports
// it as "could not be verified" (JamfSync #16, #41, #63). So a file counts
// as delivered once every pod shows it READY with its size and SHA3-512:
// verifyEveryPod refreshes and polls the pods side by side, and the wait is
// the slowest pod's.

// settlePod is one pod as the settle step needs it. podsOf adapts a
// jamf.Client's pod views.
type settlePod interface {
	// Name is the pod's balancer cookie (jpro-ingress=…), for logs and
	// errors: an admin can pin a browser or curl to it.
	Name() string
	// RefreshInventory asks this pod to refresh its inventory of fileName;
	// perFile reports whether the server refreshed that file only (11.14+)
	// rather than everything (at most once per 15 s).
	RefreshInventory(ctx context.Context, fileName string) (perFile bool, err error)
	// Package reads the package record as this pod serves it; nil with no
	// error when this pod does not show the object yet (cluster lag).
	Package(ctx context.Context, id string) (*jamf.Package, error)
}

// Refresh pace. A file's refresh answers in about 200 ms once its first
// (about 4 s) is done (terraform-provider-jamfplatform helpers.go); a full
// refresh runs at most once per 15 s (the refresh-inventory schema text).
// A pod is never polled faster than it can be refreshed: only a refresh
// moves its record on.
const (
	perFileRefreshGap = 200 * time.Millisecond
	fullRefreshGap    = 15 * time.Second
	// fullRefreshSlot is one pod's turn at a full refresh: the rate limit
	// and a second for the answers of the pods to come apart.
	fullRefreshSlot = fullRefreshGap + time.Second
)

// podVerify is what verifyEveryPod waits for.
type podVerify struct {
	PackageID string
	Want      settleWant
	// PrevSHA3 is the SHA3-512 the record showed before this send: a hash
	// that moves away from it with size "0" is a loss.
	PrevSHA3 string
	// Policy paces each pod's polls; Timeout is the verify budget
	// (verify_timeout, or defaultVerifyBudget). Interval is raised to the
	// refresh pace where it is below it.
	Policy poll.Policy
	// SentAt is when the last byte was sent, for the logs' "from the last
	// byte to verified"; zero means the start of the wait.
	SentAt time.Time
}

// podOutcome is how the wait ended on one pod.
type podOutcome struct {
	Pod      string
	Class    tickClass     // the last tick's class
	Verified bool          // Class == tickLanded
	Record   *jamf.Package // the last record read; nil if none
	// SinceSent is from the last byte sent to the end of this pod's wait
	// (verified, or given up).
	SinceSent time.Duration
	// Stopped: another pod's outcome (a loss, corruption, ERROR) ended
	// the wait before this pod had one.
	Stopped bool
	Err     error // this pod's typed error; nil when verified or stopped
}

// podLostError: the pod shows the hash moved away from the one before the
// send, with size "0" (terraform-provider-jamfplatform classifyPollTick):
// the bytes never landed. The caller sends again, taking ShownSHA3 as the
// previous hash (the provider does so up to 5 times).
type podLostError struct {
	Pod, PackageID, FileName string
	ShownSHA3                string        // the hash the record showed with size "0"
	Record                   *jamf.Package // the record as this pod read it
}

func (e *podLostError) Error() string {
	return fmt.Sprintf("%s never landed: package %s on pod %s shows a new hash with size 0 after the inventory refresh", e.FileName, e.PackageID, e.Pod)
}

// podCorruptError: a SHA3-512 that is neither ours nor the previous one,
// with our size: the server holds other bytes than were sent.
type podCorruptError struct {
	Pod, PackageID, FileName string
	Want, Got                string
}

func (e *podCorruptError) Error() string {
	return fmt.Sprintf("%s arrived corrupt: package %s on pod %s shows SHA3-512 %s with the file's size, but the file's is %s; the bytes Jamf Pro holds are not the ones sent. Check the network path (a proxy that rewrites uploads) and run again",
		e.FileName, e.PackageID, e.Pod, e.Got, e.Want)
}

// podFailedError: the pod shows cloudTransferStatus ERROR.
type podFailedError struct {
	Pod, PackageID, FileName string
}

func (e *podFailedError) Error() string {
	return fmt.Sprintf("processing of %s ended in ERROR in Jamf Pro (package %s on pod %s, cloudTransferStatus ERROR): the file is not usable. Check the file and run again (the rerun uploads it anew)",
		e.FileName, e.PackageID, e.Pod)
}

// podTimeoutError: the budget passed before the pod showed the file READY.
//
// A run that gives up does not call POST
// /api/v1/cloud-distribution-point/fail-upload/{id} (11.25.2+): its schema
// says only that it "marks a specific file upload as failed" (needing
// Update Cloud Distribution Point; its id is "the identifier of the
// inventory file", not the package's, with file-name and type), not what
// that does to the record, the file or devices. No Jamf tool (jamf-cli,
// terraform-provider-jamfplatform, JamfSync, jamf-upload) calls it; SDKs
// only bind it. A file still processing may yet arrive: where every pod
// not verified shows it in (InProcessing), the journal lets the next run
// verify it without sending it again (PendingVerify).
type podTimeoutError struct {
	Pod, PackageID, FileName string
	Waited                   time.Duration
	Reason                   string // what the pod showed last (tickReason)
	// InProcessing: the pod shows our hash, so the file is in and still
	// processing.
	InProcessing bool
	RefreshErr   error // the last refresh's failure, if refreshes kept failing
}

func (e *podTimeoutError) Error() string {
	msg := fmt.Sprintf("%s is not verified on pod %s after %s (package %s): %s", e.FileName, e.Pod, e.Waited.Round(time.Second), e.PackageID, e.Reason)
	if e.RefreshErr != nil {
		msg += fmt.Sprintf("; the inventory refresh failed on that pod, and kept failing, so it cannot show the file (Jamf Pro shows it as Availability Pending): %v", e.RefreshErr)
	}
	return msg + ". Refresh the cloud distribution point inventory in Jamf Pro, or run again later"
}

func (e *podTimeoutError) Unwrap() error { return e.RefreshErr }

// verifyEveryPod refreshes the file's inventory on every pod and polls
// each pod's record, side by side, until each shows the file landed, or
// one pod shows it lost, corrupt or in ERROR (that ends the wait on every
// pod at once), or the budget passes. It returns each pod's outcome, in
// the order of pods, and an error: the outcome that ended the wait, or the
// pods that timed out (errors.Join), or nil when every pod verified it.
func verifyEveryPod(parent context.Context, log zerolog.Logger, pods []settlePod, v podVerify) ([]podOutcome, error) {
	if len(pods) == 0 {
		return nil, fmt.Errorf("verify %s (package %s) on every pod: no pod to verify on", v.Want.FileName, v.PackageID)
	}
	if v.SentAt.IsZero() {
		v.SentAt = time.Now()
	}
	ctx, stop := context.WithCancelCause(parent)
	defer stop(nil)
	out := make([]podOutcome, len(pods))
	var (
		mu       sync.Mutex
		decisive error // the first loss, corruption or ERROR
	)
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Go(func() {
			o := verifyOnPod(ctx, log, p, i, len(pods), v)
			if o.Err != nil && o.Class != tickProcessing {
				mu.Lock()
				if decisive == nil {
					decisive = o.Err
					stop(o.Err)
				}
				mu.Unlock()
			}
			out[i] = o
		})
	}
	wg.Wait()
	if decisive != nil {
		// The other pods' waits ended because of it (their error is its
		// cause, or a request cut short), not on anything they showed.
		for i := range out {
			if out[i].Err != nil && out[i].Class == tickProcessing {
				out[i].Err, out[i].Stopped = nil, true
			}
		}
		return out, decisive
	}
	if parent.Err() != nil {
		return out, context.Cause(parent)
	}
	var errs []error
	verified := 0
	var slowest time.Duration
	for _, o := range out {
		if o.Verified {
			verified++
			slowest = max(slowest, o.SinceSent)
		} else if o.Err != nil {
			errs = append(errs, o.Err)
		}
	}
	if len(errs) > 0 {
		log.Info().Int("verified", verified).Int("pods", len(pods)).Msgf("verified on %d of %d pods", verified, len(pods))
		return out, errors.Join(errs...)
	}
	log.Info().Int("pods", len(pods)).Dur("since_sent", slowest).
		Msgf("Jamf Pro shows %s READY with its size and SHA3-512 on every pod (%d), %s after the last byte was sent", v.Want.FileName, len(pods), slowest.Round(time.Millisecond))
	return out, nil
}

// verifyOnPod is one pod's wait: refresh the file, read the record,
// classify the tick; no faster than the pod can be refreshed.
//
// A full refresh (before 11.14) runs at most once per 15 s, and the limit
// may be the instance's rather than each pod's (no source says; the
// simulator's choice is the instance's): pods refreshing in step would
// leave all but one unrefreshed for good. So once a pod learns its
// refreshes are full ones, pod i of n takes the (i+1)-th slot of
// fullRefreshSlot after its first and then every n slots: the pods take
// turns.
func verifyOnPod(ctx context.Context, log zerolog.Logger, p settlePod, i, n int, v podVerify) podOutcome {
	o := podOutcome{Pod: p.Name()}
	plog := log.With().Str("pod", o.Pod).Logger()
	gap := perFileRefreshGap
	pol := v.Policy
	pol.Interval = max(pol.Interval, gap)
	var (
		nextRefresh time.Time // zero: at once
		full        bool      // the server refreshes everything, not the file
		refreshErr  error
		lastReason  string
	)
	err := poll.Until(ctx, pol, func(ctx context.Context) (poll.Tick, error) {
		if !time.Now().Before(nextRefresh) {
			perFile, err := p.RefreshInventory(ctx, v.Want.FileName)
			now := time.Now()
			refreshErr = err
			nextRefresh = now.Add(gap)
			switch {
			case err != nil:
				// A refresh that fails now and then is expected (jamf-cli
				// ignores transient errors); the record decides.
				plog.Debug().Err(err).Msg("inventory refresh failed")
			case !perFile && !full:
				full = true
				gap = time.Duration(n) * fullRefreshSlot
				nextRefresh = now.Add(time.Duration(i+1) * fullRefreshSlot)
			}
		}
		rec, err := p.Package(ctx, v.PackageID)
		if err != nil {
			return poll.Tick{}, fmt.Errorf("verify package %s on pod %s: %w", v.PackageID, o.Pod, err)
		}
		o.Record = rec
		o.Class = classifyTick(v.PrevSHA3, v.Want, rec)
		switch o.Class {
		case tickLanded:
			return poll.Tick{Done: true}, nil
		case tickLost:
			return poll.Tick{}, &podLostError{Pod: o.Pod, PackageID: v.PackageID, FileName: v.Want.FileName, ShownSHA3: recordSHA3(rec), Record: rec}
		case tickCorrupt:
			return poll.Tick{}, &podCorruptError{Pod: o.Pod, PackageID: v.PackageID, FileName: v.Want.FileName, Want: v.Want.SHA3, Got: recordSHA3(rec)}
		case tickFailed:
			return poll.Tick{}, &podFailedError{Pod: o.Pod, PackageID: v.PackageID, FileName: v.Want.FileName}
		}
		reason := tickReason(v.PrevSHA3, v.Want, rec)
		if reason != lastReason {
			plog.Info().Dur("since_sent", time.Since(v.SentAt).Round(time.Millisecond)).Msgf("waiting for %s on pod %s: %s", v.Want.FileName, o.Pod, reason)
			lastReason = reason
		}
		// The next look waits for the next refresh this pod allows.
		return poll.Tick{Reason: reason, After: time.Until(nextRefresh)}, nil
	})
	o.SinceSent = time.Since(v.SentAt)
	var te *poll.TimeoutError
	switch {
	case err == nil:
		o.Verified = true
		plog.Info().Dur("since_sent", o.SinceSent.Round(time.Millisecond)).
			Msgf("pod %s shows %s READY with its size and SHA3-512, %s after the last byte was sent", o.Pod, v.Want.FileName, o.SinceSent.Round(time.Millisecond))
	case errors.As(err, &te):
		o.Err = &podTimeoutError{Pod: o.Pod, PackageID: v.PackageID, FileName: v.Want.FileName, Waited: te.Waited, Reason: te.Reason,
			InProcessing: o.Record != nil && recordSHA3(o.Record) == v.Want.SHA3 && v.Want.SHA3 != "", RefreshErr: refreshErr}
	default:
		o.Err = err
	}
	return o
}

// noPodName is the name of the one server of an instance that sets no
// balancer cookie.
var noPodName = jamf.Pod{}.String()

// apiPod is the run's own client as the one pod (a step's test on a fake
// client).
type apiPod struct {
	c       jamfAPI
	version jamf.Version
}

func (p apiPod) Name() string { return noPodName }

func (p apiPod) RefreshInventory(ctx context.Context, fileName string) (bool, error) {
	return p.c.RefreshInventory(ctx, fileName, p.version)
}

func (p apiPod) Package(ctx context.Context, id string) (*jamf.Package, error) {
	rec, err := p.c.GetPackage(ctx, id)
	if errors.Is(err, jamf.ErrNotFound) {
		return nil, nil
	}
	return rec, err
}

// clientPod is a jamf.Client pinned to one pod (OnPod) as a settlePod.
type clientPod struct {
	c       *jamf.Client
	version jamf.Version
}

// podsOf gives the settle step's view of each pod: c pinned to it. The
// zero jamf.Pod (an instance without a balancer cookie) is c itself.
func podsOf(c *jamf.Client, pods []jamf.Pod, v jamf.Version) []settlePod {
	out := make([]settlePod, len(pods))
	for i, p := range pods {
		out[i] = clientPod{c: c.OnPod(p), version: v}
	}
	return out
}

func (p clientPod) Name() string {
	if pod, ok := p.c.CurrentPod(); ok {
		return pod.String()
	}
	return p.c.Pod().String()
}

func (p clientPod) RefreshInventory(ctx context.Context, fileName string) (bool, error) {
	return p.c.RefreshInventory(ctx, fileName, p.version)
}

func (p clientPod) Package(ctx context.Context, id string) (*jamf.Package, error) {
	rec, err := p.c.GetPackage(ctx, id)
	if errors.Is(err, jamf.ErrNotFound) {
		return nil, nil // this pod has not seen the object yet
	}
	return rec, err
}
