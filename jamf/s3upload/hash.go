package s3upload

import (
	"context"
	"crypto/md5"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// HashSet selects which digests to compute; values combine with |.
type HashSet uint8

// The digests Jamf Pro understands for a package.
const (
	SHA3_512 HashSet = 1 << iota
	SHA512
	MD5
)

func (h HashSet) String() string {
	var names []string
	for _, k := range hashKinds {
		if h&k.set != 0 {
			names = append(names, k.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "+")
}

// Sums holds lowercase hex digests; a digest not asked for is "".
type Sums struct{ SHA3_512, SHA512, MD5 string }

var hashKinds = []struct {
	set  HashSet
	name string
	new  func() hash.Hash
	put  func(*Sums, string)
}{
	{SHA3_512, "SHA3-512", func() hash.Hash { return sha3.New512() }, func(s *Sums, v string) { s.SHA3_512 = v }},
	{SHA512, "SHA-512", sha512.New, func(s *Sums, v string) { s.SHA512 = v }},
	{MD5, "MD5", md5.New, func(s *Sums, v string) { s.MD5 = v }},
}

// Hashing runs one goroutine per digest so a pass costs the time of the
// slowest digest, not the sum of all. Data is copied into a few slots owned
// by the pipeline: the caller's buffer may be reused as soon as Write
// returns, and the slots let the digests lag the reader a little without
// stalling it on every read.
const (
	hashSlotSize = 256 << 10
	hashSlots    = 4
)

type hashSlot struct {
	buf     []byte
	n       int
	pending atomic.Int32
}

type hashWorker struct {
	put func(*Sums, string)
	h   hash.Hash
	in  chan *hashSlot
}

type hashPipeline struct {
	workers []*hashWorker
	free    chan *hashSlot
	wg      sync.WaitGroup
	done    bool
}

func newHashPipeline(which HashSet) *hashPipeline {
	p := &hashPipeline{}
	for _, k := range hashKinds {
		if which&k.set != 0 {
			p.workers = append(p.workers, &hashWorker{put: k.put, h: k.new(), in: make(chan *hashSlot, hashSlots)})
		}
	}
	if len(p.workers) == 0 {
		return p
	}
	p.free = make(chan *hashSlot, hashSlots)
	for i := 0; i < hashSlots; i++ {
		p.free <- &hashSlot{buf: make([]byte, hashSlotSize)}
	}
	for _, w := range p.workers {
		p.wg.Add(1)
		go func(w *hashWorker) {
			defer p.wg.Done()
			for s := range w.in {
				w.h.Write(s.buf[:s.n])
				if s.pending.Add(-1) == 0 {
					p.free <- s
				}
			}
		}(w)
	}
	return p
}

// Write feeds b to every digest. It never fails.
func (p *hashPipeline) Write(b []byte) (int, error) {
	if len(p.workers) == 0 {
		return len(b), nil
	}
	if p.done {
		return 0, errors.New("hash pipeline already closed")
	}
	total := len(b)
	for len(b) > 0 {
		s := <-p.free
		s.n = copy(s.buf, b)
		b = b[s.n:]
		s.pending.Store(int32(len(p.workers)))
		for _, w := range p.workers {
			w.in <- s
		}
	}
	return total, nil
}

// close stops the workers and waits for them to digest everything written.
func (p *hashPipeline) close() {
	if p.done {
		return
	}
	p.done = true
	for _, w := range p.workers {
		close(w.in)
	}
	p.wg.Wait()
}

// Sums finishes the pass and returns the digests.
func (p *hashPipeline) Sums() Sums {
	p.close()
	var s Sums
	for _, w := range p.workers {
		w.put(&s, hex.EncodeToString(w.h.Sum(nil)))
	}
	return s
}

// HashFile computes the selected digests of the file at path in one
// sequential read, reporting progress to p (which may be nil). It returns the
// digests and the number of bytes read.
func HashFile(ctx context.Context, path string, which HashSet, p *Progress) (Sums, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return Sums{}, 0, fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	sums, n, err := hashReader(ctx, f, which, p)
	if err != nil {
		return Sums{}, n, fmt.Errorf("hash %s: %w", path, err)
	}
	return sums, n, nil
}

// hashReader digests r up to end of file in reads of one slot.
func hashReader(ctx context.Context, r io.Reader, which HashSet, p *Progress) (Sums, int64, error) {
	hp := newHashPipeline(which)
	defer hp.close()
	buf := make([]byte, hashSlotSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return Sums{}, n, err
		}
		m, err := r.Read(buf)
		if m > 0 {
			_, _ = hp.Write(buf[:m])
			n += int64(m)
			p.Add(int64(m))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return Sums{}, n, err
		}
	}
	return hp.Sums(), n, nil
}

// Hasher computes the selected digests of bytes as they stream past (an
// upload that reads the file once), with the same pipeline as HashFile. It
// may be written from another goroutine than the one that finishes it: an
// HTTP transport may still be copying a request body when the response of
// a failed try is already in. Bytes written after Sums or Close are
// dropped, so each try of a request gets its own Hasher.
type Hasher struct {
	mu     sync.Mutex
	p      *hashPipeline
	closed bool
}

// NewHasher starts a pass over the digests in which.
func NewHasher(which HashSet) *Hasher {
	return &Hasher{p: newHashPipeline(which)}
}

// Write feeds b to every digest. It never fails.
func (h *Hasher) Write(b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return len(b), nil
	}
	return h.p.Write(b)
}

// Sums finishes the pass and returns the digests.
func (h *Hasher) Sums() Sums {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	return h.p.Sums()
}

// Close ends the pass without a result; it is safe after Sums.
func (h *Hasher) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.p.close()
}
