package main

import (
	"regexp"
	"strings"
	"testing"
)

// semver 2.0.0, as the shim parses it: core, optional pre-release, optional
// build metadata (which the shim ignores when comparing).
var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

func TestReleaseVersionIsSemver(t *testing.T) {
	v := strings.TrimSpace(releaseVersion)
	if !semverRE.MatchString(v) || strings.Contains(v, "+") {
		t.Fatalf("VERSION is %q; want MAJOR.MINOR.PATCH[-PRERELEASE] without build metadata", v)
	}
	if releaseVersion != v+"\n" {
		t.Errorf("VERSION should be one line ending in a newline, got %q", releaseVersion)
	}
}

func TestResolveVersion(t *testing.T) {
	tests := []struct {
		name, stamped, release, module, want string
	}{
		{"stamped wins", "0.3.0+g1234567", "0.3.0\n", "v0.3.0", "0.3.0+g1234567"},
		{"go install at the release tag", "", "0.3.0\n", "v0.3.0", "0.3.0"},
		{"go build in a checkout (devel)", "", "0.3.0\n", "(devel)", "0.3.0+dev"},
		{"go build with VCS stamping (pseudo-version)", "", "0.3.0\n", "v0.0.0-20261126135800-7c5f579abcde+dirty", "0.3.0+dev"},
		{"no build info", "", "0.3.0\n", "", "0.3.0+dev"},
		{"another tag than VERSION", "", "0.3.0\n", "v0.2.0", "0.3.0+dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolveVersion(tt.stamped, tt.release, tt.module)
			if got != tt.want {
				t.Errorf("resolveVersion(%q, %q, %q) = %q, want %q", tt.stamped, tt.release, tt.module, got, tt.want)
			}
			if !semverRE.MatchString(got) {
				t.Errorf("%q is not a semantic version", got)
			}
		})
	}
}
