// Package wanlink puts a wide-area path between TCP clients and a server on
// loopback, so uploads can be measured as a user far from S3 would see them:
// a one-way delay each way, a bandwidth cap per connection (what one TCP flow
// gets across the internet), a bandwidth cap shared by every connection (the
// user's link), and TCP's congestion window (slow start from 10 segments,
// restarted after idle) so that new connections and short transfers pay
// what they pay on a real path.
//
// A Proxy accepts connections and forwards each to a target address,
// shaping both directions. The model is deliberately simple and
// deterministic: no loss, no jitter, FIFO queues. Each chunk read from one
// side is scheduled through the shared link and then the connection's cap,
// delivered to the other side one delay later, and acknowledged to the
// sender one more delay after that; the sender may have at most one
// congestion window of unacknowledged bytes.
package wanlink

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Profile describes the path.
type Profile struct {
	Delay    time.Duration // one-way delay, added in each direction
	ConnRate int64         // bytes per second per connection and direction; 0 unlimited
	LinkRate int64         // bytes per second shared by all connections, per direction; 0 unlimited
	// MaxWindow bounds a connection's congestion window in bytes; 0 means
	// DefaultMaxWindow. A small value models a receiver without window
	// scaling (64 KiB), which caps each connection at MaxWindow per round
	// trip.
	MaxWindow int
}

const (
	// DefaultMaxWindow is Linux's default largest send buffer (tcp_wmem),
	// well above the bandwidth-delay product of the paths modelled here.
	DefaultMaxWindow = 4 << 20
	// initialWindow is RFC 6928's 10 segments of 1460 bytes.
	initialWindow = 10 * 1460
	// minRTO is Linux's smallest retransmission timeout; a connection idle
	// for longer than that plus one round trip restarts slow start
	// (tcp_slow_start_after_idle, RFC 5681 section 4.1).
	minRTO    = 200 * time.Millisecond
	chunkSize = 64 << 10
)

// Mbps converts megabits per second (10^6 bit/s) to bytes per second.
func Mbps(m float64) int64 { return int64(m * 1e6 / 8) }

// Enabled reports whether the profile shapes anything.
func (p Profile) Enabled() bool {
	return p.Delay > 0 || p.ConnRate > 0 || p.LinkRate > 0 || p.MaxWindow > 0
}

func (p Profile) String() string {
	return fmt.Sprintf("delay %v each way, %.0f Mbit/s per connection, %.0f Mbit/s link, window %d KiB",
		p.Delay, float64(p.ConnRate)*8/1e6, float64(p.LinkRate)*8/1e6, p.window()>>10)
}

func (p Profile) window() int {
	if p.MaxWindow > 0 {
		return p.MaxWindow
	}
	return DefaultMaxWindow
}

// lane is one direction of the shared link: a FIFO server at LinkRate.
type lane struct {
	mu   sync.Mutex
	rate int64
	free time.Time // when the link finishes what it was given so far
}

// pass schedules n bytes that are ready at t and returns when their last
// byte has crossed the link.
func (l *lane) pass(t time.Time, n int) time.Time {
	if l.rate <= 0 {
		return t
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	start := t
	if l.free.After(start) {
		start = l.free
	}
	l.free = start.Add(transmit(n, l.rate))
	return l.free
}

func transmit(n int, rate int64) time.Duration {
	return time.Duration(float64(n) / float64(rate) * float64(time.Second))
}

// Proxy forwards TCP connections through a modelled path.
type Proxy struct {
	l       net.Listener
	target  string
	prof    Profile
	up      *lane // client to target
	down    *lane // target to client
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
	counted Counts
}

// Counts are totals since the proxy started.
type Counts struct {
	Connections        int
	BytesUp, BytesDown int64
}

// Listen starts a proxy on addr (e.g. "127.0.0.1:0") forwarding to target.
func Listen(addr, target string, p Profile) (*Proxy, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wanlink: listen %s: %w", addr, err)
	}
	return Serve(l, target, p), nil
}

// Serve runs a proxy on l forwarding to target until Close.
func Serve(l net.Listener, target string, p Profile) *Proxy {
	px := &Proxy{l: l, target: target, prof: p, up: &lane{rate: p.LinkRate}, down: &lane{rate: p.LinkRate}, conns: map[net.Conn]struct{}{}}
	px.wg.Add(1)
	go px.accept()
	return px
}

// Addr is the proxy's listening address, host:port.
func (px *Proxy) Addr() string { return px.l.Addr().String() }

// Counts returns the traffic so far.
func (px *Proxy) Counts() Counts {
	px.mu.Lock()
	defer px.mu.Unlock()
	return px.counted
}

// Close stops accepting, drops every connection and waits for them.
func (px *Proxy) Close() error {
	px.mu.Lock()
	px.closed = true
	for c := range px.conns {
		_ = c.Close()
	}
	px.mu.Unlock()
	err := px.l.Close()
	px.wg.Wait()
	return err
}

func (px *Proxy) track(cs ...net.Conn) bool {
	px.mu.Lock()
	defer px.mu.Unlock()
	if px.closed {
		return false
	}
	for _, c := range cs {
		px.conns[c] = struct{}{}
	}
	px.counted.Connections++
	return true
}

