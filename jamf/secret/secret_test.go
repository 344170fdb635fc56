package secret

import (
	"bytes"
	"testing"
)

func TestScrub(t *testing.T) {
	Reset()
	t.Cleanup(Reset)
	Register("hunter22", "", "ab", "AKIAEXAMPLEKEY", "AKIAEXAMPLEKEY-longer")
	tests := []struct{ in, want string }{
		{"password=hunter22", "password=" + Mask},
		{"no secret here: ab", "no secret here: ab"},
		{"key AKIAEXAMPLEKEY-longer and AKIAEXAMPLEKEY", "key " + Mask + " and " + Mask},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Scrub(tt.in); got != tt.want {
			t.Errorf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWriter(t *testing.T) {
	Reset()
	t.Cleanup(Reset)
	var buf bytes.Buffer
	w := Writer(&buf)
	Register("tok-abcdef")
	line := []byte("Authorization: Bearer tok-abcdef\n")
	n, err := w.Write(line)
	if err != nil || n != len(line) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(line))
	}
	if got, want := buf.String(), "Authorization: Bearer "+Mask+"\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}
