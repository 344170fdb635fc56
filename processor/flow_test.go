package processor

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/memnet"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// The flow runs in-process against the simulator, as net/http's tests run
// against httptest: a decision or a fault is a table row. The binary's own
// contract (plist in and out, exit codes, signals, the shim) is tested end
// to end in e2e/.

// flowRig is one simulated Jamf Pro and the private folders of one Mac.
type flowRig struct {
	t     *testing.T
	sim   *jamfsim.Server
	cache string // token cache; the journal lives beside it
	// httpClient reaches the simulator (Jamf and S3) over its in-memory
	// network.
	httpClient *http.Client
	network    *memnet.Network
	// standsFor is the size the local file stands for (0: its own): the
	// default verify budget is that size's, as the simulator's processing
	// time is.
	standsFor int64
}

// inPlaceStep reports whether the plan replaces the object's file through
// its {id}/upload.
func inPlaceStep(p Plan) bool {
	for _, s := range p.Steps {
		if s, ok := s.(sendV1); ok && s.InPlace {
			return true
		}
	}
	return false
}

// hasStep reports whether the plan has a step of type S.
func hasStep[S Step](p Plan) bool {
	for _, s := range p.Steps {
		if _, ok := s.(S); ok {
			return true
		}
	}
	return false
}

// newFlowRig serves the simulator on an in-memory network: call it inside
// a synctest bubble (synctest.Test), where the simulator's processing,
// cluster lag and every poll interval pass on the bubble's fake clock, so
// a test asserts what happened, never how long it took.
func newFlowRig(t *testing.T, opts jamfsim.Options) *flowRig {
	t.Helper()
	if opts.ProcessInterval == 0 {
		opts.ProcessInterval = 50 * time.Millisecond
	}
	if opts.ClusterNodes == 0 {
		// One node: a row tests one decision, and a rerun on a node that
		// has not caught up would decide from other facts. What a cluster
		// does is tested under the default cluster (TestUploadFlowLaggingNode,
		// and end to end in e2e/).
		opts.ClusterNodes = 1
	}
	sim, network := jamfsim.StartInMemory(t, opts)
	tr := network.Transport()
	t.Cleanup(tr.CloseIdleConnections)
	return &flowRig{t: t, sim: sim, cache: filepath.Join(t.TempDir(), "cache", "tokens"), httpClient: &http.Client{Transport: tr}, network: network}
}

// envWith is env with the inputs in set added or changed.
func (r *flowRig) envWith(path string, set map[string]any) plistio.Env {
	env := r.env(path)
	for k, v := range set {
		env[k] = v
	}
	return env
}

// env is a recipe's environment for the simulator and the file at path.
func (r *flowRig) env(path string) plistio.Env {
	return plistio.Env{
		"JSS_URL":          r.sim.URL() + "/",
		"API_USERNAME":     "admin",
		"API_PASSWORD":     "password",
		"pkg_path":         path,
		"RECIPE_CACHE_DIR": r.t.TempDir(),
		"sleep":            "0",
	}
}

// syncBuffer collects a run's log; the upload logs from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (r *flowRig) options(log *syncBuffer) Options {
	return Options{Logger: zerolog.New(log), test: testKnobs{cacheDir: r.cache, s3Endpoint: r.sim.S3Endpoint(), httpClient: r.httpClient, standsFor: r.standsFor}}
}

// upload runs the whole flow for env, as main does after reading the plist.
func (r *flowRig) upload(env plistio.Env) (*Result, string, error) {
	r.t.Helper()
	cfg, err := ParseConfig(env, false)
	if err != nil {
		r.t.Fatalf("ParseConfig: %v", err)
	}
	var log syncBuffer
	res, err := Upload(context.Background(), cfg, r.options(&log))
	return res, log.String(), err
}

// mustUpload runs and fails the test unless the run succeeded.
func (r *flowRig) mustUpload(env plistio.Env) *Result {
	r.t.Helper()
	res, log, err := r.upload(env)
	if err != nil {
		r.t.Fatalf("Upload: %v\nlog:\n%s", err, log)
	}
	return res
}

