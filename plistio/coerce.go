package plistio

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// TypeError says which key had which unusable value, so the admin knows
// what to fix in the recipe or override.
type TypeError struct {
	Key  string
	Want string
	Got  any
}

func (e *TypeError) Error() string {
	if s, ok := e.Got.(string); ok {
		return fmt.Sprintf("input %s: expected %s, got string %q", e.Key, e.Want, s)
	}
	return fmt.Sprintf("input %s: expected %s, got %s", e.Key, e.Want, TypeName(e.Got))
}

// TypeName names a decoded plist value's type in plist terms.
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return "string"
	case bool:
		return "boolean"
	case uint64, int64, int, int32, uint32, int8, int16, uint8, uint16, uint:
		return "integer"
	case float64, float32:
		return "real"
	case time.Time:
		return "date"
	case []byte:
		return "data"
	case []any:
		return "array"
	case map[string]any:
		return "dictionary"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// Has reports whether key is present with a non-nil value.
func (e Env) Has(key string) bool { return e[key] != nil }

// String returns a string input. Numbers and booleans are accepted and
// written as AutoPkg would print them, since recipes often give
// pkg_priority as an integer; missing keys give def.
func (e Env) String(key, def string) (string, error) {
	v, ok := e[key]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	if n, ok := toInt64(v); ok {
		return strconv.FormatInt(n, 10), nil
	}
	return "", &TypeError{Key: key, Want: "a string", Got: v}
}

// Bool returns a boolean input with AutoPkg's coercions: a real boolean,
// or a string where true/yes/1 mean true and false/no/0/"" mean false, in
// any case. Integers 0 and 1 are accepted too. Missing means false.
func (e Env) Bool(key string) (bool, error) {
	v, ok := e[key]
	if !ok || v == nil {
		return false, nil
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "yes", "1", "t", "y", "on":
			return true, nil
		case "false", "no", "0", "", "f", "n", "off", "none":
			return false, nil
		}
		return false, &TypeError{Key: key, Want: "a boolean (true/false, yes/no, 1/0)", Got: v}
	}
	if n, ok := toInt64(v); ok && (n == 0 || n == 1) {
		return n == 1, nil
	}
	return false, &TypeError{Key: key, Want: "a boolean (true/false, yes/no, 1/0)", Got: v}
}

// Int returns an integer input from an integer, an integral real or a
// numeric string; missing or empty gives def.
func (e Env) Int(key string, def int) (int, error) {
	v, ok := e[key]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return def, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, &TypeError{Key: key, Want: "an integer", Got: v}
		}
		return n, nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > math.MaxInt32 {
			return 0, &TypeError{Key: key, Want: "an integer", Got: v}
		}
		return int(x), nil
	case bool:
		return 0, &TypeError{Key: key, Want: "an integer", Got: v}
	}
	if n, ok := toInt64(v); ok {
		return int(n), nil
	}
	return 0, &TypeError{Key: key, Want: "an integer", Got: v}
}

// StringList returns an array of strings, or a single string as a one-item
// list (AutoPkg users write RECIPE_SEARCH_DIRS both ways).
func (e Env) StringList(key string) ([]string, error) {
	v, ok := e[key]
	if !ok || v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil, nil
		}
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for i, item := range x {
			s, ok := item.(string)
			if !ok {
				return nil, &TypeError{Key: fmt.Sprintf("%s[%d]", key, i), Want: "a string", Got: item}
			}
			out = append(out, s)
		}
		return out, nil
	case []string:
		return x, nil
	}
	return nil, &TypeError{Key: key, Want: "an array of strings", Got: v}
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint:
		return int64(x), x <= math.MaxInt64
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	}
	return 0, false
}
