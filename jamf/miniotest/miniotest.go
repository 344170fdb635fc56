// Package miniotest starts a real MinIO server on loopback for tests and
// benchmarks. The MinIO binary is installed by .ci/run (make tools); when it
// is missing, tests skip locally but fail under CI so a broken install step
// cannot hide behind green runs.
package miniotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Version is the pinned MinIO server version; .ci/run and the Makefile
// install exactly this one.
const Version = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Server is a running MinIO instance.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string // root user
	SecretKey string // root password
	Dir       string
	cmd       *exec.Cmd
	done      chan struct{}
}

// BinaryPath returns where the pinned MinIO binary lives: $MINIO_BIN when
// set, else the tools cache that `make tools` fills.
func BinaryPath() string {
	if p := os.Getenv("MINIO_BIN"); p != "" {
		return p
	}
	return filepath.Join(ToolsDir(), "minio-"+Version, "minio")
}

// ToolsDir is the cache for tools built by `make tools`: the Makefile's
// TOOLS_DIR, $JCDS2_TOOLS_DIR or ~/.cache/jcds2-tools on every platform
// (the CI workflows cache that folder). Not os.UserCacheDir, which on
// macOS is ~/Library/Caches, where `make tools` never builds.
func ToolsDir() string {
	if d := os.Getenv("JCDS2_TOOLS_DIR"); d != "" {
		return d
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "jcds2-tools")
	}
	return filepath.Join(os.TempDir(), "jcds2-tools")
}

// Start launches MinIO for the test and stops it when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := BinaryPath()
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("MinIO binary missing at %s (run `make tools`): %v", bin, err)
		}
		tb.Skipf("MinIO binary missing at %s; run `make tools`", bin)
	}
	s, err := StartServer(context.Background(), bin, tb.TempDir())
	if err != nil {
		tb.Fatalf("start MinIO: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// StartServer launches MinIO serving dir and waits until it answers.
func StartServer(ctx context.Context, bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	consolePort, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", port),
		AccessKey: "minioadmin-" + randHex(4),
		SecretKey: "miniosecret-" + randHex(12),
		Dir:       dir,
		done:      make(chan struct{}),
	}
	cmd := exec.Command(bin, "server", "--quiet",
		"--address", fmt.Sprintf("127.0.0.1:%d", port),
		"--console-address", fmt.Sprintf("127.0.0.1:%d", consolePort),
		filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1",
	)
	logf, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s.cmd = cmd
	go func() { _ = cmd.Wait(); logf.Close(); close(s.done) }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		// health/ready answers before the object layer is initialised (S3
		// and STS then say 503 "Server not initialized"); the cluster check
		// waits for write quorum, which comes after.
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/minio/health/cluster", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "minio.log"))
			return nil, fmt.Errorf("MinIO exited early: %s", strings.TrimSpace(string(log)))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("MinIO did not become ready at %s within 60s", s.Endpoint)
		}
	}
}

// Stop ends the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	if runtime.GOOS == "windows" {
		_ = s.cmd.Process.Kill()
	} else {
		_ = s.cmd.Process.Signal(os.Interrupt)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
