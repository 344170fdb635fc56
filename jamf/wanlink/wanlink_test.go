package wanlink

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// echoServer answers each connection by echoing what it reads.
func echoServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return l.Addr().String()
}

func startProxy(t *testing.T, p Profile) *Proxy {
	t.Helper()
	px, err := Listen("127.0.0.1:0", echoServer(t), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	return px
}

// roundTrip sends data and reads the echo back, returning the time taken.
func roundTrip(t *testing.T, addr string, data []byte) time.Duration {
	t.Helper()
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := c.Write(data); err != nil {
			t.Error(err)
		}
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("echo differs: %d bytes back, %d sent", len(got), len(data))
	}
	return time.Since(start)
}

func TestProxyCarriesBytesIntact(t *testing.T) {
	data := make([]byte, 3<<20+17)
	_, _ = rand.Read(data)
	for _, p := range []Profile{{}, {Delay: time.Millisecond, ConnRate: Mbps(2000), LinkRate: Mbps(4000)}} {
		px := startProxy(t, p)
		roundTrip(t, px.Addr(), data)
		if c := px.Counts(); c.Connections != 1 {
			t.Errorf("%v: %d connections counted", p, c.Connections)
		}
	}
}

// Lower bounds only: the model must add at least what it promises. A
// connection, a request and its answer cross the path three times one way
// (handshake, request, reply) plus once back for the handshake.
func TestProxyAddsDelay(t *testing.T) {
	px := startProxy(t, Profile{Delay: 40 * time.Millisecond})
	if d := roundTrip(t, px.Addr(), []byte("ping")); d < 4*40*time.Millisecond {
		t.Errorf("round trip took %v, want at least 160ms", d)
	}
}

func TestProxyCapsConnectionRate(t *testing.T) {
	const size = 400 << 10
	px := startProxy(t, Profile{ConnRate: 2 << 20}) // 2 MiB/s each way
	d := roundTrip(t, px.Addr(), make([]byte, size))
	// Both directions run at once, so the echo needs size/rate, not twice.
	if want := time.Duration(float64(size) / float64(2<<20) * float64(time.Second)); d < want*9/10 {
		t.Errorf("%d bytes took %v at 2 MiB/s, want at least %v", size, d, want)
	}
}

// Two connections share the link: together they take as long as one would
// alone with both payloads.
func TestProxySharesLink(t *testing.T) {
	const size = 300 << 10
	px := startProxy(t, Profile{LinkRate: 2 << 20})
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			roundTrip(t, px.Addr(), make([]byte, size))
		}()
	}
	wg.Wait()
	if d, want := time.Since(start), time.Duration(float64(2*size)/float64(2<<20)*float64(time.Second)); d < want*9/10 {
		t.Errorf("two connections took %v on a 2 MiB/s link, want at least %v", d, want)
	}
}

// A small window limits a connection to one window per round trip, as a
// receiver without window scaling does.
func TestProxyWindowLimits(t *testing.T) {
	const size = 256 << 10
	px := startProxy(t, Profile{Delay: 10 * time.Millisecond, MaxWindow: 64 << 10})
	// 4 windows each way, each needing a round trip (20 ms).
	if d := roundTrip(t, px.Addr(), make([]byte, size)); d < 4*20*time.Millisecond {
		t.Errorf("%d bytes with a 64 KiB window and 20 ms RTT took %v, want at least 80ms", size, d)
	}
}

func TestProfileString(t *testing.T) {
	p := Profile{Delay: 30 * time.Millisecond, ConnRate: Mbps(80), LinkRate: Mbps(1000)}
	if got, want := p.String(), "delay 30ms each way, 80 Mbit/s per connection, 1000 Mbit/s link, window 4096 KiB"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if (Profile{}).Enabled() || !p.Enabled() {
		t.Error("Enabled wrong")
	}
}