func (px *Proxy) untrack(cs ...net.Conn) {
	px.mu.Lock()
	defer px.mu.Unlock()
	for _, c := range cs {
		delete(px.conns, c)
	}
}

func (px *Proxy) accept() {
	defer px.wg.Done()
	for {
		c, err := px.l.Accept()
		if err != nil {
			return
		}
		px.wg.Add(1)
		go px.handle(c)
	}
}

func (px *Proxy) handle(client net.Conn) {
	defer px.wg.Done()
	// The handshake crosses the path too: SYN there, SYN-ACK back.
	time.Sleep(2 * px.prof.Delay)
	server, err := net.Dial("tcp", px.target)
	if err != nil {
		_ = client.Close()
		return
	}
	if !px.track(client, server) {
		_ = client.Close()
		_ = server.Close()
		return
	}
	defer px.untrack(client, server)
	var wg sync.WaitGroup
	wg.Add(2)
	var upN, downN int64
	go func() {
		defer wg.Done()
		upN = newPump(px.prof, px.up).run(client, server)
	}()
	go func() {
		defer wg.Done()
		downN = newPump(px.prof, px.down).run(server, client)
	}()
	wg.Wait()
	_ = client.Close()
	_ = server.Close()
	px.mu.Lock()
	px.counted.BytesUp += upN
	px.counted.BytesDown += downN
	px.mu.Unlock()
}

type chunk struct {
	b   []byte
	due time.Time
}

type ack struct {
	at time.Time
	n  int
}

// pump carries one direction of one connection.
type pump struct {
	prof     Profile
	link     *lane
	cwnd     int
	inflight int
	pending  []ack // acknowledgements on their way back, in order
	connFree time.Time
	lastAck  time.Time // when the last acknowledgement came back
}

func newPump(p Profile, link *lane) *pump {
	return &pump{prof: p, link: link, cwnd: min(initialWindow, p.window())}
}

// run copies src to dst through the model until src ends or either side
// fails; it returns the bytes delivered.
func (p *pump) run(src, dst net.Conn) int64 {
	q := make(chan chunk, 4096)
	acks := make(chan ack, 8192)
	writerDone := make(chan struct{})
	var delivered int64
	go func() {
		defer close(writerDone)
		failed := false
		for c := range q {
			if failed {
				continue
			}
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(c.b); err != nil {
				failed = true
				_ = src.Close() // the other side is gone: stop the sender too
				continue
			}
			delivered += int64(len(c.b))
			at := time.Now()
			if at.Before(c.due) {
				at = c.due
			}
			acks <- ack{at: at.Add(p.prof.Delay), n: len(c.b)}
		}
		if !failed {
			if tc, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = tc.CloseWrite()
			} else {
				_ = dst.Close()
			}
		}
	}()
	rto := minRTO + 2*p.prof.Delay
	var timer *time.Timer
	for {
		p.drain(acks)
		room := p.cwnd - p.inflight
		if room <= 0 {
			// Wait for the next acknowledgement to come back.
			wait := time.Hour
			if len(p.pending) > 0 {
				wait = time.Until(p.pending[0].at)
			}
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case a := <-acks:
				p.pending = append(p.pending, a)
			case <-timer.C:
			}
			continue
		}
		buf := make([]byte, min(room, chunkSize))
		n, err := src.Read(buf)
		if n > 0 {
			// Idle means nothing in flight for an RTO since the last
			// acknowledgement; when the application last wrote is no
			// measure, as its bytes may have waited in the queue long after.
			p.drain(acks)
			if p.inflight == 0 && !p.lastAck.IsZero() && time.Since(p.lastAck) > rto {
				p.cwnd = min(initialWindow, p.prof.window())
			}
			p.send(q, buf[:n])
		}
		if err != nil {
			close(q)
			<-writerDone
			if !errors.Is(err, io.EOF) {
				_ = dst.Close()
			}
			return delivered
		}
	}
}

// drain moves acknowledgements that have arrived into the window: each
// acknowledged byte grows the window by one (slow start) up to the maximum.
func (p *pump) drain(acks chan ack) {
	for more := true; more; {
		select {
		case a := <-acks:
			p.pending = append(p.pending, a)
		default:
			more = false
		}
	}
	now := time.Now()
	i := 0
	for ; i < len(p.pending) && !p.pending[i].at.After(now); i++ {
		p.inflight -= p.pending[i].n
		p.cwnd = min(p.cwnd+p.pending[i].n, p.prof.window())
		p.lastAck = p.pending[i].at
	}
	p.pending = p.pending[i:]
}

// send schedules b, read from the sender just now, through the shared link
// and then the connection's cap, and queues it for delivery one delay later.
// The link comes first, as the user's uplink is the first hop and the
// per-connection limit arises further along the path. That order also
// keeps the link work-conserving here: every connection books it at the
// time it reads, so bookings arrive in time order.
func (p *pump) send(q chan chunk, b []byte) {
	t := p.link.pass(time.Now(), len(b))
	if p.prof.ConnRate > 0 {
		if p.connFree.After(t) {
			t = p.connFree
		}
		t = t.Add(transmit(len(b), p.prof.ConnRate))
		p.connFree = t
	}
	p.inflight += len(b)
	q <- chunk{b: b, due: t.Add(p.prof.Delay)}
}
