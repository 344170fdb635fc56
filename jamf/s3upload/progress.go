package s3upload

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
)

// Progress reports how far a transfer has come. On a terminal it redraws a
// bar a few times a second; anywhere else (CI logs, AutoPkg's captured
// stderr) it writes a plain line every few seconds, so long uploads show
// they are alive without flooding the log. Add may be called from many
// goroutines at once. A nil *Progress is valid and reports nothing.
type Progress struct {
	w        io.Writer
	label    string
	total    int64
	tty      bool
	interval time.Duration
	now      func() time.Time
	start    time.Time

	n    atomic.Int64
	mu   sync.Mutex // serialises writes to w
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

const (
	ttyInterval  = 200 * time.Millisecond
	lineInterval = 5 * time.Second
	barWidth     = 30
)

// NewProgress starts reporting a transfer of total bytes (0 or less when
// unknown) to w, which should be standard error, never standard output. Call
// Done when the transfer ends. A nil w gives a nil *Progress.
func NewProgress(w io.Writer, label string, total int64) *Progress {
	if w == nil {
		return nil
	}
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
	}
	interval := lineInterval
	if tty {
		interval = ttyInterval
	}
	return newProgress(w, label, total, tty, interval, time.Now)
}

func newProgress(w io.Writer, label string, total int64, tty bool, interval time.Duration, now func() time.Time) *Progress {
	p := &Progress{w: w, label: label, total: total, tty: tty, interval: interval, now: now, start: now(), stop: make(chan struct{})}
	p.wg.Add(1)
	go p.loop()
	return p
}

func (p *Progress) loop() {
	defer p.wg.Done()
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.write(p.render(p.now(), false))
		}
	}
}

// Add records n more bytes transferred.
func (p *Progress) Add(n int64) {
	if p == nil {
		return
	}
	p.n.Add(n)
}

// Wrap returns a reader that counts what is read through it.
func (p *Progress) Wrap(r io.Reader) io.Reader {
	if p == nil {
		return r
	}
	return &progressReader{r: r, p: p}
}

// Done stops the reports and writes a closing summary. It is safe to call
// more than once.
func (p *Progress) Done() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
		p.write(p.render(p.now(), true))
	})
}

func (p *Progress) write(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = io.WriteString(p.w, s)
}

// render formats the state at time now. final marks the closing report.
func (p *Progress) render(now time.Time, final bool) string {
	n := p.n.Load()
	elapsed := now.Sub(p.start)
	var rate float64
	if elapsed > 0 {
		rate = float64(n) / elapsed.Seconds()
	}
	if p.tty {
		return p.renderBar(n, rate, elapsed, final)
	}
	if final {
		return fmt.Sprintf("%s: %s in %s (%s/s)\n", p.label, formatBytes(n), formatDuration(elapsed), formatBytes(int64(rate)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", p.label, formatBytes(n))
	if p.total > 0 {
		fmt.Fprintf(&b, " of %s (%d%%)", formatBytes(p.total), percent(n, p.total))
	}
	fmt.Fprintf(&b, ", %s/s", formatBytes(int64(rate)))
	if left, ok := timeLeft(n, p.total, rate); ok {
		fmt.Fprintf(&b, ", %s left", formatDuration(left))
	}
	b.WriteString("\n")
	return b.String()
}

func (p *Progress) renderBar(n int64, rate float64, elapsed time.Duration, final bool) string {
	var b strings.Builder
	b.WriteString("\r\x1b[K")
	b.WriteString(p.label)
	if p.total > 0 {
		filled := int(int64(barWidth) * min(n, p.total) / p.total)
		fmt.Fprintf(&b, " [%s%s] %3d%%", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), percent(n, p.total))
		fmt.Fprintf(&b, " %s/%s", formatBytes(n), formatBytes(p.total))
	} else {
		fmt.Fprintf(&b, " %s", formatBytes(n))
	}
	fmt.Fprintf(&b, " %s/s", formatBytes(int64(rate)))
	if final {
		fmt.Fprintf(&b, " in %s\n", formatDuration(elapsed))
	} else if left, ok := timeLeft(n, p.total, rate); ok {
		fmt.Fprintf(&b, " %s left", formatDuration(left))
	}
	return b.String()
}

func percent(n, total int64) int64 {
	if total <= 0 {
		return 0
	}
	return min(n, total) * 100 / total
}

func timeLeft(n, total int64, rate float64) (time.Duration, bool) {
	if total <= 0 || rate <= 0 || n >= total {
		return 0, false
	}
	return time.Duration(float64(total-n) / rate * float64(time.Second)), true
}

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= unit
		if v < unit || u == "TiB" {
			return fmt.Sprintf("%.1f %s", v, u)
		}
	}
	return "" // unreachable: the loop always returns at TiB
}

func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h := d / time.Hour
	m := (d % time.Hour) / time.Minute
	s := (d % time.Minute) / time.Second
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	default:
		return fmt.Sprintf("%ds", s)
	}
}

type progressReader struct {
	r io.Reader
	p *Progress
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.Add(int64(n))
	return n, err
}
