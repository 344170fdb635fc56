package jamfsim

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/memnet"
)

// Host names of a simulator served in memory (StartInMemory). Each
// simulator's Jamf Pro gets a name of its own: what a client keeps per
// server (the token cache, the upload lock, the journal) must not be
// shared by tests running side by side, as it is not between servers.
const (
	memoryS3Host      = "s3.jamfsim"
	memoryBackendHost = "s3-backend.jamfsim"
)

var memoryServers atomic.Int64

// StartInMemory serves a new simulator, Jamf Pro and its S3 side (the
// in-process backend and the proxy in front of it), on an in-memory
// network instead of loopback sockets, and closes it when the test ends.
// Call it inside a testing/synctest bubble: every request then blocks on
// the bubble's channels, so the fake clock moves whenever client and
// simulator both wait, and minutes of processing, token lifetimes and
// cluster lag pass at once. Clients reach it through net's Transport
// (URL for Jamf Pro, S3Endpoint for S3). opts.S3 must be
// nil: MinIO is a process on the wall clock.
func StartInMemory(tb testing.TB, opts Options) (*Server, *memnet.Network) {
	tb.Helper()
	if opts.S3 != nil {
		tb.Fatalf("jamfsim: StartInMemory serves the in-process S3 only")
	}
	if opts.Contract == nil && !opts.NoContract {
		opts.Contract = tb
	}
	n := &memnet.Network{}
	opts.network = n
	s, err := New(opts)
	if err != nil {
		tb.Fatalf("start jamfsim in memory: %v", err)
	}
	l := n.Listen(fmt.Sprintf("jamf-%d-%d.jamfsim", os.Getpid(), memoryServers.Add(1)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Serve(l); err != nil {
			tb.Errorf("jamfsim: serve in memory: %v", err)
		}
	}()
	tb.Cleanup(func() {
		s.Close()
		_ = n.Close()
		<-done
	})
	// Serve sets the URL; wait for it so URL() is right when this returns.
	for s.URL() == "" {
		time.Sleep(time.Millisecond)
	}
	return s, n
}

// memoryServe serves h on host of the in-memory network, and returns its
// URL; Close stops it.
func (s *Server) memoryServe(host string, h http.Handler) string {
	l := s.opts.network.Listen(host)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	s.memoryServers = append(s.memoryServers, srv)
	go func() { _ = srv.Serve(l) }()
	return "http://" + host
}

// listenS3Proxy opens the listener the S3 proxy serves on: in memory when
// the simulator is, else on loopback.
func (s *Server) listenS3Proxy() (net.Listener, error) {
	if s.opts.network != nil {
		return s.opts.network.Listen(memoryS3Host), nil
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// inMemory points t at the in-memory network when the simulator is served
// there, and returns t.
func (s *Server) inMemory(t *http.Transport) *http.Transport {
	if s.opts.network != nil {
		t.DialContext = s.opts.network.DialContext
	}
	return t
}

// closeMemory stops the in-memory backend; the proxy stops with Close.
func (s *Server) closeMemory() {
	for _, srv := range s.memoryServers {
		_ = srv.Close()
	}
}
