package plistio

import (
	"strings"
	"testing"
	"time"
)

func TestBool(t *testing.T) {
	tests := []struct {
		v       any
		want    bool
		wantErr bool
	}{
		{nil, false, false},
		{true, true, false},
		{false, false, false},
		{"True", true, false},
		{"true", true, false},
		{"TRUE", true, false},
		{"1", true, false},
		{"yes", true, false},
		{"YES", true, false},
		{"False", false, false},
		{"false", false, false},
		{"", false, false},
		{"0", false, false},
		{"no", false, false},
		{uint64(1), true, false},
		{uint64(0), false, false},
		{"maybe", false, true},
		{uint64(7), false, true},
		{[]any{}, false, true},
		{map[string]any{}, false, true},
	}
	for _, tt := range tests {
		env := Env{}
		if tt.v != nil {
			env["replace_pkg"] = tt.v
		}
		got, err := env.Bool("replace_pkg")
		if (err != nil) != tt.wantErr {
			t.Errorf("Bool(%#v) err = %v, wantErr %v", tt.v, err, tt.wantErr)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), "replace_pkg") {
			t.Errorf("Bool(%#v) error %q does not name the key", tt.v, err)
		}
		if got != tt.want {
			t.Errorf("Bool(%#v) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestInt(t *testing.T) {
	tests := []struct {
		v       any
		want    int
		wantErr string
	}{
		{nil, 5, ""},
		{uint64(3), 3, ""},
		{int64(-2), -2, ""},
		{"7", 7, ""},
		{" 8 ", 8, ""},
		{"", 5, ""},
		{4.0, 4, ""},
		{4.5, 0, "got real"},
		{"ten", 0, `got string "ten"`},
		{true, 0, "got boolean"},
		{[]any{uint64(1)}, 0, "got array"},
	}
	for _, tt := range tests {
		env := Env{}
		if tt.v != nil {
			env["max_tries"] = tt.v
		}
		got, err := env.Int("max_tries", 5)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "max_tries") {
				t.Errorf("Int(%#v) err = %v, want one naming max_tries and containing %q", tt.v, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Int(%#v) = %d, %v; want %d", tt.v, got, err, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		v       any
		want    string
		wantErr bool
	}{
		{nil, "def", false},
		{"x", "x", false},
		{uint64(10), "10", false},
		{int64(-1), "-1", false},
		{true, "True", false},
		{1.5, "1.5", false},
		{[]any{}, "", true},
		{map[string]any{}, "", true},
		{[]byte("x"), "", true},
		{time.Now(), "", true},
	}
	for _, tt := range tests {
		env := Env{}
		if tt.v != nil {
			env["pkg_priority"] = tt.v
		}
		got, err := env.String("pkg_priority", "def")
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("String(%#v) = %q, %v; want %q, err %v", tt.v, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestStringList(t *testing.T) {
	env := Env{"a": []any{"x", "y"}, "b": "single", "c": []any{"x", uint64(1)}, "d": uint64(1)}
	if got, err := env.StringList("a"); err != nil || len(got) != 2 {
		t.Errorf("a: %v %v", got, err)
	}
	if got, err := env.StringList("b"); err != nil || len(got) != 1 || got[0] != "single" {
		t.Errorf("b: %v %v", got, err)
	}
	if _, err := env.StringList("c"); err == nil || !strings.Contains(err.Error(), "c[1]") {
		t.Errorf("c: err %v", err)
	}
	if _, err := env.StringList("d"); err == nil {
		t.Errorf("d: no error")
	}
	if got, err := env.StringList("missing"); err != nil || got != nil {
		t.Errorf("missing: %v %v", got, err)
	}
}