// connect makes the uploader a run makes once it knows the server, for
// the tests of one step.
func (r *flowRig) connect(env plistio.Env) *uploader {
	r.t.Helper()
	cfg, err := ParseConfig(env, false)
	if err != nil {
		r.t.Fatal(err)
	}
	file, err := ResolvePkg(cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	client, err := jamf.NewClient(jamf.Config{URL: cfg.URL, Username: cfg.Username, Password: cfg.Password,
		MaxTries: cfg.MaxTries, CacheDir: r.cache, Logger: zerolog.Nop(), HTTPClient: r.httpClient})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx := context.Background()
	if err := client.Authenticate(ctx); err != nil {
		r.t.Fatal(err)
	}
	v, err := client.Version(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	lf := &local{PkgFile: file}
	return &uploader{cfg: cfg, opts: r.options(&syncBuffer{}), log: zerolog.Nop(), client: client, version: v, local: lf,
		journal: openRunJournal(r.cache, true, cfg.URL, file.Name, zerolog.Nop())}
}

// writePkg writes size random bytes as dir/name and returns the path and
// the SHA3-512.
func writePkg(t *testing.T, dir, name string, size int) (string, string) {
	t.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha3.Sum512(data)
	return path, hex.EncodeToString(sum[:])
}

// ready checks that the simulator holds one file name with sum and one
// package object pointing at it, whole: size, the server's SHA3-512, READY.
func (r *flowRig) ready(name, sum string) jamfsim.Package {
	r.t.Helper()
	st := r.sim.State()
	f, ok := r.sim.File(name)
	if !ok || f.SHA3 != sum {
		r.t.Fatalf("the JCDS holds %s with sha3 %.16s… (present %v), want %.16s…", name, f.SHA3, ok, sum)
	}
	if len(st.Files) != 1 || len(st.Packages) != 1 {
		r.t.Fatalf("files=%d packages=%d, want one each: %+v %+v", len(st.Files), len(st.Packages), st.Files, st.Packages)
	}
	p := st.Packages[0]
	if p.FileName != name || p.Size != strconv.FormatInt(f.Size, 10) || p.HashType != "SHA3_512" || p.HashValue != f.SHA3 ||
		(p.TransferStatus != "" && p.TransferStatus != "READY") {
		r.t.Errorf("record not whole: %+v (file %+v)", p, f)
	}
	return p
}

// TestUploadFlow drives processor.Upload through each decision and the
// step it leads to, on a fresh simulated server per row.
func TestUploadFlow(t *testing.T) {
	t.Parallel()
	type prior struct {
		size int                           // a first run uploads a file of this size (0: none)
		env  map[string]any                // ... with these inputs
		sim  func(r *flowRig, path string) // or prepare the server directly
		file func(*flowRig, string) string // new local bytes after the first run: their SHA3-512
	}
	tests := []struct {
		name   string
		opts   jamfsim.Options
		prior  prior
		size   int
		env    map[string]any
		file   FileAction
		meta   MetaAction
		mode   string
		status string
		// inPlace: the existing object's file was replaced through
		// {id}/upload; reason is in the plan's reason.
		inPlace    bool
		reason     string
		logs       string // in the log
		err        string // the run fails saying this
		httpStatus int    // ... with a Jamf Pro answer of this HTTP status (jamf.APIError)
		same       bool   // the server ends with the run's file, whole
	}{
		{name: "new package", size: 3000, file: FileUpload, meta: MetaCreate, mode: ModeJCDS2, status: StatusUploaded, reason: "no file of this name", same: true},
		{name: "new package, v1", size: 3000, env: map[string]any{"upload_mode": "v1"}, file: FileUpload, meta: MetaCreate, mode: ModeV1, status: StatusUploaded, same: true},
		{name: "new package, JCDS endpoints gone", opts: jamfsim.Options{JCDSRemoved: true}, size: 3000, file: FileUpload, meta: MetaCreate, mode: ModeV1, status: StatusUploaded,
			logs: "the JCDS endpoints are gone", same: true},
		{name: "new package, upload_mode auto, JCDS endpoints gone", opts: jamfsim.Options{JCDSRemoved: true}, size: 3000, env: map[string]any{"upload_mode": "auto"},
			file: FileUpload, meta: MetaCreate, mode: ModeV1, status: StatusUploaded, same: true},
		{name: "new package, before 11.5", opts: jamfsim.Options{JamfVersion: "11.4.0"}, size: 3000, file: FileUpload, meta: MetaCreate, mode: ModeJCDS2, status: StatusUploaded},
		{name: "nightly no-op", prior: prior{size: 3000}, file: FileKeep, meta: MetaNone, mode: ModeJCDS2, status: StatusSkippedExists,
			reason: "replace_pkg is false", logs: "Not replacing existing", same: true},
		{name: "replace, identical bytes", prior: prior{size: 3000}, env: map[string]any{"replace_pkg": true}, file: FileUnchanged, meta: MetaUpdate, mode: ModeJCDS2,
			status: StatusHashMatch, reason: "same size and MD5", same: true},
		{name: "replace, changed bytes: in place", prior: prior{size: 3000, file: rewrite(4000)}, env: map[string]any{"replace_pkg": true}, file: FileReplace, meta: MetaUpdate,
			mode: ModeJCDS2, status: StatusUploaded, inPlace: true, reason: "differs in size", same: true},
		{name: "replace, upload_mode jcds2: in place too, nothing deleted", prior: prior{size: 3000, file: rewrite(3000)}, env: map[string]any{"replace_pkg": true, "upload_mode": "jcds2"},
			file: FileReplace, meta: MetaUpdate, mode: ModeJCDS2, status: StatusUploaded, inPlace: true, reason: "same size but different content", same: true},
		{name: "replace before 11.5: delete right before the commit", opts: jamfsim.Options{JamfVersion: "11.4.0"}, prior: prior{size: 3000, file: rewrite(3000)}, env: map[string]any{"replace_pkg": true},
			file: FileReplace, meta: MetaUpdate, mode: ModeJCDS2, status: StatusUploaded, reason: "same size but different content", logs: "deleted the stale JCDS file"},
		{name: "metadata only", prior: prior{size: 3000}, env: map[string]any{"replace_pkg_metadata": true, "pkg_notes": "new notes"}, file: FileKeep, meta: MetaUpdate,
			mode: ModeJCDS2, status: StatusSkippedExists, logs: "package metadata updated", same: true},
		{name: "skip metadata never amends", prior: prior{size: 3000, file: rewrite(5000)}, env: map[string]any{"replace_pkg": true, "skip_metadata_upload": true},
			file: FileReplace, meta: MetaNone, mode: ModeJCDS2, status: StatusUploaded, inPlace: true, logs: "Not updating package metadata"},
		{name: "object's file missing: repaired without replace_pkg", size: 3000,
			prior: prior{sim: func(r *flowRig, _ string) {
				r.sim.AddPackage(jamfsim.Package{Name: "App.pkg", FileName: "App.pkg", CategoryID: "-1", Size: "3000"})
			}},
			file: FileReplace, meta: MetaUpdate, mode: ModeJCDS2, status: StatusUploaded, inPlace: true, reason: "repair", same: true},
		{name: "no object, identical file there: object made", size: 3000,
			prior: prior{sim: func(r *flowRig, path string) {
				b, _ := os.ReadFile(path)
				r.sim.AddFile("App.pkg", b)
			}},
			file: FileUnchanged, meta: MetaCreate, mode: ModeJCDS2, status: StatusHashMatch, same: true},
		{name: "missing category refused before anything is sent", size: 3000, env: map[string]any{"pkg_category": "Nope"},
			err: "supplied package category does not exist"},
		{name: "upload_mode v1 before 11.5 refused", opts: jamfsim.Options{JamfVersion: "11.4.0"}, size: 3000, env: map[string]any{"upload_mode": "v1"},
			err: "upload_mode v1 needs Jamf Pro 11.5 or later"},
		{name: "explicit jcds2 where the endpoints are gone refused", opts: jamfsim.Options{JCDSRemoved: true}, size: 3000, env: map[string]any{"upload_mode": "jcds2"},
			err: "no longer has the JCDS endpoints"},
		{name: "dry run changes nothing", size: 3000, env: map[string]any{"dry_run": true}, file: FileUpload, meta: MetaCreate, mode: ModeJCDS2, status: StatusDryRun},
		{name: "S3 part failures are retried", opts: jamfsim.Options{}, prior: prior{sim: func(r *flowRig, _ string) { r.sim.FailS3Parts(2) }}, size: 3000,
			file: FileUpload, meta: MetaCreate, mode: ModeJCDS2, status: StatusUploaded, same: true},
		{name: "a failed JCDS list is an error", prior: prior{sim: func(r *flowRig, _ string) {
			r.sim.InjectFault(jamfsim.Fault{Method: "GET", Path: "/api/v1/jcds/files", Status: 500, Count: -1})
		}}, size: 3000, env: map[string]any{"max_tries": uint64(1)}, err: "list JCDS files", httpStatus: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := newFlowRig(t, tt.opts)
				dir := t.TempDir()
				size := tt.size
				if size == 0 {
					size = tt.prior.size
				}
				path, sum := writePkg(t, dir, "App.pkg", size)
				if tt.prior.size > 0 {
					env := r.env(path)
					for k, v := range tt.prior.env {
						env[k] = v
					}
					r.mustUpload(env)
				}
				if tt.prior.sim != nil {
					tt.prior.sim(r, path)
				}
				if tt.prior.file != nil {
					sum = tt.prior.file(r, path)
				}
				env := r.envWith(path, tt.env)
				cfg, err := ParseConfig(env, false)
				if err != nil {
					t.Fatal(err)
				}
				before := r.sim.State()
				var log syncBuffer
				res, err := Upload(context.Background(), cfg, r.options(&log))
				if tt.err != "" {
					if err == nil || !strings.Contains(err.Error(), tt.err) {
						t.Fatalf("err = %v, want %q\nlog:\n%s", err, tt.err, log.String())
					}
					var api *jamf.APIError
					if tt.httpStatus != 0 && (!errors.As(err, &api) || api.Status != tt.httpStatus) {
						t.Errorf("err = %v, want a Jamf Pro answer with status %d", err, tt.httpStatus)
					}
					if after := r.sim.State(); len(after.Packages) != len(before.Packages) || len(after.Files) != len(before.Files) {
						t.Errorf("a refused run changed the server: %+v", after)
					}
					return
				}
				if err != nil {
					t.Fatalf("Upload: %v\nlog:\n%s", err, log.String())
				}
				p := res.Plan
				if p.File != tt.file || p.Meta != tt.meta || inPlaceStep(p) != tt.inPlace || res.Mode != tt.mode || res.Status != tt.status {
					t.Errorf("plan %s/%s in place %v, mode %s, status %s; want %s/%s %v, %s, %s (%s)", p.File, p.Meta, inPlaceStep(p), res.Mode, res.Status,
						tt.file, tt.meta, tt.inPlace, tt.mode, tt.status, p.Reason)
				}
				if !strings.Contains(p.Reason, tt.reason) {
					t.Errorf("reason %q, want %q", p.Reason, tt.reason)
				}
				if n := deletes(r.sim); n != 0 && tt.opts.JamfVersion == "" {
					t.Errorf("Jamf Pro 11.5+: the run deleted %d JCDS files", n)
				}
				if !strings.Contains(log.String(), tt.logs) {
					t.Errorf("log lacks %q:\n%s", tt.logs, log.String())
				}
				if res.Uploaded != (tt.status == StatusUploaded) || res.MetaWritten != (tt.meta != MetaNone && tt.status != StatusDryRun) {
					t.Errorf("uploaded %v, metadata written %v", res.Uploaded, res.MetaWritten)
				}
				if want := tt.status == StatusUploaded && tt.opts.JamfVersion == ""; res.Recalc != want {
					// A current server refreshes the sent file's inventory
					// entry while settling: packages_recalculated.
					t.Errorf("packages_recalculated %v, want %v", res.Recalc, want)
				}
				if len(res.Plan.Steps) == 0 {
					t.Errorf("no plan steps")
				}
				if tt.status == StatusDryRun {
					if st := r.sim.State(); len(st.Files) != 0 || len(st.Packages) != 0 {
						t.Errorf("a dry run changed the server: %+v", st)
					}
					return
				}
				if tt.same {
					rec := r.ready("App.pkg", sum)
					if res.PackageID != rec.ID {
						t.Errorf("pkg_id %q, object %s", res.PackageID, rec.ID)
					}
					if (res.SHA3 != "" || tt.status != StatusSkippedExists) && res.SHA3 != sum {
						t.Errorf("pkg_sha3_512 %.16s…, want %.16s…", res.SHA3, sum)
					}
					if n, ok := tt.env["pkg_notes"]; ok && rec.Notes != n {
						t.Errorf("notes %q, want %q", rec.Notes, n)
					}
				}
			})
		})
	}
}

