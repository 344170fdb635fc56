// Package plistio speaks the property-list protocol AutoPkg uses for a
// processor run as a separate program: the environment dictionary arrives on
// standard input (XML or binary plist) or as key=value arguments, and the
// whole environment goes back out as an XML plist on standard output.
package plistio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"howett.net/plist"
)

// Env is an AutoPkg environment. Values keep the types the plist decoder
// produced (string, uint64, int64, float64, bool, time.Time, []byte,
// []any, map[string]any) so keys the processor does not own go back out
// exactly as they came in.
type Env map[string]any

// maxInput bounds what we read: an AutoPkg environment is kilobytes, and a
// runaway producer must not exhaust memory.
const maxInput = 64 << 20

// Decode parses an XML or binary property list whose root is a dictionary.
// Other formats that the plist library understands (OpenStep, GNUstep) are
// refused because AutoPkg never sends them, and accepting them would turn
// arbitrary text into a "valid" environment.
func Decode(data []byte) (Env, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("no input: expected the AutoPkg environment as a property list on standard input (or key=value arguments, or -input FILE)")
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if !bytes.HasPrefix(trimmed, []byte("bplist")) && !bytes.HasPrefix(trimmed, []byte("<")) {
		return nil, fmt.Errorf("input is not an XML or binary property list (it starts with %q)", head(trimmed))
	}
	if err := checkShape(data); err != nil {
		return nil, err
	}
	var root any
	format, err := plist.Unmarshal(data, &root)
	if err != nil {
		return nil, fmt.Errorf("input is not a valid property list: %v", trimPlistError(err))
	}
	if format != plist.XMLFormat && format != plist.BinaryFormat {
		return nil, errors.New("input is not an XML or binary property list")
	}
	dict, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("property list root is %s, expected a dictionary of environment keys", TypeName(root))
	}
	for k, v := range dict {
		if err := checkDates(v); err != nil {
			return nil, fmt.Errorf("input %s: %w", k, err)
		}
		dict[k] = normalize(v)
	}
	return Env(dict), nil
}

// normalize gives decoded values the form they keep when written back and
// read again, as AutoPkg's Python reads them. Dates are rounded to the
// millisecond: a binary plist stores a date as float64 seconds since 2001,
// so its nanoseconds are noise of the conversion; milliseconds survive, for
// every year checkDates lets through. A binary plist's 4-byte real is a float64,
// as Python's float is.
func normalize(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.Round(time.Millisecond)
	case float32:
		return float64(x)
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	}
	return v
}

// checkDates refuses a date outside the years 1700 to 2200. AutoPkg's own
// dates are recent; the plist library writes a binary date through int64
// nanoseconds (years 1678 to 2262 only) and would send a farther one back
// as another date, and Python's datetime stops at 9999 anyway. Depth is
// bounded by checkShape.
func checkDates(v any) error {
	switch x := v.(type) {
	case time.Time:
		if y := x.Year(); y < 1700 || y > 2200 {
			return fmt.Errorf("date in the year %d: only dates from 1700 to 2200 can be passed back to AutoPkg unchanged", y)
		}
	case []any:
		for _, e := range x {
			if err := checkDates(e); err != nil {
				return err
			}
		}
	case map[string]any:
		for _, e := range x {
			if err := checkDates(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func head(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	return string(b)
}

func trimPlistError(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "plist: ")
	return msg
}

// Read decodes the environment from r.
func Read(r io.Reader) (Env, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("read property list: %w", err)
	}
	if len(data) > maxInput {
		return nil, fmt.Errorf("property list is larger than %d MiB; is this really an AutoPkg environment?", maxInput>>20)
	}
	return Decode(data)
}

// ReadFile decodes the environment from a file; "-" means standard input.
func ReadFile(name string, stdin io.Reader) (Env, error) {
	if name == "-" {
		return Read(stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open input plist: %w", err)
	}
	defer f.Close()
	env, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return env, nil
}

// FromArgs builds an environment from key=value arguments, as AutoPkg's
// Processor.parse_arguments does: every value is a string, the first "="
// separates key from value, and an argument without "=" is an error.
func FromArgs(args []string) (Env, error) {
	env := Env{}
	for _, arg := range args {
		key, value, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, fmt.Errorf("illegal argument %q: arguments must be key=value", arg)
		}
		if key == "" {
			return nil, fmt.Errorf("illegal argument %q: the key before \"=\" is empty", arg)
		}
		env[key] = value
	}
	return env, nil
}

// Encode renders the environment as an XML property list. Keys whose value
// is nil are left out, as AutoPkg does for None. XML cannot carry some
// characters (NUL and most control characters, invalid UTF-8) nor a date's
// fraction of a second, which a binary plist from AutoPkg may hold; rather than mangle or drop such a value, the
// whole environment is then written as a binary plist, which AutoPkg and the
// shim read just as well.
func Encode(env Env) ([]byte, error) {
	out := make(map[string]any, len(env))
	format := plist.XMLFormat
	for k, v := range env {
		if v == nil {
			continue
		}
		out[k] = v
		if !xmlSafe(k) || !xmlSafeValue(v) {
			format = plist.BinaryFormat
		}
	}
	if format == plist.BinaryFormat {
		data, err := plist.Marshal(out, plist.BinaryFormat)
		if err == nil {
			return data, nil
		}
		// The binary encoder has limits of its own (it cannot write NaN).
		// Rather than fail a run whose upload already happened, write XML
		// without the keys XML cannot carry: the shim then keeps AutoPkg's
		// own values for them.
		for k, v := range out {
			if !xmlSafe(k) || !xmlSafeValue(v) {
				delete(out, k)
			}
		}
	}
	data, err := plist.MarshalIndent(out, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("encode output plist: %w", err)
	}
	return append(data, '\n'), nil
}

// Write encodes env to w in one write, so a reader never sees half a plist.
func Write(w io.Writer, env Env) error {
	data, err := Encode(env)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write output plist: %w", err)
	}
	return nil
}

// WriteFile writes env to a file atomically; "-" means w.
func WriteFile(name string, w io.Writer, env Env) error {
	if name == "-" || name == "" {
		return Write(w, env)
	}
	data, err := Encode(env)
	if err != nil {
		return err
	}
	// The temporary file gets a fresh, exclusively created name in the
	// target's folder (so the rename stays on one file system): a fixed
	// name such as FILE.tmp could be a symlink planted by another user,
	// and writing through it would overwrite whatever it points at.
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write output plist: %w", err)
	}
	tmp := f.Name()
	err = f.Chmod(0o644)
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write output plist: %w", err)
	}
	return nil
}

func xmlSafeValue(v any) bool {
	switch x := v.(type) {
	case string:
		return xmlSafe(x)
	case []any:
		for _, item := range x {
			if !xmlSafeValue(item) {
				return false
			}
		}
	case map[string]any:
		for k, item := range x {
			if !xmlSafe(k) || !xmlSafeValue(item) {
				return false
			}
		}
	case time.Time:
		// An XML date has whole seconds only.
		return x.Nanosecond() == 0
	}
	return true
}

// xmlSafe reports whether s can be written as XML 1.0 character data and
// read back unchanged.
func xmlSafe(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n':
		case r == '\r': // XML parsers normalise CR and CRLF to LF
			return false
		case r < 0x20, r == 0xFFFE, r == 0xFFFF:
			return false
		}
	}
	return true
}
