package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
)

// TestStopSaysItWasAStop: SIGTERM during each long step of a run (AutoPkg
// stopped, or the shim passing its signal on), and SIGINT (Ctrl-C), ends with exit 10 and a
// ProcessorError that names the signal and the step, and says what was
// changed in Jamf Pro (or that nothing was) and that the next run
// finishes the job; never a bare "context canceled". The next run then
// converges.
func TestStopSaysItWasAStop(t *testing.T) {
	t.Parallel()
	s3Commit := func(r *rig) bool {
		for _, c := range r.sim.State().S3Calls {
			if c.Method == "POST" && strings.Contains(c.Query, "uploadId=") && c.Status == 200 {
				return true
			}
		}
		return false
	}
	after := func(cond func(r *rig) bool) func(r *rig) bool {
		return func(r *rig) bool {
			if !cond(r) {
				return false
			}
			// The request that follows is in its latency (or the run in
			// its wait) by then.
			time.Sleep(time.Second)
			return true
		}
	}
	cases := []struct {
		name    string
		opts    jamfsim.Options
		lagging bool // the run is the second, on the node that lags
		env     map[string]any
		fault   *jamfsim.Fault
		reached func(r *rig) bool
		want    []string
		// processing: the sent file is still being processed when the run
		// stops; it lands without another request, so the object points at
		// a file the JCDS does not list yet.
		processing bool
		sig        syscall.Signal // SIGTERM unless set
	}{
		{
			name:    "uploading to the JCDS",
			fault:   &jamfsim.Fault{S3: true, Method: "PUT", Path: "*", Latency: 3 * time.Second, Count: -1},
			reached: after(func(r *rig) bool { return callsWith(r.sim.State().Calls, "POST", "/api/v1/jcds/files", 0) != 0 }),
			want:    []string{"stopped by SIGTERM while uploading Stop.pkg to the JCDS", "Nothing was changed in Jamf Pro"},
		},
		{
			name:    "SIGINT (Ctrl-C) while uploading to the JCDS",
			sig:     syscall.SIGINT,
			fault:   &jamfsim.Fault{S3: true, Method: "PUT", Path: "*", Latency: 3 * time.Second, Count: -1},
			reached: after(func(r *rig) bool { return callsWith(r.sim.State().Calls, "POST", "/api/v1/jcds/files", 0) != 0 }),
			want:    []string{"stopped by SIGINT while uploading Stop.pkg to the JCDS", "Nothing was changed in Jamf Pro"},
		},
		{
			name:    "uploading through {id}/upload",
			env:     map[string]any{"upload_mode": "v1", "jcds2_mode": nil},
			fault:   &jamfsim.Fault{Method: "POST", Path: "/api/v1/packages/1/upload", Latency: 3 * time.Second, Count: -1},
			reached: after(func(r *rig) bool { return callsWith(r.sim.State().Calls, "POST", "/api/v1/packages", 201) != 0 }),
			want: []string{"stopped by SIGTERM while uploading Stop.pkg through /api/v1/packages/1/upload",
				`Before the stop this run had created package object "Stop.pkg" (id 1); then removed that package object again`,
				"The next run finishes the job"},
		},
		{
			name:       "verifying through the inventory refresh",
			opts:       jamfsim.Options{ProcessingDelay: 20 * time.Second},
			env:        map[string]any{"upload_mode": "v1", "jcds2_mode": nil},
			processing: true,
			reached: after(func(r *rig) bool {
				return callsWith(r.sim.State().Calls, "POST", "/api/v1/packages/1/upload", 201) != 0
			}),
			want: []string{"stopped by SIGTERM while verifying Stop.pkg (waiting for Jamf Pro to show it ready)",
				`Before the stop this run had created package object "Stop.pkg" (id 1); then sent Stop.pkg to the distribution point (not yet verified)`,
				"The next run finishes the job"},
		},
		{
			name:    "verifying",
			opts:    jamfsim.Options{ProcessingDelay: 20 * time.Second},
			reached: after(s3Commit),
			want: []string{"stopped by SIGTERM while verifying Stop.pkg",
				"Before the stop this run had sent Stop.pkg to the distribution point (not yet verified)",
				"The next run finishes the job: the journal on this Mac"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fakeS3, tc.opts)
			path, sum := makePkg(t, "Stop.pkg", 1<<20)
			env := r.baseEnv(path)
			for k, v := range tc.env {
				if env[k] = v; v == nil {
					delete(env, k)
				}
			}
			if tc.lagging {
				r.mustSucceed(env) // node 1 of 2 made the object
				path, sum = makePkg(t, "Stop.pkg", 1<<20+7)
				env["pkg_path"], env["replace_pkg"] = path, true
				r.sim.ResetCalls()
			}
			if tc.fault != nil {
				r.sim.InjectFault(*tc.fault)
			}
			cmd, stderr := startBinary(t, r, env, nil)
			waitUntil(t, cmd, stderr, "the step was not reached", func() bool { return tc.reached(r) })
			sig := tc.sig
			if sig == 0 {
				sig = syscall.SIGTERM
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != 10 {
				t.Errorf("exit %d, want 10:\n%s", code, stderr)
			}
			msg := stderr.String()
			i := strings.Index(msg, "ProcessorError: ")
			if i < 0 {
				t.Fatalf("no ProcessorError:\n%s", msg)
			}
			msg = msg[i:]
			t.Log(msg)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("the error lacks %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "context canceled") {
				t.Errorf("the error says context canceled:\n%s", msg)
			}
			r.sim.ClearFaults()
			if !tc.processing {
				checkConsistent(t, r.sim)
			}
			res := r.mustSucceed(env)
			if !boolOut(t, res.out, "pkg_uploaded") {
				t.Errorf("the next run did not send the file:\n%s", res.stderr)
			}
			converged(t, r.sim, "Stop.pkg", sum)
		})
	}
}