// deletes counts the JCDS file deletes the server answered.
func deletes(sim *jamfsim.Server) int {
	n := 0
	for _, c := range sim.State().Calls {
		if c.Method == "DELETE" && strings.HasPrefix(c.Path, "/api/v1/jcds/files/") {
			n++
		}
	}
	return n
}

// TestUploadFlowLaggingNode: another Mac made the object on one pod moments
// ago (and sent its file), and this run lands on the pod that has not seen
// it yet (each client is a new cookie jar; the simulator hands pods out in
// turn), inside Jamf Cloud's minute of lag. With a changed file under the
// same name, the run asks the database first by creating the object; the
// duplicate reveals it, the run finds it on the pod that shows it, moves
// there and decides again with it, without waiting out the lag:
// replace_pkg true replaces its file in place, false keeps it. On 11.5+
// nothing is deleted; below 11.5 only a replace_pkg true run deletes,
// after the create found the object.
func TestUploadFlowLaggingNode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version string
		env     map[string]any
		file    FileAction
		inPlace bool
		kept    bool // the first run's file stays
	}{
		{"replace_pkg: the object found, its file replaced in place", "", map[string]any{"replace_pkg": true}, FileReplace, true, false},
		{"replace_pkg false: the object found, its file kept", "", nil, FileKeep, false, true},
		{"v1, replace_pkg false: kept", "", map[string]any{"upload_mode": "v1"}, FileKeep, false, true},
		{"before 11.5, replace_pkg false: kept", "11.4.0", nil, FileKeep, false, true},
		{"before 11.5, replace_pkg: replaced through the JCDS once the object is found", "11.4.0", map[string]any{"replace_pkg": true}, FileReplace, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := newFlowRig(t, jamfsim.Options{ClusterNodes: 2, JamfVersion: tt.version})
				path, oldSum := writePkg(t, t.TempDir(), "App.pkg", 3000)
				r.otherMacMade(path)
				_, newSum := writePkg(t, filepath.Dir(path), "App.pkg", 4000)
				r.sim.ResetCalls()
				env := r.envWith(path, tt.env)
				res, log, err := r.upload(env)
				if err != nil {
					t.Fatalf("Upload: %v\nlog:\n%s", err, log)
				}
				if !strings.Contains(log, "was made elsewhere moments ago") || !strings.Contains(log, "the run goes on there") {
					t.Errorf("the run did not land on the lagging node, or did not find the object on the other:\n%s", log)
				}
				if strings.Contains(log, "waiting for it") {
					t.Errorf("the run waited out the lag on its own pod although the other showed the object:\n%s", log)
				}
				if p := res.Plan; p.File != tt.file || inPlaceStep(p) != tt.inPlace || res.Uploaded == tt.kept {
					t.Errorf("plan %s in place %v, uploaded %v; want %s %v (%s)", p.File, inPlaceStep(p), res.Uploaded, tt.file, tt.inPlace, p.Reason)
				}
				if n := deletes(r.sim); n != 0 && (tt.version == "" || tt.kept) {
					t.Errorf("%d JCDS file deletes", n)
				}
				want := newSum
				if tt.kept {
					want = oldSum
				}
				if tt.version == "" {
					r.ready("App.pkg", want)
				} else if f, ok := r.sim.File("App.pkg"); !ok || f.SHA3 != want || len(r.sim.State().Packages) != 1 || len(r.sim.State().Files) != 1 {
					t.Errorf("file %+v, state %+v", f, r.sim.State())
				}
			})
		})
	}
}

