package processor

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
)

// TestStoppedErrorSays: the message names what stopped the run and the
// step, and says what was changed (or that nothing was) and what the next
// run does.
func TestStoppedErrorSays(t *testing.T) {
	tests := []struct {
		err  StoppedError
		want []string
	}{
		{StoppedError{Cause: StopSignal{syscall.SIGTERM}, Step: "uploading A.pkg to the JCDS", Err: context.Canceled},
			[]string{"stopped by SIGTERM while uploading A.pkg to the JCDS. Nothing was changed in Jamf Pro; the next run does the whole job."}},
		{StoppedError{Cause: StopSignal{os.Interrupt}, Step: "verifying A.pkg", Changes: []string{`created package object "A" (id 3)`, "sent A.pkg"}, Err: context.Canceled},
			[]string{"stopped by SIGINT while verifying A.pkg. Before the stop this run had created package object \"A\" (id 3); then sent A.pkg. The next run finishes the job"}},
		{StoppedError{Cause: context.Canceled, Step: "x", Err: context.Canceled}, []string{"stopped (the run was cancelled) while x."}},
		{StoppedError{Cause: context.DeadlineExceeded, Step: "x", Err: context.DeadlineExceeded}, []string{"deadline passed while x."}},
	}
	for _, tt := range tests {
		got := tt.err.Error()
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%q lacks %q", got, w)
			}
		}
		if strings.Contains(got, "context canceled") {
			t.Errorf("%q says context canceled", got)
		}
	}
}

// TestUploadStopped: a run whose context is cancelled with a signal as
// its cause ends with a *StoppedError that carries the signal, the step and
// the step's own error; a run that ends without a stop is not one.
func TestUploadStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newFlowRig(t, jamfsim.Options{})
		path, _ := writePkg(t, t.TempDir(), "Stop.pkg", 4096)
		env := r.env(path)
		cfg, err := ParseConfig(env, false)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(StopSignal{syscall.SIGTERM})
		_, err = Upload(ctx, cfg, r.options(&syncBuffer{}))
		var stopped *StoppedError
		if !errors.As(err, &stopped) {
			t.Fatalf("err = %v (%T), want a *StoppedError", err, err)
		}
		var sig StopSignal
		if !errors.As(err, &sig) || sig.Signal != syscall.SIGTERM || !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v: want the signal and context.Canceled inside", err)
		}
		if !strings.HasPrefix(stopped.Step, "connecting to Jamf Pro at "+cfg.URL) || len(stopped.Changes) != 0 {
			t.Errorf("step %q, changes %v", stopped.Step, stopped.Changes)
		}
		if _, err := Upload(context.Background(), cfg, r.options(&syncBuffer{})); err != nil {
			t.Fatalf("the run after the stop: %v", err)
		}
		// A failure that is not a stop stays as it was.
		bad := *cfg
		bad.Category, bad.PkgName = "No Such Category", "Other.pkg"
		_, err = Upload(context.Background(), &bad, r.options(&syncBuffer{}))
		if err == nil || errors.As(err, &stopped) {
			t.Errorf("err = %v: want the failure itself", err)
		}
	})
}

// TestStopTrackerNotes: the changes read in order; a sent file reads "not
// yet verified" until Jamf Pro showed it verified; a run that was not
// stopped keeps its own error.
func TestStopTrackerNotes(t *testing.T) {
	parent, cancel := context.WithCancelCause(context.Background())
	ctx, tr := withStopTracker(parent, "connecting")
	failed := errors.New("boom")
	if err := tr.explain(ctx, failed, zerolog.Nop()); err != failed {
		t.Fatalf("a run not stopped: %v", err)
	}
	noteChange(ctx, `created package object "A" (id 1)`)
	enterStep(ctx, "uploading A.pkg")
	noteSent(ctx, "A.pkg")
	enterStep(ctx, "verifying A.pkg")
	cancel(StopSignal{syscall.SIGTERM})
	err := tr.explain(ctx, context.Canceled, zerolog.Nop())
	want := `stopped by SIGTERM while verifying A.pkg. Before the stop this run had created package object "A" (id 1); then sent A.pkg to the distribution point (not yet verified).`
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got  %s\nwant %s…", err, want)
	}
	noteVerified(ctx)
	enterStep(ctx, "asking Jamf Pro to recalculate its packages")
	if err := tr.explain(ctx, context.Canceled, zerolog.Nop()); strings.Contains(err.Error(), "not yet verified") {
		t.Errorf("after verification: %s", err)
	}
}

