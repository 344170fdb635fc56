package s3upload

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func nowFunc() func() time.Time { return func() time.Time { return epoch } }

func TestProgressRender(t *testing.T) {
	tests := []struct {
		name  string
		tty   bool
		total int64
		done  int64
		after time.Duration
		final bool
		want  string
	}{
		{"line, start", false, 6 * gib, 0, 0, false, "upload a.pkg: 0 B of 6.0 GiB (0%), 0 B/s\n"},
		{"line, midway", false, 6 * gib, 3 * gib, 30 * time.Second, false, "upload a.pkg: 3.0 GiB of 6.0 GiB (50%), 102.4 MiB/s, 30s left\n"},
		{"line, long", false, 100 * gib, 10 * gib, 100 * time.Second, false, "upload a.pkg: 10.0 GiB of 100.0 GiB (10%), 102.4 MiB/s, 15m00s left\n"},
		{"line, hours", false, 1024 * gib, gib, 100 * time.Second, false, "upload a.pkg: 1.0 GiB of 1.0 TiB (0%), 10.2 MiB/s, 28h25m00s left\n"},
		{"line, unknown total", false, 0, 1500, 1 * time.Second, false, "upload a.pkg: 1.5 KiB, 1.5 KiB/s\n"},
		{"line, final", false, gib, gib, 8 * time.Second, true, "upload a.pkg: 1.0 GiB in 8s (128.0 MiB/s)\n"},
		{"bar, midway", true, 4 * gib, gib, 10 * time.Second, false,
			"\r\x1b[Kupload a.pkg [#######.......................]  25% 1.0 GiB/4.0 GiB 102.4 MiB/s 30s left"},
		{"bar, final", true, 4 * gib, 4 * gib, 40 * time.Second, true,
			"\r\x1b[Kupload a.pkg [##############################] 100% 4.0 GiB/4.0 GiB 102.4 MiB/s in 40s\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Progress{label: "upload a.pkg", total: tt.total, tty: tt.tty, start: epoch}
			p.Add(tt.done)
			if got := p.render(epoch.Add(tt.after), tt.final); got != tt.want {
				t.Errorf("render =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// The reporter writes lines on its own while parts are added from many
// goroutines, and a summary at Done; run with -race.
func TestProgressConcurrentLines(t *testing.T) {
	var out lockedBuffer
	p := newProgress(&out, "upload b.pkg", 64*1000, false, 5*time.Millisecond, time.Now)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := p.Wrap(strings.NewReader(strings.Repeat("x", 8000)))
			buf := make([]byte, 100)
			for {
				if _, err := r.Read(buf); err == io.EOF {
					return
				}
			}
		}()
	}
	wg.Wait()
	time.Sleep(30 * time.Millisecond)
	p.Done()
	p.Done() // a second Done is harmless
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("want periodic lines and a summary, got %q", out.String())
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, "upload b.pkg: ") || !strings.Contains(l, " of 62.5 KiB (") {
			t.Errorf("bad progress line %q", l)
		}
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "upload b.pkg: 62.5 KiB in ") {
		t.Errorf("bad summary %q", last)
	}
}

func TestProgressNil(t *testing.T) {
	var p *Progress
	p.Add(5)
	p.Done()
	r := strings.NewReader("x")
	if p.Wrap(r) != io.Reader(r) {
		t.Error("nil Progress must return the reader unchanged")
	}
	if NewProgress(nil, "x", 1) != nil {
		t.Error("nil writer must give a nil Progress")
	}
}

// A writer that is not a terminal gets plain lines, never escape codes.
func TestNewProgressNotTTY(t *testing.T) {
	var out lockedBuffer
	p := NewProgress(&out, "up", 10)
	if p.tty || p.interval != lineInterval {
		t.Fatalf("non-terminal writer: tty=%v interval=%v", p.tty, p.interval)
	}
	p.Add(10)
	p.Done()
	if s := out.String(); strings.Contains(s, "\x1b") || !strings.HasPrefix(s, "up: 10 B in ") {
		t.Errorf("summary %q", s)
	}
}
