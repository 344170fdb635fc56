package s3upload

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestHashFileKnownVectors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		which   HashSet
		want    Sums
	}{
		{"empty, all", "", SHA3_512 | SHA512 | MD5, Sums{
			SHA3_512: "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a615b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26",
			SHA512:   "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
			MD5:      "d41d8cd98f00b204e9800998ecf8427e",
		}},
		{"abc, all", "abc", SHA3_512 | SHA512 | MD5, Sums{
			SHA3_512: "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0",
			SHA512:   "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
			MD5:      "900150983cd24fb0d6963f7d28e17f72",
		}},
		{"abc, SHA3 only", "abc", SHA3_512, Sums{
			SHA3_512: "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0",
		}},
		{"abc, MD5 only", "abc", MD5, Sums{MD5: "900150983cd24fb0d6963f7d28e17f72"}},
		{"abc, none", "abc", 0, Sums{}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "f"+string(rune('a'+i)))
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, n, err := HashFile(context.Background(), path, tt.which, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || n != int64(len(tt.content)) {
				t.Fatalf("HashFile = %+v, %d; want %+v, %d", got, n, tt.want, len(tt.content))
			}
		})
	}
}

// Sizes around the pipeline's slot size catch off-by-one slicing.
func TestHashFileMatchesDirectComputation(t *testing.T) {
	for _, size := range []int{1, hashSlotSize - 1, hashSlotSize, hashSlotSize + 1, 5*hashSlotSize + 12345} {
		path, data := writeTestFile(t, size, uint64(size))
		p := newProgress(&lockedBuffer{}, "hash", int64(size), false, lineInterval, nowFunc())
		got, n, err := HashFile(context.Background(), path, SHA3_512|SHA512|MD5, p)
		p.Done()
		if err != nil {
			t.Fatal(err)
		}
		if want := directSums(data); got != want || n != int64(size) {
			t.Fatalf("size %d: got %+v (%d bytes), want %+v", size, got, n, want)
		}
		if p.n.Load() != int64(size) {
			t.Errorf("size %d: progress counted %d", size, p.n.Load())
		}
	}
}

func TestHashFileErrors(t *testing.T) {
	if _, _, err := HashFile(context.Background(), filepath.Join(t.TempDir(), "missing.pkg"), MD5, nil); err == nil {
		t.Error("missing file: no error")
	}
	path, _ := writeTestFile(t, 1000, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := HashFile(ctx, path, MD5, nil); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestHashSetString(t *testing.T) {
	tests := map[HashSet]string{0: "none", MD5: "MD5", SHA3_512 | MD5: "SHA3-512+MD5", SHA3_512 | SHA512 | MD5: "SHA3-512+SHA-512+MD5"}
	for h, want := range tests {
		if got := h.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", h, got, want)
		}
	}
}

// A Hasher gives HashFile's digests, and drops bytes written after it
// finished (a request body still being copied out after a failed try).
func TestHasher(t *testing.T) {
	data := bytes.Repeat([]byte("jcds2"), 200000)
	h := NewHasher(SHA3_512 | SHA512 | MD5)
	for b := data; len(b) > 0; b = b[min(len(b), 4096):] {
		h.Write(b[:min(len(b), 4096)])
	}
	got := h.Sums()
	want, _, err := hashReader(context.Background(), bytes.NewReader(data), SHA3_512|SHA512|MD5, nil)
	if err != nil || got != want {
		t.Errorf("Hasher = %+v, HashFile's %+v (%v)", got, want, err)
	}
	if n, err := h.Write([]byte("late")); n != 4 || err != nil {
		t.Errorf("late write = %d, %v", n, err)
	}
	h.Close()
	closed := NewHasher(MD5)
	closed.Close()
	if n, err := closed.Write(data); n != len(data) || err != nil {
		t.Errorf("write after Close = %d, %v", n, err)
	}
}
