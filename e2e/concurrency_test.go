package e2e

// Several recipes running at once on one Mac share one token cache: they
// all succeed and ask Jamf Pro for one token between them.

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

type concResult struct {
	name           string
	err            error
	stdout, stderr string
}

// runConcurrently starts one process per env at the same moment (released
// together after all are started) and waits for all of them.
func runConcurrently(t *testing.T, r *rig, envs map[string]plistio.Env) []concResult {
	t.Helper()
	type proc struct {
		name           string
		cmd            *exec.Cmd
		stdout, stderr bytes.Buffer
	}
	var procs []*proc
	for name, env := range envs {
		in, err := plistio.Encode(env)
		if err != nil {
			t.Fatal(err)
		}
		p := &proc{name: name, cmd: exec.Command(binary)}
		p.cmd.Stdin = bytes.NewReader(in)
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		p.cmd.Env = r.environ()
		procs = append(procs, p)
	}
	start := make(chan struct{})
	results := make([]concResult, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := p.cmd.Run()
			results[i] = concResult{name: p.name, err: err, stdout: p.stdout.String(), stderr: p.stderr.String()}
		}()
	}
	close(start)
	wg.Wait()
	return results
}

// TestConcurrentRunsShareOneToken: four runs at once, four different new
// packages, one HOME: all upload and verify, and exactly one token is
// requested (the others wait for the cache rather than racing).
func TestConcurrentRunsShareOneToken(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	envs := map[string]plistio.Env{}
	sums := map[string]string{}
	for i := 1; i <= 4; i++ {
		name := fmt.Sprintf("Concurrent %d.pkg", i)
		path, sum := makePkg(t, name, 2<<20+i)
		envs[name] = r.baseEnv(path)
		sums[name] = sum
	}
	for _, res := range runConcurrently(t, r, envs) {
		noPanic(t, res.stderr)
		if res.err != nil {
			t.Errorf("%s: %v\n%s", res.name, res.err, res.stderr)
			continue
		}
		out, err := plistio.Decode([]byte(res.stdout))
		if err != nil {
			t.Fatalf("%s: output: %v", res.name, err)
		}
		if !boolOut(t, out, "pkg_uploaded") || !boolOut(t, out, "pkg_metadata_updated") {
			t.Errorf("%s: uploaded=%v metadata=%v", res.name, out["pkg_uploaded"], out["pkg_metadata_updated"])
		}
	}
	st := r.sim.State()
	if st.Counts.TokenRequests != 1 {
		t.Errorf("token requests = %d, want 1 shared through the cache", st.Counts.TokenRequests)
	}
	checkConsistent(t, r.sim)
	if len(st.Files) != 4 || len(st.Packages) != 4 {
		t.Fatalf("files=%d packages=%d, want 4 each", len(st.Files), len(st.Packages))
	}
	for name, sum := range sums {
		if f, ok := r.sim.File(name); !ok || f.SHA3 != sum {
			t.Errorf("%s: JCDS file %+v", name, f)
		}
	}
	for _, p := range st.Packages {
		if sums[p.FileName] != p.HashValue {
			t.Errorf("object %s carries another package's hash", p.Name)
		}
	}

	// And the nightly case: four no-op reruns at once, still no new token.
	for _, res := range runConcurrently(t, r, envs) {
		if res.err != nil {
			t.Errorf("%s rerun: %v\n%s", res.name, res.err, res.stderr)
		}
	}
	if n := r.sim.State().Counts.TokenRequests; n != 1 {
		t.Errorf("token requests after the reruns = %d, want still 1", n)
	}
}

// TestConcurrentSamePackage: two runs on one Mac for the same new package
// at once. The per-upload lock makes the second wait for the first and then
// find its work done: both succeed, one file, no Name_1.pkg, one object.
func TestConcurrentSamePackage(t *testing.T) {
	t.Parallel()
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, sum := makePkg(t, "Same Time.pkg", 1<<20)
	env := r.baseEnv(path)
	env["verify_timeout"] = uint64(5)
	envs := map[string]plistio.Env{"a": env, "b": env}
	ok := 0
	for _, res := range runConcurrently(t, r, envs) {
		noPanic(t, res.stderr)
		if res.err == nil {
			ok++
			continue
		}
		if !strings.Contains(res.stderr, "ProcessorError: ") {
			t.Errorf("%s failed without a ProcessorError:\n%s", res.name, res.stderr)
		}
		t.Logf("%s: %s", res.name, res.stderr[strings.Index(res.stderr, "ProcessorError: "):])
	}
	if ok != 2 {
		t.Errorf("%d of 2 runs succeeded, want both", ok)
	}
	st := r.sim.State()
	var names []string
	for _, f := range st.Files {
		names = append(names, f.Name)
	}
	if len(names) != 1 || names[0] != "Same Time.pkg" {
		t.Errorf("after two concurrent runs the JCDS holds %q, want only Same Time.pkg", names)
	}
	if len(st.Packages) != 1 || st.Packages[0].FileName != "Same Time.pkg" {
		t.Errorf("want one object for Same Time.pkg: %+v", st.Packages)
	}
	for _, p := range st.Packages {
		if _, ok := r.sim.File(p.FileName); !ok {
			t.Errorf("object %s points at missing %s", p.Name, p.FileName)
		}
	}
	r.mustSucceed(env)
	if f, ok := r.sim.File("Same Time.pkg"); !ok || f.SHA3 != sum {
		t.Errorf("Same Time.pkg missing or wrong after the rerun")
	}
}
