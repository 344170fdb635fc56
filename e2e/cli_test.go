package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
	"github.com/jcds2-uploader/jcds2-uploader/processor"
)

func TestInputForms(t *testing.T) {
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, _ := makePkg(t, "Forms.pkg", 2048)
	env := r.baseEnv(path)

	// Binary plist on stdin.
	res := r.runRaw(encodeBinary(t, env))
	if res.code != 0 {
		t.Fatalf("binary plist: exit %d\n%s", res.code, res.stderr)
	}
	if !bytes.HasPrefix(res.stdout, []byte("<?xml")) {
		t.Errorf("output is not an XML plist")
	}

	// A plist file given by name, output to a file.
	dir := t.TempDir()
	in := filepath.Join(dir, "env.plist")
	data, _ := plistio.Encode(env)
	os.WriteFile(in, data, 0o600)
	outFile := filepath.Join(dir, "out.plist")
	res = r.runRaw(nil, "-input", in, "-output", outFile)
	if res.code != 0 || len(res.stdout) != 0 {
		t.Fatalf("-input/-output: exit %d stdout %q\n%s", res.code, res.stdout, res.stderr)
	}
	if out, err := plistio.ReadFile(outFile, nil); err != nil || out["pkg_upload_status"] != processor.StatusSkippedExists {
		t.Errorf("output file: %v %v", out, err)
	}

	// key=value arguments, as AutoPkg's execute_shell accepts them.
	res = r.runRaw(nil, "JSS_URL="+r.sim.URL(), "API_USERNAME=admin", "API_PASSWORD=password", "pkg_path="+path)
	if res.code != 0 {
		t.Fatalf("key=value: exit %d\n%s", res.code, res.stderr)
	}
	if res.out["pkg_name"] != "Forms.pkg" || res.out["API_USERNAME"] != "admin" {
		t.Errorf("key=value output: %v", res.out)
	}
}

func TestLogsGoToStderrAtEachVerbosity(t *testing.T) {
	r := newRig(t, fakeS3, jamfsim.Options{})
	path, _ := makePkg(t, "Verbose.pkg", 2048)
	env := r.baseEnv(path)
	// The first run uploads, the others are no-ops, compared with each
	// other: an upload's length depends on how long the pods take to show
	// it, not only on the verbosity.
	lens := map[int]int{}
	for v := 0; v <= 4; v++ {
		env["verbose"] = uint64(v)
		res := r.mustSucceed(env)
		if v == 0 && strings.Contains(res.stderr, "step 1/") {
			t.Errorf("verbose 0 printed info lines:\n%s", res.stderr)
		}
		if v >= 1 && !strings.Contains(res.stderr, "JCDS2PackageUploader: ") {
			t.Errorf("verbose %d: no AutoPkg-style log lines:\n%s", v, res.stderr)
		}
		// Durations and timestamps vary a few bytes from run to run.
		if v >= 2 && len(res.stderr) < lens[v-1]*9/10 {
			t.Errorf("verbose %d logged less than verbose %d", v, v-1)
		}
		lens[v] = len(res.stderr)
	}
	env["verbose"] = uint64(2)
	res := r.mustSucceed(env, "-log-format", "json")
	for _, line := range strings.Split(strings.TrimSpace(res.stderr), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("not a JSON log line: %q", line)
		}
	}
}
