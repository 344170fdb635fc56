package processor

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

func baseEnv() plistio.Env {
	return plistio.Env{"JSS_URL": "https://jamf.example/", "pkg_path": "/tmp/App.pkg"}
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig(baseEnv(), false)
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "https://jamf.example" || c.Priority != 10 || c.RequiredProcessor != "None" || c.MaxTries != 5 ||
		c.Sleep != 0 || c.UploadMode != ModeAuto || c.VerifyTimeout != 600*time.Second || c.VerifyTimeoutSet || c.ReplacePkg {
		t.Errorf("defaults = %+v", c)
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		set   plistio.Env
		check func(*Config) bool
		err   string
	}{
		{"max_tries clamps to 5", plistio.Env{"max_tries": "11"}, func(c *Config) bool { return c.MaxTries == 5 }, ""},
		{"max_tries zero", plistio.Env{"max_tries": uint64(0)}, func(c *Config) bool { return c.MaxTries == 5 }, ""},
		{"max_tries in range", plistio.Env{"max_tries": "3"}, func(c *Config) bool { return c.MaxTries == 3 }, ""},
		{"sleep string", plistio.Env{"sleep": "4"}, func(c *Config) bool { return c.Sleep == 4*time.Second }, ""},
		{"pathname fallback", plistio.Env{"pkg_path": "", "pathname": "/x/Thing.pkg"}, func(c *Config) bool { return c.PkgPath == "/x/Thing.pkg" }, ""},
		{"pathname not a pkg", plistio.Env{"pkg_path": "", "pathname": "/x/Thing.dmg"}, nil, "pkg_path is missing"},
		{"category placeholders", plistio.Env{"pkg_category": "%A%", "A": "%B% Apps", "B": "Web"}, func(c *Config) bool { return c.Category == "Web Apps" }, ""},
		{"unknown placeholder", plistio.Env{"pkg_category": "%NOPE%"}, nil, "placeholder %NOPE% names no environment key"},
		{"looping placeholders", plistio.Env{"pkg_category": "%A%", "A": "%B%", "B": "%A%"}, nil, "after 5 passes"},
		{"bad mode", plistio.Env{"upload_mode": "smb"}, nil, `upload_mode: "smb" is not one of`},
		{"mode conflict", plistio.Env{"jcds2_mode": true, "upload_mode": "v1"}, nil, "disagree"},
		{"mode conflict, booleans as text", plistio.Env{"jcds2_mode": "True", "upload_mode": "V1"}, nil, "disagree"},
		{"jcds2_mode with upload_mode auto", plistio.Env{"jcds2_mode": true, "upload_mode": "auto"}, func(c *Config) bool { return c.UploadMode == ModeAuto }, ""},
		{"jcds2_mode with explicit jcds2", plistio.Env{"jcds2_mode": "True", "upload_mode": "jcds2"}, func(c *Config) bool { return c.UploadMode == ModeJCDS2 }, ""},
		{"jcds2_mode False with v1", plistio.Env{"jcds2_mode": "False", "upload_mode": "v1"}, func(c *Config) bool { return c.UploadMode == ModeV1 }, ""},
		{"auto mode", plistio.Env{"upload_mode": "AUTO"}, func(c *Config) bool { return c.UploadMode == ModeAuto }, ""},
		{"jcds2_mode alone is the default", plistio.Env{"jcds2_mode": true}, func(c *Config) bool { return c.UploadMode == ModeAuto }, ""},
		{"explicit jcds2", plistio.Env{"upload_mode": "jcds2"}, func(c *Config) bool { return c.UploadMode == ModeJCDS2 }, ""},
		{"no scheme", plistio.Env{"JSS_URL": "jamf.example"}, nil, "must start with https://"},
		{"bool strings", plistio.Env{"replace_pkg": "True", "skip_metadata_upload": "false", "md5": "1"}, func(c *Config) bool { return c.ReplacePkg && !c.SkipMetadata && c.MD5 }, ""},
		{"several errors at once", plistio.Env{"replace_pkg": "perhaps", "max_tries": "many"}, nil, "max_tries"},
		{"upload tuning", plistio.Env{"upload_concurrency": "32", "upload_part_size": uint64(64)}, func(c *Config) bool { return c.UploadConcurrency == 32 && c.UploadPartSize == 64<<20 }, ""},
		{"upload tuning unset", plistio.Env{}, func(c *Config) bool { return c.UploadConcurrency == 32 && c.UploadPartSize == 0 }, ""},
		{"concurrency zero", plistio.Env{"upload_concurrency": uint64(0)}, nil, "upload_concurrency: must be 1 to 64"},
		{"concurrency too high", plistio.Env{"upload_concurrency": "65"}, nil, "upload_concurrency: must be 1 to 64 parts in flight, got 65"},
		{"concurrency not a number", plistio.Env{"upload_concurrency": "lots"}, nil, "upload_concurrency"},
		{"part size too small", plistio.Env{"upload_part_size": "4"}, nil, "upload_part_size: must be 5 to 5120 MiB"},
		{"part size too large", plistio.Env{"upload_part_size": "5121"}, nil, "upload_part_size: must be 5 to 5120 MiB"},
		{"dry run input", plistio.Env{"dry_run": "yes"}, func(c *Config) bool { return c.DryRun }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := baseEnv()
			for k, v := range tt.set {
				env[k] = v
			}
			c, err := ParseConfig(env, false)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("config = %+v", c)
			}
		})
	}
}

