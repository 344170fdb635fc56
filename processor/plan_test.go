package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// stepLine is how a run logs a step as it starts.
var stepLine = regexp.MustCompile(`^step (\d+)/(\d+): (.*)$`)

// TestDryRunPlanIsWhatRuns: the plan is what runs. For each kind of run, a
// dry run's pkg_plan (and the plan it logs at the default verbosity) is,
// in order and words, what the real run then logs as "step K/N:" at -v.
func TestDryRunPlanIsWhatRuns(t *testing.T) {
	tests := []struct {
		name  string
		setup func(r *flowRig, env plistio.Env) // the state before both runs
		env   func(env plistio.Env)             // the inputs of both runs
		want  []string                          // what each step of the plan says
	}{
		{"new package", nil, nil, []string{"upload", "create package object", "refresh"}},
		{"same file, metadata changed", func(r *flowRig, env plistio.Env) { r.mustUpload(env) },
			func(env plistio.Env) { env["replace_pkg_metadata"] = true; env["pkg_info"] = "new info" },
			[]string{"keep the file", "update the metadata", "refresh"}},
		{"changed file, replace_pkg", func(r *flowRig, env plistio.Env) {
			r.mustUpload(env)
			rewrite(5000)(r, env["pkg_path"].(string))
		}, func(env plistio.Env) { env["replace_pkg"] = true },
			[]string{"replace the object's file", "update the metadata", "refresh"}},
		{"no-op", func(r *flowRig, env plistio.Env) { r.mustUpload(env) }, nil,
			[]string{"keep the file", "do not write metadata"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newFlowRig(t, jamfsim.Options{})
				path, _ := writePkg(t, t.TempDir(), "App.pkg", 4000)
				env := r.env(path)
				if tt.setup != nil {
					tt.setup(r, env)
				}
				if tt.env != nil {
					tt.env(env)
				}

				// The dry run, at the default verbosity (warnings).
				dry := cloneEnv(env)
				dry["dry_run"] = true
				var dryLog syncBuffer
				opts := r.options(&dryLog)
				opts.Logger = zerolog.New(&dryLog).Level(Level(0))
				if err := Run(context.Background(), dry, opts); err != nil {
					t.Fatalf("dry run: %v\n%s", err, dryLog.String())
				}
				var plan []string
				for _, s := range dry["pkg_plan"].([]any) {
					plan = append(plan, s.(string))
				}
				if len(plan) != len(tt.want) {
					t.Fatalf("pkg_plan has %d steps, want %d like %q:\n%s", len(plan), len(tt.want), tt.want, strings.Join(plan, "\n"))
				}
				logged := logMessages(t, dryLog.String())
				for i, w := range tt.want {
					if !strings.Contains(plan[i], w) {
						t.Errorf("pkg_plan step %d = %q, want it to say %q", i+1, plan[i], w)
					}
					if line := fmt.Sprintf("dry run, step %d/%d: %s", i+1, len(plan), plan[i]); !slices.Contains(logged, line) {
						t.Errorf("the dry run did not log %q at the default verbosity:\n%s", line, dryLog.String())
					}
				}

				// The real run, at -v.
				var log syncBuffer
				opts = r.options(&log)
				opts.Logger = zerolog.New(&log).Level(Level(1))
				if err := Run(context.Background(), env, opts); err != nil {
					t.Fatalf("run: %v\n%s", err, log.String())
				}
				ran := loggedSteps(t, log.String())
				if strings.Join(ran, "\n") != strings.Join(plan, "\n") {
					t.Errorf("the run logged the steps\n%s\nbut the dry run planned\n%s", strings.Join(ran, "\n"), strings.Join(plan, "\n"))
				}
			})
		})
	}
}

// loggedSteps returns the "step K/N: ..." messages of a JSON log, checking
// that K counts up to N.
func loggedSteps(t *testing.T, log string) []string {
	t.Helper()
	var steps []string
	for _, m := range logMessages(t, log) {
		sm := stepLine.FindStringSubmatch(m)
		if sm == nil {
			continue
		}
		steps = append(steps, sm[3])
		if want := len(steps); sm[1] != strconv.Itoa(want) {
			t.Errorf("step line %q out of order (want step %d)", m, want)
		}
	}
	for _, m := range logMessages(t, log) {
		if sm := stepLine.FindStringSubmatch(m); sm != nil && sm[2] != strconv.Itoa(len(steps)) {
			t.Errorf("step line %q: %d steps ran", m, len(steps))
		}
	}
	return steps
}

// logMessages returns the messages of a JSON log, in order.
func logMessages(t *testing.T, log string) []string {
	t.Helper()
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var m struct{ Message string }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		msgs = append(msgs, m.Message)
	}
	return msgs
}

func cloneEnv(env plistio.Env) plistio.Env { return maps.Clone(env) }
