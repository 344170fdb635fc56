package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProgram runs the built program as scripts use it: two lines on
// stdout, a working server, flags applied, a clean exit on SIGTERM.
func TestProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	bin := filepath.Join(t.TempDir(), "jamfsim")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build: %v", err)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-jamf-version", "11.11.0", "-category", "Apps", "-category", "Tools",
		"-password", "s3cret-pass", "-fault", "GET /api/v1/jcds/files 503 1", "-cluster-nodes", "3", "-cluster-lag", "1h",
		"-balance-cookie", "APBALANCEID", "-no-refresh-flip", "-processing-delay", "10ms", "-contract", "-time-scale", "2")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	sc := bufio.NewScanner(stdout)
	var lines []string
	for len(lines) < 2 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "JSS_URL=http://127.0.0.1:") || !strings.HasPrefix(lines[1], "AWS_ENDPOINT_URL_S3=http://127.0.0.1:") {
		t.Fatalf("stdout lines %q; stderr %s", lines, stderr.String())
	}
	url := strings.TrimPrefix(lines[0], "JSS_URL=")

	req, _ := http.NewRequest("POST", url+"/api/v1/auth/token", nil)
	req.SetBasicAuth("admin", "s3cret-pass")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("token: %v %v", res, err)
	}
	var tok struct{ Token string }
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	call := func(method, path string) int {
		req, _ := http.NewRequest(method, url+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	// -time-scale 2 halves the API client token's default 60 s.
	res, err = http.Post(url+"/api/v1/oauth/token", "application/x-www-form-urlencoded",
		strings.NewReader("grant_type=client_credentials&client_id=client-id&client_secret=client-secret"))
	if err != nil {
		t.Fatal(err)
	}
	var otok struct {
		ExpiresIn int `json:"expires_in"`
	}
	_ = json.NewDecoder(res.Body).Decode(&otok)
	res.Body.Close()
	if otok.ExpiresIn != 30 {
		t.Errorf("-time-scale 2: oauth expires_in %d, want 30", otok.ExpiresIn)
	}
	if st := call("GET", "/api/v1/jcds/files"); st != 503 {
		t.Errorf("-fault not applied: %d", st)
	}
	if st := call("GET", "/api/v1/jcds/files"); st != 200 {
		t.Errorf("after the fault: %d", st)
	}
	if st := call("POST", "/api/v1/jcds/refresh-inventory"); st != 204 {
		t.Errorf("11.11.0 must serve jcds/refresh-inventory: %d", st)
	}
	if st := call("POST", "/api/v1/cloud-distribution-point/refresh-inventory"); st != 404 {
		t.Errorf("11.11.0 must not serve cloud-distribution-point/refresh-inventory: %d", st)
	}
	// Three nodes: probes of /healthCheck.html without the cookie go round,
	// each told its node, as Jamf Support's script finds the pods.
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		res, err := http.Head(url + "/healthCheck.html")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		for _, c := range res.Cookies() {
			if c.Name == "APBALANCEID" {
				seen[c.Value] = true
			}
		}
	}
	if len(seen) != 3 {
		t.Errorf("-cluster-nodes 3: APBALANCEID values %v", seen)
	}
	res, err = http.Get(url + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		Version    string
		Categories []struct{ Name string }
		Nodes      []struct{ Cookie string }
	}
	_ = json.NewDecoder(res.Body).Decode(&state)
	res.Body.Close()
	if state.Version != "11.11.0" || len(state.Categories) != 2 || state.Categories[1].Name != "Tools" ||
		len(state.Nodes) != 3 || !strings.HasPrefix(state.Nodes[2].Cookie, "APBALANCEID=") {
		t.Errorf("state %+v", state)
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v; stderr %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if strings.Contains(stderr.String(), "s3cret-pass") {
		t.Error("password in the log")
	}
}

func TestBalanceCookieFlag(t *testing.T) {
	err := run([]string{"-balance-cookie", "SESSIONID"})
	if err == nil || !strings.Contains(err.Error(), "jpro-ingress") {
		t.Errorf("an unknown -balance-cookie: %v", err)
	}
}

func TestPaceFlags(t *testing.T) {
	for _, args := range [][]string{{"-time-scale", "0"}, {"-time-scale", "-2"}, {"-processing-rate", "0"}} {
		if err := run(args); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