// AutoPkg sets each input's default into the environment before the
// processor runs (autopkglib Processor.process), so an input given as its
// manifest default must read the same as the input left out: alone, all
// together, and beside jcds2_mode True as every jcds2 recipe carries it.
func TestDefaultsReadAsAbsent(t *testing.T) {
	absent, err := ParseConfig(baseEnv(), false)
	if err != nil {
		t.Fatal(err)
	}
	allDefaults := baseEnv()
	for _, in := range Describe().Inputs {
		if in.Default == "" {
			continue
		}
		allDefaults[in.Name] = in.Default
		t.Run(in.Name, func(t *testing.T) {
			env := baseEnv()
			env[in.Name] = in.Default
			got, err := ParseConfig(env, false)
			if err != nil {
				t.Fatalf("%s = %q (its default): %v", in.Name, in.Default, err)
			}
			if !reflect.DeepEqual(got, absent) {
				t.Errorf("%s = %q (its default) reads as %+v, left out as %+v", in.Name, in.Default, got, absent)
			}
		})
	}
	for _, jcds2 := range []any{true, "True", "true", "yes", uint64(1)} {
		env := plistio.Env{"jcds2_mode": jcds2}
		for k, v := range allDefaults {
			if k != "jcds2_mode" {
				env[k] = v
			}
		}
		got, err := ParseConfig(env, false)
		if err != nil {
			t.Fatalf("jcds2_mode %#v with every other default: %v", jcds2, err)
		}
		if !reflect.DeepEqual(got, absent) {
			t.Errorf("jcds2_mode %#v with every other default reads as %+v, want %+v", jcds2, got, absent)
		}
	}
}

// Empty text (an override's "" or `--key upload_mode=`) means the default.
func TestBlankMeansDefault(t *testing.T) {
	absent, err := ParseConfig(baseEnv(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"upload_mode", "upload_concurrency", "upload_part_size", "verify_timeout", "sleep", "max_tries", "pkg_priority", "jcds2_mode"} {
		env := baseEnv()
		env[key] = " "
		got, err := ParseConfig(env, false)
		if err != nil {
			t.Errorf("%s blank: %v", key, err)
			continue
		}
		if !reflect.DeepEqual(got, absent) {
			t.Errorf("%s blank reads as %+v, want %+v", key, got, absent)
		}
	}
}

func TestRecalculateWaitTime(t *testing.T) {
	tests := []struct {
		val  any
		want time.Duration
		err  string
	}{
		{nil, 0, ""},
		{"", 0, ""},
		{"30", 30 * time.Second, ""},
		{uint64(5), 5 * time.Second, ""},
		{"-1", 0, "recalculate_wait_time: must be 0 or more"},
		{"soon", 0, "recalculate_wait_time"},
	}
	for _, tt := range tests {
		env := baseEnv()
		if tt.val != nil {
			env["recalculate_wait_time"] = tt.val
		}
		c, err := ParseConfig(env, false)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%v: err = %v, want %q", tt.val, err, tt.err)
			}
			continue
		}
		if err != nil || c.RecalculateWait != tt.want {
			t.Errorf("%v: wait %v, err %v; want %v", tt.val, c, err, tt.want)
		}
	}
}
