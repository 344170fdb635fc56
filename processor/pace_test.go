package processor

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
)

// Jamf Cloud at its own pace, on the fake clock: Premium's 4 pods, each
// with its own inventory; the processing of a 10 GiB package at the
// simulator's default rate (a small file stands in for it, given that
// size's processing time: about 15 minutes); OAuth tokens of 60 s
// (jamf-upload #297), renewed through the upload and the verify; the
// verify budget left to its default. Each row asserts what the run did
// (sends, outcome, what every pod serves), never how long it took.
func TestJamfCloudPace(t *testing.T) {
	t.Parallel()
	const tenGiB = 10 << 30
	upload := "/api/v1/packages/1/upload"
	tests := []struct {
		name  string
		mode  string // upload_mode
		fault func(sim *jamfsim.Server) jamfsim.Fault
		sends int    // POSTs to {id}/upload
		err   string // the run fails saying this
		// processed: the service finished processing while the run
		// waited for the answer, so no 15-minute verify follows.
		processed bool
	}{
		{name: "default inputs: verified on every pod"},
		{name: "v1: verified on every pod", mode: "v1", sends: 1},
		{name: "never lands: sent again, then verified", mode: "v1", sends: 2,
			fault: func(*jamfsim.Server) jamfsim.Fault {
				return jamfsim.Fault{Method: "POST", Path: upload, NeverLands: true}
			}},
		{name: "corrupt: fails at once, naming the package", mode: "v1", sends: 1, err: `package "App.pkg"`,
			fault: func(*jamfsim.Server) jamfsim.Fault {
				return jamfsim.Fault{Method: "POST", Path: upload, Corrupt: true}
			}},
		{name: "504 after the bytes landed: verified without a second send", mode: "v1", sends: 1,
			fault: func(*jamfsim.Server) jamfsim.Fault {
				return jamfsim.Fault{Method: "POST", Path: upload, AfterLanding: true, Status: 504}
			}},
		{name: "answer 20 minutes after the bytes landed: verified without a second send", mode: "v1", sends: 1, processed: true,
			fault: func(*jamfsim.Server) jamfsim.Fault {
				return jamfsim.Fault{Method: "POST", Path: upload, AfterLanding: true, Latency: 20 * time.Minute}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := newFlowRig(t, jamfsim.Options{ClusterNodes: 4, ProcessingDelay: jamfsim.DefaultProcessingTime(tenGiB), ProcessInterval: time.Second})
				r.sim.AddAPIClient("uploader", "client-secret", jamfsim.AllPrivileges("11.25.0")...)
				path, sum := writePkg(t, t.TempDir(), "App.pkg", 3000)
				env := r.env(path)
				delete(env, "API_USERNAME")
				delete(env, "API_PASSWORD")
				env["CLIENT_ID"], env["CLIENT_SECRET"] = "uploader", "client-secret"
				if tt.mode != "" {
					env["upload_mode"] = tt.mode
				}
				if tt.fault != nil {
					r.sim.InjectFault(tt.fault(r.sim))
				}
				// The budget is the default for the size the file stands for.
				r.standsFor = tenGiB
				res, log, err := r.upload(env)
				if n := r.sim.CallCount("POST", "/api/v1/packages/*"); n != tt.sends {
					t.Errorf("%d sends through {id}/upload, want %d\nlog:\n%s", n, tt.sends, log)
				}
				if strings.Contains(log, `"status":401`) || strings.Contains(log, "401 Unauthorized") {
					t.Errorf("a request met an expired token:\n%s", log)
				}
				if tt.err != "" {
					var corrupt *CorruptError
					if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.As(err, &corrupt) {
						t.Fatalf("err = %v, want a CorruptError saying %q\nlog:\n%s", err, tt.err, log)
					}
					return
				}
				if err != nil {
					t.Fatalf("Upload: %v\nlog:\n%s", err, log)
				}
				if !res.Uploaded || res.Pods != 4 {
					t.Errorf("pkg_uploaded %v, pods verified %d; want true on 4", res.Uploaded, res.Pods)
				}
				if not := r.sim.State().NotServedBy("App.pkg", 3000, sum); len(not) > 0 {
					t.Errorf("pods %v do not serve the file READY with its size and SHA3-512", not)
				}
				// 60 s tokens through a 15-minute verify: renewed, never refused.
				if res.Stats.TokenRequests < 10 && !tt.processed {
					t.Errorf("%d token requests through a 15-minute verify with 60 s tokens, want a renewal each minute", res.Stats.TokenRequests)
				}
			})
		})
	}
}