// otherMacMade is another Mac's upload of the file at path moments ago:
// the file in the distribution point, the object made on the pod that
// Mac's client landed on (the first the simulator hands out).
func (r *flowRig) otherMacMade(path string) {
	r.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sim.AddFile(filepath.Base(path), data)
	c := r.otherMac()
	ctx := context.Background()
	v, err := c.Version(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	p := &jamf.Package{Name: filepath.Base(path), FileName: filepath.Base(path), CategoryID: "-1", Priority: 10}
	if v.AtLeast(11, 5) {
		_, err = c.CreatePackage(ctx, p)
	} else {
		_, err = c.CreatePackageClassic(ctx, p)
	}
	if err != nil {
		r.t.Fatal(err)
	}
}

// otherMac is the Jamf Pro client of another Mac (a cookie jar and a
// token of its own), as an admin's other runs or the console would be.
func (r *flowRig) otherMac() *jamf.Client {
	r.t.Helper()
	c, err := jamf.NewClient(jamf.Config{URL: r.sim.URL(), Username: "admin", Password: "password", CacheDir: "off", Logger: zerolog.Nop(), HTTPClient: r.httpClient})
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// TestUploadFlowNewFileName: a new version under another file name
// (stable pkg_display_name, Firefox-146.pkg) uploaded through the existing
// object's {id}/upload: its fileName is written first, or the server
// answers 400 INVALID_FILE_NAME (jamf-upload#162).
func TestUploadFlowNewFileName(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		opts jamfsim.Options
		env  map[string]any
	}{
		{"v1", jamfsim.Options{}, map[string]any{"upload_mode": "v1"}},
		{"JCDS endpoints gone", jamfsim.Options{JCDSRemoved: true}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := newFlowRig(t, tt.opts)
				dir := t.TempDir()
				oldPath, _ := writePkg(t, dir, "Firefox-145.pkg", 3000)
				env := r.env(oldPath)
				env["pkg_display_name"] = "Firefox"
				for k, v := range tt.env {
					env[k] = v
				}
				r.mustUpload(env)
				newPath, newSum := writePkg(t, dir, "Firefox-146.pkg", 4000)
				env["pkg_path"], env["replace_pkg"] = newPath, true
				res, log, err := r.upload(env)
				if err != nil {
					t.Fatalf("Upload: %v\nlog:\n%s", err, log)
				}
				if !hasStep[writeFileName](res.Plan) || !res.Uploaded || res.Mode != ModeV1 {
					t.Errorf("plan %+v, uploaded %v, mode %s", res.Plan, res.Uploaded, res.Mode)
				}
				st := r.sim.State()
				f, ok := r.sim.File("Firefox-146.pkg")
				if len(st.Packages) != 1 || !ok || f.SHA3 != newSum {
					t.Fatalf("packages %+v, new file %+v (%v)", st.Packages, f, ok)
				}
				if p := st.Packages[0]; p.Name != "Firefox" || p.FileName != "Firefox-146.pkg" || p.HashValue != newSum || p.Size != "4000" || (p.TransferStatus != "" && p.TransferStatus != "READY") {
					t.Errorf("record not whole: %+v", p)
				}
			})
		})
	}
}

