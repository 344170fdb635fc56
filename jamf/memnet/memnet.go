// Package memnet is an in-memory network for tests: a net.Listener whose
// connections are net.Pipe pairs made by its own DialContext.
//
// A client and a server talking over loopback sockets block on I/O, which
// testing/synctest does not count as durably blocked, so a bubble's fake
// clock would never move while they wait on each other. Over memnet they
// block on channels made inside the bubble, and minutes of simulated
// processing, token lifetimes and cluster lag pass at once.
package memnet

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
)

// Listener accepts the connections its Dial side makes.
type Listener struct {
	addr  addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// Listen returns a listener named name (its address's String, for logs).
// Call it inside the synctest bubble that serves and dials on it.
func Listen(name string) *Listener {
	return &Listener{addr: addr(name), conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next dial.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and refuses further dials.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns the listener's name as an address.
func (l *Listener) Addr() net.Addr { return l.addr }

// DialContext connects to the listener, whatever network and address are
// asked for: a test points every host name it uses at one listener.
func (l *Listener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, errors.Join(net.ErrClosed, client.Close(), server.Close())
	case <-ctx.Done():
		return nil, errors.Join(ctx.Err(), client.Close(), server.Close())
	}
}

// Transport returns an HTTP transport that dials the listener for every
// host. Close its idle connections (or the client's) before a synctest
// bubble ends, or the bubble reports their readers as deadlocked.
func (l *Listener) Transport() *http.Transport {
	return &http.Transport{DialContext: l.DialContext, ForceAttemptHTTP2: false}
}

type addr string

func (addr) Network() string  { return "memnet" }
func (a addr) String() string { return string(a) }

// Network is a set of in-memory listeners reached by host name, so one
// client reaches several servers (a Jamf Pro and its S3 endpoint).
type Network struct {
	mu    sync.Mutex
	hosts map[string]*Listener
}

// Listen returns a listener for host (a name without port); URLs then use
// http://host. Call it inside the synctest bubble that serves on it.
func (n *Network) Listen(host string) *Listener {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.hosts == nil {
		n.hosts = map[string]*Listener{}
	}
	l := Listen(host)
	n.hosts[host] = l
	return l
}

// DialContext connects to the listener of addr's host.
func (n *Network) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	n.mu.Lock()
	l := n.hosts[host]
	n.mu.Unlock()
	if l == nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("memnet: no listener for host " + host)}
	}
	return l.DialContext(ctx, network, address)
}

// Transport returns an HTTP transport that dials the network's listeners
// by host. As with Listener.Transport, close its idle connections (or the
// servers' connections) before the bubble ends.
func (n *Network) Transport() *http.Transport {
	return &http.Transport{DialContext: n.DialContext, ForceAttemptHTTP2: false}
}

// Close closes every listener.
func (n *Network) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, l := range n.hosts {
		_ = l.Close()
	}
	return nil
}
