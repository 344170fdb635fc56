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

// Milestones: what the real server changed, and when (Jamf's developer
// changelog and the Jamf Pro API documents; the refresh from 11.11 per the
// changelog, where jamf-upload says 11.10).
func (v version) hasOAuth() bool       { return v.atLeast(10, 49) }
func (v version) hasV1Packages() bool  { return v.atLeast(11, 5) }
func (v version) hasJCDSRefresh() bool { return v.atLeast(11, 11) }
func (v version) jcdsRenamed() bool    { return v.atLeast(11, 20) }

// acceptsSHA3Hash: SHA3_512 from 11.11, the first release the sources put
// servers on SHA3_512 (around 11.11–11.12; no source pins the release,
// and 11.11, when the inventory refresh that writes SHA3_512 shipped per
// Jamf's developer changelog, is the simulator's choice). The
// lower end is chosen so that a client is never refused SHA3_512 where a
// real server took it.
func (v version) acceptsSHA3Hash() bool { return v.atLeast(11, 11) }

func (v version) jcdsRefreshByName() bool { return v.atLeast(11, 14) }
func (v version) hasJCDSProperties() bool { return !v.atLeast(11, 19) }
func (v version) hasSHA3512Field() bool   { return v.atLeast(11, 25) }
func (v version) noJCDSIs404() bool       { return v.atLeastV(version{11, 25, 2}) }

// hasCDPEndpoints: GET cloud-distribution-point, its files and
// upload-capability are in the 11.23.2 schema, the oldest the project has;
// 11.23 is the simulator's choice of first release.
func (v version) hasCDPEndpoints() bool { return v.atLeast(11, 23) }

// hasFailUpload: POST cloud-distribution-point/fail-upload/{id} is in the
// 11.25.2 and 11.30.1 schemas, not in 11.23.2; 11.25.2 is the simulator's
// choice of first release.
func (v version) hasFailUpload() bool { return v.atLeastV(version{11, 25, 2}) }