// rewrite gives the local file new bytes of size after the first run, and
// returns their SHA3-512.
func rewrite(size int) func(*flowRig, string) string {
	return func(r *flowRig, path string) string {
		_, sum := writePkg(r.t, filepath.Dir(path), filepath.Base(path), size)
		return sum
	}
}

// TestModeAgainstEachServer: the survey asks each kind of server what
// ChooseMode needs, and the mode follows.
func TestModeAgainstEachServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   jamfsim.Options
		mode   string // upload_mode
		want   string
		listed bool
		err    string // in the message a user reads
		status int    // the Jamf Pro answer's status the error carries (jamf.APIError), 0 for none
	}{
		{"default", jamfsim.Options{}, "", ModeJCDS2, true, "", 0},
		{"explicit jcds2", jamfsim.Options{}, "jcds2", ModeJCDS2, true, "", 0},
		{"v1 still lists the JCDS", jamfsim.Options{}, "v1", ModeV1, true, "", 0},
		{"v1, JCDS gone", jamfsim.Options{JCDSRemoved: true}, "v1", ModeV1, false, "", 0},
		{"default, JCDS gone: v1", jamfsim.Options{JCDSRemoved: true}, "", ModeV1, false, "", 0},
		{"jcds2, JCDS gone", jamfsim.Options{JCDSRemoved: true}, "jcds2", "", false, "upload_mode jcds2", 0},
		{"no JCDS 2.0 (11.30): capability decides", jamfsim.Options{NoJCDS: true, JamfVersion: "11.30.1"}, "", "", false, "does not take uploads through /api/v1/packages/{id}/upload", 0},
		{"no JCDS 2.0, 11.23: capability decides", jamfsim.Options{NoJCDS: true, JamfVersion: "11.23.0"}, "", "", false, "directUploadCapable false", 0},
		{"no JCDS 2.0 before 11.5", jamfsim.Options{NoJCDS: true, JamfVersion: "11.4.0"}, "", "", false, "list JCDS files", 500},
		{"v1 before 11.5", jamfsim.Options{JamfVersion: "11.4.0"}, "v1", "", false, "needs Jamf Pro 11.5", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := newFlowRig(t, tt.opts)
				path, _ := writePkg(t, t.TempDir(), "App.pkg", 100)
				env := r.env(path)
				env["max_tries"] = uint64(1)
				if tt.mode != "" {
					env["upload_mode"] = tt.mode
				}
				u := r.connect(env)
				mode, _, listed, err := u.chooseMode(context.Background())
				if tt.err != "" {
					if err == nil || !strings.Contains(err.Error(), tt.err) {
						t.Fatalf("err = %v, want %q", err, tt.err)
					}
					var api *jamf.APIError
					if tt.status != 0 && (!errors.As(err, &api) || api.Status != tt.status) {
						t.Errorf("err = %v, want a Jamf Pro answer with status %d", err, tt.status)
					}
					return
				}
				if err != nil || mode != tt.want || listed != tt.listed {
					t.Errorf("chooseMode = %q, listed %v, %v; want %q, %v", mode, listed, err, tt.want, tt.listed)
				}
			})
		})
	}
}

// TestSurvey: what survey reports of the distribution point, the journal
// and the local file, without changing anything.
func TestSurvey(t *testing.T) {
	t.Parallel()
	synctest.Test(t, testSurvey)
}