// stepDoing is a step that reports what it did and, when stop is set,
// stops the run in the middle of it.
type stepDoing struct {
	phrase string
	d      did
	stop   func()
}

func (s stepDoing) String() string         { return "the step " + s.phrase }
func (s stepDoing) while(stepInput) string { return s.phrase }
func (s stepDoing) apply(ctx context.Context, _ *uploader, _ stepInput) (did, error) {
	if s.stop == nil {
		return s.d, nil
	}
	s.stop()
	return s.d, ctx.Err()
}

// TestApplyTracksSteps: the step loop is what a stop reports: it names
// the step the run was in (in the step's short form) and the changes the
// steps' did reported, also those of the step that the stop ended; a step
// that verified the file clears "not yet verified".
func TestApplyTracksSteps(t *testing.T) {
	tests := []struct {
		name  string
		steps func(stop func()) []Step
		want  string
	}{
		{"stopped in the first step",
			func(stop func()) []Step {
				return []Step{stepDoing{phrase: "uploading A.pkg to the JCDS", stop: stop}, stepDoing{phrase: "verifying A.pkg"}}
			},
			"stopped by SIGTERM while uploading A.pkg to the JCDS. Nothing was changed in Jamf Pro"},
		{"created, then sent in the step that was stopped",
			func(stop func()) []Step {
				return []Step{
					stepDoing{phrase: `creating package object "A"`, d: did{ID: "3", Created: true, MetaWritten: true}},
					stepDoing{phrase: "uploading A.pkg to the JCDS", d: did{Sent: true}, stop: stop},
				}
			},
			`stopped by SIGTERM while uploading A.pkg to the JCDS. Before the stop this run had created package object "A" (id 3); then sent A.pkg to the distribution point (not yet verified).`},
		{"pointed at the file, and back after the stopped upload",
			func(stop func()) []Step {
				return []Step{
					stepDoing{phrase: "pointing", d: did{Renamed: true}},
					stepDoing{phrase: "uploading A.pkg through /api/v1/packages/3/upload", d: did{PointedBack: true}, stop: stop},
				}
			},
			`while uploading A.pkg through /api/v1/packages/3/upload. Before the stop this run had pointed package object "A" at A.pkg before uploading it; then pointed it back at its old file, as the upload did not finish.`},
		{"stale file deleted and the new one not committed",
			func(stop func()) []Step {
				return []Step{stepDoing{phrase: "uploading A.pkg to the JCDS", d: did{DeletedStale: true}, stop: stop}}
			},
			"Before the stop this run had deleted the old file A.pkg from the distribution point (the new one was not committed)."},
		{"verified, then stopped while recalculating",
			func(stop func()) []Step {
				return []Step{
					stepDoing{phrase: "uploading A.pkg to the JCDS", d: did{Sent: true}},
					stepDoing{phrase: "updating", d: did{ID: "3", MetaWritten: true}},
					stepDoing{phrase: "verifying A.pkg", d: did{Verified: true}},
					stepDoing{phrase: "asking Jamf Pro to recalculate its packages", stop: stop},
				}
			},
			`while asking Jamf Pro to recalculate its packages. Before the stop this run had sent A.pkg to the distribution point; then updated package object "A" (id 3). The next run`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &uploader{cfg: &Config{DisplayName: "A"}, log: zerolog.Nop(),
				local: &local{PkgFile: &PkgFile{Name: "A.pkg", Size: 100}}}
			parent, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			ctx, tr := withStopTracker(parent, "connecting")
			_, err := u.apply(ctx, tt.steps(func() { cancel(StopSignal{syscall.SIGTERM}) }), &jamf.Package{Name: "A"}, did{})
			err = tr.explain(ctx, err, zerolog.Nop())
			var stopped *StoppedError
			if !errors.As(err, &stopped) {
				t.Fatalf("err = %v, want a *StoppedError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got  %s\nwant …%s…", err, tt.want)
			}
		})
	}
}
