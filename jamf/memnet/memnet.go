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
