package processor

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// TestSkipAndProceed: skip_and_proceed True (as a boolean, as text, as
// --key gives it) ends the run before any input is checked, any file read
// or any request sent: process_skipped True, every other key as it came
// in (secrets aside, as always), one line at -v. False, or a %NAME% left
// unresolved, runs the upload and reports process_skipped False.
func TestSkipAndProceed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newFlowRig(t, jamfsim.Options{})
		path, _ := writePkg(t, t.TempDir(), "Skip.pkg", 4096)
		earlier := map[string]any{"summary_text": "from an earlier step"}
		for _, v := range []any{true, "True", " true "} {
			env := r.env(filepath.Join(t.TempDir(), "missing.pkg")) // never read
			env["skip_and_proceed"] = v
			env["pkg_uploaded"] = "left by an earlier step"
			env[SummaryKey] = earlier
			env["replace_pkg"] = "not a boolean, and not read"
			delete(env, "JSS_URL") // not checked either
			var log syncBuffer
			opts := r.options(&log)
			if err := Run(context.Background(), env, opts); err != nil {
				t.Fatalf("%#v: %v", v, err)
			}
			if env[ProcessSkipped] != true || env["pkg_uploaded"] != "left by an earlier step" || env[SummaryKey] == nil {
				t.Errorf("%#v: outputs %v", v, env)
			}
			if _, ok := env["API_PASSWORD"]; ok {
				t.Errorf("%#v: the password was echoed back", v)
			}
			if !strings.Contains(log.String(), "skip_and_proceed is set to True") || strings.Count(log.String(), "\n") != 1 {
				t.Errorf("%#v: want one log line, got:\n%s", v, log.String())
			}
		}
		if st := r.sim.State(); len(st.Calls) != 0 || len(st.S3Calls) != 0 {
			t.Fatalf("a skipped run sent requests: %v %v", st.Calls, st.S3Calls)
		}

		for _, v := range []any{false, "False", "%SKIP_PACKAGE%", nil} {
			env := r.env(path)
			if v != nil {
				env["skip_and_proceed"] = v
			}
			env[ProcessSkipped] = true // from an earlier step
			var log syncBuffer
			if err := Run(context.Background(), env, r.options(&log)); err != nil {
				t.Fatalf("%#v: %v\n%s", v, err, log.String())
			}
			if env[ProcessSkipped] != false || env["pkg_name"] != "Skip.pkg" {
				t.Errorf("%#v: process_skipped %v, pkg_name %v", v, env[ProcessSkipped], env["pkg_name"])
			}
			if s, _ := v.(string); strings.HasPrefix(s, "%") && !strings.Contains(log.String(), "SKIP_PACKAGE") {
				t.Errorf("no warning about the unresolved %s:\n%s", s, log.String())
			}
		}
		if len(r.sim.State().Calls) == 0 {
			t.Error("the runs without skip sent no request")
		}

		env := plistio.Env{"skip_and_proceed": "maybe"}
		if err := Run(context.Background(), env, r.options(&syncBuffer{})); err == nil || !strings.Contains(err.Error(), "input skip_and_proceed") {
			t.Errorf("err = %v, want one naming skip_and_proceed", err)
		}
	})
}
