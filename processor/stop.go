package processor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/rs/zerolog"
)

// A run that is stopped (SIGTERM from AutoPkg or the shim, Ctrl-C, a
// cancelled context) ends with a StoppedError that says so: which signal,
// which step the run was in, and what it had changed in Jamf Pro, so that
// the admin knows what the next run finds. The run's context carries a
// stopTracker. The step loop ((*uploader).apply) enters each step of the
// plan in its short form (Step.while) and notes the changes each step's
// did reports (noteDid); before the plan, and in a long phase inside a
// step (a wait for a lagging node, the JCDS listing after an upload), the
// run names the phase itself (enterStep). Upload turns an error that ends
// a cancelled run into a StoppedError (explain).

// StopSignal is the cause main gives the run's context when a signal
// arrives (context.WithCancelCause).
type StopSignal struct{ Signal os.Signal }

func (s StopSignal) Error() string { return "stopped by " + signalName(s.Signal) }

// signalName names a signal as admins write it (kill -TERM, SIGTERM in
// AutoPkg's and launchd's logs), not as Go prints it ("terminated").
func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	}
	return sig.String()
}

// StoppedError ends a run that was stopped before it finished.
type StoppedError struct {
	// Cause is what stopped the run: a StopSignal, or the context's own
	// error when it was cancelled without a cause.
	Cause error
	// Step is the step the run was in, as enterStep named it.
	Step string
	// Changes are what the run had changed in Jamf Pro, in order; none
	// means nothing was changed.
	Changes []string
	// Err is the error the step returned once its context was done.
	Err error
	// ctxErr is the context's own error (context.Canceled, or
	// DeadlineExceeded), so errors.Is finds it whether the step returned it
	// or the stop's cause (poll and the token renewal return the cause).
	ctxErr error
}

func (e *StoppedError) Error() string {
	var b strings.Builder
	var sig StopSignal
	switch {
	case errors.As(e.Cause, &sig):
		b.WriteString(sig.Error())
	case errors.Is(e.Cause, context.DeadlineExceeded):
		b.WriteString("stopped because the run's deadline passed")
	default:
		b.WriteString("stopped (the run was cancelled)")
	}
	b.WriteString(" while " + e.Step + ". ")
	if len(e.Changes) == 0 {
		b.WriteString("Nothing was changed in Jamf Pro; the next run does the whole job.")
		return b.String()
	}
	b.WriteString("Before the stop this run had " + strings.Join(e.Changes, "; then ") + ". ")
	b.WriteString("The next run finishes the job: the journal on this Mac and what Jamf Pro shows tell it what is unfinished, and it sends the file again unless Jamf Pro shows it verified, whatever replace_pkg says.")
	return b.String()
}

// Unwrap gives both the cause (errors.As(err, &StopSignal{})) and the
// step's own error (errors.Is(err, context.Canceled)).
func (e *StoppedError) Unwrap() []error { return []error{e.Cause, e.Err, e.ctxErr} }

// stopTracker is what a StoppedError reports: the current step and the
// changes so far. Steps and changes come from the goroutine of the run,
// the error from whichever returns it; the mutex keeps a late note from a
// helper goroutine safe.
type stopTracker struct {
	mu      sync.Mutex
	step    string
	changes []string
	// unverified indexes the changes that sent a file Jamf Pro has not yet
	// shown verified.
	unverified []int
}

type stopTrackerKey struct{}

// withStopTracker returns ctx carrying a new tracker, in step first.
func withStopTracker(ctx context.Context, first string) (context.Context, *stopTracker) {
	t := &stopTracker{step: first}
	return context.WithValue(ctx, stopTrackerKey{}, t), t
}

func trackerOf(ctx context.Context) *stopTracker {
	t, _ := ctx.Value(stopTrackerKey{}).(*stopTracker)
	return t
}

// enterStep names the step the run is in from now on ("uploading X"): a
// phrase that reads after "stopped by SIGTERM while".
func enterStep(ctx context.Context, format string, args ...any) {
	if t := trackerOf(ctx); t != nil {
		t.mu.Lock()
		t.step = fmt.Sprintf(format, args...)
		t.mu.Unlock()
	}
}

// noteChange records a change made in Jamf Pro ("created package object
// X (id 3)"): a phrase that reads after "this run had".
func noteChange(ctx context.Context, format string, args ...any) {
	if t := trackerOf(ctx); t != nil {
		t.mu.Lock()
		t.changes = append(t.changes, fmt.Sprintf(format, args...))
		t.mu.Unlock()
	}
}

// noteSent records that the file name was sent; until noteVerified, the
// change reads "not yet verified".
func noteSent(ctx context.Context, name string) {
	if t := trackerOf(ctx); t != nil {
		t.mu.Lock()
		t.unverified = append(t.unverified, len(t.changes))
		t.changes = append(t.changes, "sent "+name+" to the distribution point")
		t.mu.Unlock()
	}
}

// noteVerified records that Jamf Pro showed every file sent so far
// verified.
func noteVerified(ctx context.Context) {
	if t := trackerOf(ctx); t != nil {
		t.mu.Lock()
		t.unverified = nil
		t.mu.Unlock()
	}
}

// explain returns err as a StoppedError when ctx was stopped, else as it
// is. The step's own error, which ends in "context canceled" and says
// nothing of the stop, is logged at -vv only.
func (t *stopTracker) explain(ctx context.Context, err error, log zerolog.Logger) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	log.Debug().Err(err).Msg("the step stopped with")
	changes := append([]string(nil), t.changes...)
	for _, i := range t.unverified {
		changes[i] += " (not yet verified)"
	}
	return &StoppedError{Cause: context.Cause(ctx), Step: t.step, Changes: changes, Err: err, ctxErr: ctx.Err()}
}