func testSurvey(t *testing.T) {
	r := newFlowRig(t, jamfsim.Options{ClusterNodes: 1})
	dir := t.TempDir()
	path, _ := writePkg(t, dir, "App.pkg", 1000)
	b, _ := os.ReadFile(path)
	r.sim.AddFile("App.pkg", b)
	r.sim.AddFile("App_1.pkg", []byte("copy"))
	r.sim.AddFile("Gone.pkg", make([]byte, 10))
	id := r.sim.AddPackage(jamfsim.Package{Name: "App", FileName: "App.pkg", CategoryID: "-1", Size: "1000"})
	r.sim.AddPackage(jamfsim.Package{Name: "Other", FileName: "Other.pkg", CategoryID: "-1", Size: "5"})

	env := r.env(path)
	env["replace_pkg"] = true
	u := r.connect(env)
	ctx := context.Background()
	obj, err := u.findPackage(ctx, "App")
	if err != nil || obj == nil || obj.ID != id {
		t.Fatalf("findPackage = %+v, %v", obj, err)
	}
	if err := u.journal.noteFile(id, "App", path, 1000, true); err != nil {
		t.Fatal(err)
	}
	u.journal = openRunJournal(r.cache, true, u.cfg.URL, "App.pkg", zerolog.Nop())
	before := r.sim.State()
	facts, err := u.survey(ctx, obj)
	if err != nil {
		t.Fatal(err)
	}
	if facts.Mode != ModeJCDS2 || facts.JCDSFile == nil || facts.JCDSFile.Length != 1000 || !facts.FileExisted || !facts.ServerMD5 {
		t.Errorf("facts of the listing: %+v", facts)
	}
	if !facts.DupsBefore["App_1.pkg"] || len(facts.DupsBefore) != 1 {
		t.Errorf("duplicates before: %v", facts.DupsBefore)
	}
	if facts.Pending != PendingFile || facts.ObjectFileMissing {
		t.Errorf("journal/missing: pending %q, missing %v", facts.Pending, facts.ObjectFileMissing)
	}
	if facts.Local.MD5 == "" || !strings.EqualFold(facts.Local.MD5, facts.JCDSFile.MD5) {
		t.Errorf("same-size file not compared by MD5: local %q, listed %q", facts.Local.MD5, facts.JCDSFile.MD5)
	}
	if facts.Object != obj || facts.FileName != "App.pkg" || facts.LocalSize != 1000 || facts.Classic {
		t.Errorf("facts of the object and file: %+v", facts)
	}
	if after := r.sim.State(); len(after.Files) != len(before.Files) || len(after.Packages) != len(before.Packages) {
		t.Errorf("survey changed the server")
	}

	// The other object's file is not in the distribution point.
	other, _ := u.findPackage(ctx, "Other")
	facts, err = u.survey(ctx, other)
	if err != nil || !facts.ObjectFileMissing {
		t.Errorf("missing file not seen: %+v, %v", facts, err)
	}
}

// TestHashErrorSaysItOnce: a file that vanished reads as one clear error,
// wrapped once.
func TestHashErrorSaysItOnce(t *testing.T) {
	l := &local{PkgFile: &PkgFile{Path: "/nonexistent/App.pkg", Name: "App.pkg"}}
	_, err := l.hash(context.Background(), 0)
	want := "hash /nonexistent/App.pkg: open /nonexistent/App.pkg: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// putRecorder stands between the uploader and the simulator and keeps the
// body of every package PUT: what a run writes, as the server received it.
type putRecorder struct {
	mu     sync.Mutex
	bodies []map[string]any
}

// recordPuts points env at a recording front of the simulator. pending
// makes the front show a package record whose cloudTransferStatus is empty
// as PENDING, as the schema's enum allows: a client must refresh whatever
// the status says.
func (r *flowRig) recordPuts(env plistio.Env, pending bool) *putRecorder {
	r.t.Helper()
	target, err := url.Parse(r.sim.URL())
	if err != nil {
		r.t.Fatal(err)
	}
	rec := &putRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	if pending {
		proxy.ModifyResponse = func(resp *http.Response) error {
			if resp.Request.Method != http.MethodGet || !strings.HasPrefix(resp.Request.URL.Path, "/api/v1/packages/") || resp.StatusCode != http.StatusOK {
				return nil
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			var rec map[string]any
			if json.Unmarshal(b, &rec) == nil {
				if st, _ := rec["cloudTransferStatus"].(string); st == "" {
					rec["cloudTransferStatus"] = "PENDING"
					b, _ = json.Marshal(rec)
				}
			}
			resp.Body = io.NopCloser(bytes.NewReader(b))
			resp.ContentLength = int64(len(b))
			resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
			return nil
		}
	}
	front := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPut && strings.HasPrefix(req.URL.Path, "/api/v1/packages/") {
			b, _ := io.ReadAll(req.Body)
			var body map[string]any
			if err := json.Unmarshal(b, &body); err != nil {
				r.t.Errorf("PUT %s: body is not JSON: %v", req.URL.Path, err)
			}
			rec.mu.Lock()
			rec.bodies = append(rec.bodies, body)
			rec.mu.Unlock()
			req.Body = io.NopCloser(bytes.NewReader(b))
		}
		proxy.ServeHTTP(w, req)
	})
	proxy.Transport = r.network.Transport()
	l := r.network.Listen("front.jamfsim")
	srv := &http.Server{Handler: front, ReadHeaderTimeout: time.Minute}
	go func() { _ = srv.Serve(l) }()
	r.t.Cleanup(func() { _ = srv.Close() })
	env["JSS_URL"] = "http://front.jamfsim/"
	return rec
}

func (p *putRecorder) puts() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.bodies...)
}

// journalEntry reads the journal entry a run with env left for App.pkg.
func (r *flowRig) journalEntry(env plistio.Env) (JournalEntry, bool, error) {
	cfg, err := ParseConfig(env, false)
	if err != nil {
		r.t.Fatal(err)
	}
	return (&journalStore{dir: journalDir(r.cache)}).load(cfg.URL, "App.pkg")
}

// hashFields are the package record's hash fields.
var hashFields = []string{"hashType", "hashValue", "md5", "sha256", "sha3512"}

