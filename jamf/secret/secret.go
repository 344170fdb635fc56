// Package secret keeps secrets out of logs, errors and output.
//
// Every value that must never be shown (passwords, client secrets, bearer
// tokens, AWS keys and session tokens) is registered here the moment it is
// read or received. Log output passes through Writer, and error messages
// through Scrub, so a secret that slips into a message by accident is masked
// rather than printed. Code still avoids formatting secrets in the first
// place; this is the net below it.
package secret

import (
	"bytes"
	"io"
	"sort"
	"strings"
	"sync"
)

// Mask replaces a registered secret in any scrubbed text.
const Mask = "********"

// minLen keeps short, common strings (an empty password, "1") from being
// masked everywhere they happen to occur.
const minLen = 4

var (
	mu      sync.RWMutex
	secrets []string // longest first, so a secret containing another is masked whole
)

// Register records values that must never appear in output.
func Register(values ...string) {
	mu.Lock()
	defer mu.Unlock()
	for _, v := range values {
		if len(v) < minLen || contains(secrets, v) {
			continue
		}
		secrets = append(secrets, v)
	}
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// Scrub returns s with every registered secret masked.
func Scrub(s string) string {
	mu.RLock()
	defer mu.RUnlock()
	for _, v := range secrets {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}

// ScrubBytes is Scrub for byte slices; it returns b itself when nothing matched.
func ScrubBytes(b []byte) []byte {
	mu.RLock()
	defer mu.RUnlock()
	for _, v := range secrets {
		if bytes.Contains(b, []byte(v)) {
			b = bytes.ReplaceAll(b, []byte(v), []byte(Mask))
		}
	}
	return b
}

// Writer masks registered secrets in everything written through it. It
// assumes each Write carries whole lines or records, as zerolog's writers
// and the progress reporter do, so a secret is never split across writes.
func Writer(w io.Writer) io.Writer { return &scrubWriter{w: w} }

type scrubWriter struct{ w io.Writer }

func (s *scrubWriter) Write(p []byte) (int, error) {
	if _, err := s.w.Write(ScrubBytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Reset forgets all registered secrets; tests use it between cases.
func Reset() {
	mu.Lock()
	secrets = nil
	mu.Unlock()
}
