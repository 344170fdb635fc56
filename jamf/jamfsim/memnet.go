package jamfsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
)

// An in-memory network for Options.InMemory: every listener of the
// simulator (the Jamf Pro API, the S3 proxy, the in-process S3 backend) is
// one of these, and connections to it are net.Pipe pairs. No goroutine of
// the simulator then waits on a socket, so a test whose simulator and
// client both run inside a testing/synctest bubble has every goroutine
// durably blocked whenever it waits, and the bubble's fake clock moves
// through the simulated durations (lag, processing, refreshes, token
// lifetimes) at once.
type memNetwork struct {
	mu        sync.Mutex
	listeners map[string]*memListener
	next      int
}

func newMemNetwork() *memNetwork { return &memNetwork{listeners: map[string]*memListener{}} }

// listen opens a listener on a new address, name-N.jamfsim.mem:80.
func (n *memNetwork) listen(name string) *memListener {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.next++
	addr := fmt.Sprintf("%s-%d.jamfsim.mem:80", name, n.next)
	l := &memListener{nw: n, addr: memAddr(addr), conns: make(chan net.Conn), closed: make(chan struct{})}
	n.listeners[addr] = l
	return l
}

// DialContext connects to a listener of the network by its address.
func (n *memNetwork) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	l := n.listeners[addr]
	n.mu.Unlock()
	if l == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: memAddr(addr), Err: errors.New("connection refused (no in-memory listener)")}
	}
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, &net.OpError{Op: "dial", Net: network, Addr: l.addr, Err: errors.New("connection refused (listener closed)")}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type memListener struct {
	nw     *memNetwork
	addr   memAddr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.nw.mu.Lock()
		delete(l.nw.listeners, string(l.addr))
		l.nw.mu.Unlock()
	})
	return nil
}

func (l *memListener) Addr() net.Addr { return l.addr }

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

// DialContext dials the simulator's network: with Options.InMemory its
// in-memory listeners (URL and S3Endpoint name them), otherwise TCP.
// Clients of an in-memory simulator put it in their http.Transport.
func (s *Server) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if s.mem != nil {
		return s.mem.DialContext(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// HTTPClient is a client that reaches the simulator's Jamf Pro URL and S3
// endpoint, over its in-memory network with Options.InMemory. It keeps no
// cookies; set a Jar to stay on one cluster node.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Transport: s.transport()}
}

func (s *Server) transport() *http.Transport {
	return &http.Transport{Proxy: nil, DialContext: s.DialContext, MaxIdleConnsPerHost: 16, DisableCompression: true}
}
