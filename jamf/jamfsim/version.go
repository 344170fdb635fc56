package jamfsim

import (
	"fmt"
	"strconv"
	"strings"
)

// version is a Jamf Pro version's numeric prefix.
type version struct{ major, minor, patch int }

func parseVersion(s string) (version, error) {
	raw := s
	if i := strings.IndexAny(s, "-+ "); i >= 0 {
		s = s[:i]
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return version{}, fmt.Errorf("invalid version %q (want MAJOR.MINOR[.PATCH])", raw)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return version{}, fmt.Errorf("invalid version %q", raw)
		}
		n[i] = v
	}
	return version{n[0], n[1], n[2]}, nil
}

func (v version) atLeast(major, minor int) bool {
	return v.major > major || (v.major == major && v.minor >= minor)
}

func (v version) atLeastV(o version) bool {
	if v.major != o.major {
		return v.major > o.major
	}
	if v.minor != o.minor {
		return v.minor > o.minor
	}
	return v.patch >= o.patch
}

func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }

// Milestones (jamf-api.md): what the real server changed, and when.
func (v version) hasOAuth() bool        { return v.atLeast(10, 49) }
func (v version) hasV1Packages() bool   { return v.atLeast(11, 5) }
func (v version) hasJCDSRefresh() bool  { return v.atLeast(11, 10) }
func (v version) jcdsRenamed() bool     { return v.atLeast(11, 20) }
func (v version) acceptsSHA3Hash() bool { return v.atLeast(11, 25) }