// TestDelivery: a run reports success only once Jamf Pro shows the file
// READY with our size and digest, under the simulator's processing model
// (a record moves on only through a refresh, and flips during a v1
// replacement); it sends a file that never landed again, and it never
// writes a hash the server has not shown, nor drops a field in a PUT.
func TestDelivery(t *testing.T) {
	t.Parallel()
	fixture := func(r *flowRig, path string) {
		b, _ := os.ReadFile(path)
		r.sim.AddFile("App.pkg", b)
		f, _ := r.sim.File("App.pkg")
		r.sim.AddPackage(jamfsim.Package{Name: "App.pkg", FileName: "App.pkg", Size: strconv.FormatInt(f.Size, 10),
			SuppressEula: true, FillUserTemplate: true, RequiredProcessor: "x86",
			HashType: "SHA3_512", HashValue: f.SHA3, MD5: f.MD5, SHA256: f.SHA256, SHA3512: f.SHA3})
	}
	firstRun := func(env map[string]any) func(r *flowRig, path string) {
		return func(r *flowRig, path string) {
			e := r.env(path)
			for k, v := range env {
				e[k] = v
			}
			r.mustUpload(e)
		}
	}
	refreshPath := "/api/v1/cloud-distribution-point/refresh-inventory"
	tests := []struct {
		name    string
		opts    jamfsim.Options
		prior   func(r *flowRig, path string) // before the run: the server as it was
		newSize int                           // local bytes of this size for the run (0: as before)
		env     map[string]any
		fault   *jamfsim.Fault
		sends   int    // POSTs to {id}/upload in the run
		logs    string // in the log
		err     string // the run fails saying this, its file still noted "send again"
		lost    bool   // ... because the file never landed (NotLandedError)
		// waitOnly: the run ran out of verify budget with no pod showing a
		// loss, so the journal notes only verification for the next run
		// (PendingVerify) instead of "send again".
		waitOnly bool
		kept     bool // the fixture's fields are still on the record
		pending  bool // the record shows PENDING where it has no status
	}{
		{name: "v1 upload, slow processing", opts: jamfsim.Options{ProcessingDelay: time.Second}, env: map[string]any{"upload_mode": "v1"}, sends: 1},
		{name: "jcds2 upload, slow processing", opts: jamfsim.Options{ProcessingDelay: time.Second}},
		{name: "v1 upload, the record says PENDING: refreshed anyway", opts: jamfsim.Options{ProcessingDelay: time.Second}, env: map[string]any{"upload_mode": "v1"}, sends: 1, pending: true},
		{name: "v1 replace: the flip is not delivery", opts: jamfsim.Options{ProcessingDelay: time.Second}, prior: firstRun(map[string]any{"upload_mode": "v1"}),
			newSize: 4000, env: map[string]any{"upload_mode": "v1", "replace_pkg": true}, sends: 1},
		{name: "replace in place, default mode", opts: jamfsim.Options{ProcessingDelay: time.Second}, prior: firstRun(nil),
			newSize: 4000, env: map[string]any{"replace_pkg": true}, sends: 1},
		{name: "metadata only keeps the record's other fields and the server's hashes", prior: fixture,
			env: map[string]any{"replace_pkg_metadata": true, "pkg_notes": "new notes"}, kept: true},
		{name: "metadata only, v1 mode", prior: fixture, env: map[string]any{"upload_mode": "v1", "replace_pkg_metadata": true, "pkg_notes": "v1 notes"}, kept: true},
		{name: "replace of a fixture keeps its fields", prior: fixture, newSize: 5000, env: map[string]any{"replace_pkg": true}, sends: 1, kept: true},
		{name: "never landed once: sent again", env: map[string]any{"upload_mode": "v1"},
			fault: &jamfsim.Fault{Method: "POST", Path: "/api/v1/packages/1/upload", NeverLands: true}, sends: 2, logs: "sending it again (try 2 of 5)"},
		{name: "never landed on a replace: sent again", prior: firstRun(nil), newSize: 4000, env: map[string]any{"replace_pkg": true},
			fault: &jamfsim.Fault{Method: "POST", Path: "/api/v1/packages/1/upload", NeverLands: true}, sends: 2, logs: "with a new hash and size 0 after the inventory refresh: the file never landed"},
		{name: "never landed five times: the run fails, the journal says send again", env: map[string]any{"upload_mode": "v1"},
			fault: &jamfsim.Fault{Method: "POST", Path: "/api/v1/packages/1/upload", NeverLands: true, Count: -1}, sends: 5, logs: "try 5 of 5", err: "after 5 sends", lost: true},
		{name: "refresh 500 every 2nd call, no retries: still verifies", opts: jamfsim.Options{ProcessingDelay: 10 * time.Second},
			env: map[string]any{"upload_mode": "v1", "max_tries": uint64(1)}, sends: 1,
			fault: &jamfsim.Fault{Method: "POST", Path: refreshPath, Status: 500, Count: -1, Every: 2}, logs: "inventory refresh failed"},
		{name: "refresh 500 every 2nd call, v1 replace", prior: firstRun(nil), newSize: 4000, env: map[string]any{"upload_mode": "v1", "replace_pkg": true, "max_tries": uint64(1)},
			fault: &jamfsim.Fault{Method: "POST", Path: refreshPath, Status: 500, Count: -1, Every: 2}, sends: 1},
		{name: "refresh failing until verify_timeout", env: map[string]any{"upload_mode": "v1", "max_tries": uint64(1), "verify_timeout": uint64(2)},
			fault: &jamfsim.Fault{Method: "POST", Path: refreshPath, Status: 500, Count: -1}, sends: 1, err: "the inventory refresh failed on that pod, and kept failing", waitOnly: true},
		{name: "never READY within verify_timeout: no success reported", opts: jamfsim.Options{ProcessingDelay: 20 * time.Second},
			env: map[string]any{"upload_mode": "v1", "verify_timeout": uint64(2)}, sends: 1, err: "verified on 0 of 1 pods", waitOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := newFlowRig(t, tt.opts)
				dir := t.TempDir()
				path, sum := writePkg(t, dir, "App.pkg", 3000)
				if tt.prior != nil {
					tt.prior(r, path)
				}
				if tt.newSize > 0 {
					_, sum = writePkg(t, dir, "App.pkg", tt.newSize)
				}
				newBytes, _ := os.ReadFile(path)
				before := map[string]bool{"": true}
				for _, v := range r.sim.State().Views {
					for _, k := range hashFields {
						if s, ok := v[k].(string); ok {
							before[s] = true
						}
					}
				}
				env := r.envWith(path, tt.env)
				puts := r.recordPuts(env, tt.pending)
				if tt.fault != nil {
					r.sim.InjectFault(*tt.fault)
				}
				uploads := r.sim.CallCount("POST", "/api/v1/packages/*")
				res, log, err := r.upload(env)
				if n := r.sim.CallCount("POST", "/api/v1/packages/*") - uploads; n != tt.sends {
					t.Errorf("%d POSTs to /api/v1/packages*, want %d upload(s)\nlog:\n%s", n, tt.sends, log)
				}
				if !strings.Contains(log, tt.logs) {
					t.Errorf("log lacks %q:\n%s", tt.logs, log)
				}
				for _, body := range puts.puts() {
					for _, k := range hashFields {
						if v, _ := body[k].(string); !before[v] {
							t.Errorf("PUT body carries %s %.16s…, a value the server did not show", k, v)
						}
					}
					if _, ok := body["suppressEula"]; !ok {
						t.Errorf("PUT body lacks suppressEula: %v", body)
					}
				}
				if tt.err != "" {
					if err == nil || !strings.Contains(err.Error(), tt.err) || res != nil {
						t.Fatalf("err = %v (result %+v), want %q and no result\nlog:\n%s", err, res, tt.err, log)
					}
					var lost *NotLandedError
					if errors.As(err, &lost) != tt.lost {
						t.Errorf("err = %v: a NotLandedError %v, want %v", err, !tt.lost, tt.lost)
					}
					want := PendingFile
					if tt.waitOnly {
						want = PendingVerify
					}
					e, ok, lerr := r.journalEntry(env)
					if lerr != nil || !ok || e.Pending != want {
						t.Errorf("journal after the failure: %+v (%v, %v), want the upload noted %q", e, ok, lerr, want)
					}
					return
				}
				if err != nil {
					t.Fatalf("Upload: %v\nlog:\n%s", err, log)
				}
				if !strings.Contains(log, "READY with its size and SHA3-512 on every pod") {
					t.Errorf("no verification in the log:\n%s", log)
				}
				rec := r.ready("App.pkg", sum)
				if b, _ := os.ReadFile(path); !bytes.Equal(b, newBytes) {
					t.Fatal("the local file changed")
				}
				if res.Uploaded != (tt.prior == nil || tt.newSize > 0) {
					t.Errorf("pkg_uploaded %v", res.Uploaded)
				}
				if res.Uploaded && res.SHA3 != sum {
					t.Errorf("pkg_sha3_512 %.16s…, want the file's %.16s…", res.SHA3, sum)
				}
				if n, ok := tt.env["pkg_notes"]; ok && rec.Notes != n {
					t.Errorf("notes %q, want %q", rec.Notes, n)
				}
				if tt.kept && (!rec.SuppressEula || !rec.FillUserTemplate || rec.RequiredProcessor != "x86") {
					t.Errorf("a PUT dropped the record's other fields: %+v", rec)
				}
				if _, ok, _ := r.journalEntry(env); ok {
					t.Errorf("a verified run left its journal entry")
				}
			})
		})
	}
}

