package plistio

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"howett.net/plist"
)

// FuzzDecode checks that no input makes the decoder panic, and that
// whatever it accepts survives our encoder and decodes to the same value.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.plist"))
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		// Binary twin of each seed, so both decoders are explored.
		if env, err := Decode(data); err == nil {
			if bin, err := plist.Marshal(map[string]any(env), plist.BinaryFormat); err == nil {
				f.Add(bin)
			}
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("bplist00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		timer := time.AfterFunc(3*time.Second, func() { panic(fmt.Sprintf("Decode took over 3s on %q", data)) })
		defer timer.Stop()
		env, err := Decode(data)
		if err != nil {
			return
		}
		if !validUTF8(env) {
			// AutoPkg's environment is Python str values, always valid
			// Unicode; a binary plist can claim otherwise, and such
			// strings come back with replacement characters.
			return
		}
		if hasNaN(env) {
			// NaN equals nothing, not even itself, and the binary encoder
			// cannot write it: Encode then drops the keys XML cannot carry,
			// as documented, so there is no round trip to check.
			return
		}
		out, err := Encode(env)
		if err != nil {
			// Some accepted values cannot be re-encoded (e.g. invalid UTF-8
			// keys); that must be an error, never a panic.
			return
		}
		back, err := Decode(out)
		if err != nil {
			t.Fatalf("our own output does not decode: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(dropNil(env), back) {
			t.Fatalf("re-encode changed the environment:\n in %#v\nout %#v", env, back)
		}
	})
}

func dropNil(env Env) Env {
	out := Env{}
	for k, v := range env {
		if v != nil {
			out[k] = v
		}
	}
	return out
}

func validUTF8(v any) bool {
	switch x := v.(type) {
	case string:
		return utf8.ValidString(x)
	case []any:
		for _, item := range x {
			if !validUTF8(item) {
				return false
			}
		}
	case Env:
		return validUTF8(map[string]any(x))
	case map[string]any:
		for k, item := range x {
			if !utf8.ValidString(k) || !validUTF8(item) {
				return false
			}
		}
	}
	return true
}

func hasNaN(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.IsNaN(x)
	case float32:
		return math.IsNaN(float64(x))
	case []any:
		for _, item := range x {
			if hasNaN(item) {
				return true
			}
		}
	case Env:
		return hasNaN(map[string]any(x))
	case map[string]any:
		for _, item := range x {
			if hasNaN(item) {
				return true
			}
		}
	}
	return false
}