// TestUploadFlowObjectDeletedElsewhere: an object was made, the pods caught
// up, and then it was deleted (an admin, or a run that took back the
// object of its failed upload) moments before this run, which lands on a
// pod that still lists it (a delete reaches the other pods after the lag,
// as every write does). The write to it is answered 404: the run decides
// again without it, creates a new object and ends with one whole record,
// instead of failing until the pod catches up.
func TestUploadFlowObjectDeletedElsewhere(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, version string
		env           map[string]any
	}{
		{"default: into the object through {id}/upload", "", nil},
		{"v1", "", map[string]any{"upload_mode": "v1"}},
		{"11.20: through the JCDS, then its record written", "11.20.0", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := newFlowRig(t, jamfsim.Options{ClusterNodes: 2, JamfVersion: tt.version})
				path, sum := writePkg(t, t.TempDir(), "Gone.pkg", 3000)
				c := r.otherMac()
				ctx := context.Background()
				id, err := c.CreatePackage(ctx, &jamf.Package{Name: "Gone.pkg", FileName: "Gone.pkg", CategoryID: "-1", Priority: 10})
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(2 * time.Minute) // every pod shows it
				if err := c.DeletePackage(ctx, id); err != nil {
					t.Fatal(err)
				}
				r.sim.ResetCalls()
				env := r.envWith(path, tt.env)
				res, log, err := r.upload(env)
				if err != nil {
					t.Fatalf("Upload: %v\nlog:\n%s", err, log)
				}
				if !strings.Contains(log, "was deleted in Jamf Pro although this run's pod still listed it") {
					t.Errorf("the run did not meet the deleted object on the lagging pod:\n%s", log)
				}
				if !res.Uploaded || res.PackageID == id {
					t.Errorf("uploaded %v into object %s; want a new object, not %s", res.Uploaded, res.PackageID, id)
				}
				r.ready("Gone.pkg", sum)
			})
		})
	}
}
