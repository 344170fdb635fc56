package jamf

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
)

// Version is a Jamf Pro version such as "11.10.1-t1726593152".
type Version struct {
	Raw                 string
	Major, Minor, Patch int
}

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	if v.Major != major {
		return v.Major > major
	}
	return v.Minor >= minor
}

func (v Version) String() string { return v.Raw }

var versionRE = regexp.MustCompile(`^\s*(\d+)\.(\d+)(?:\.(\d+))?`)

// ParseVersion reads the numeric prefix of a Jamf Pro version string.
func ParseVersion(raw string) (Version, error) {
	m := versionRE.FindStringSubmatch(raw)
	if m == nil {
		return Version{}, fmt.Errorf("unrecognised Jamf Pro version %q", raw)
	}
	v := Version{Raw: raw}
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, nil
}

// Version asks the server for its version and remembers it, so later errors
// can name privileges as this version calls them.
func (c *Client) Version(ctx context.Context) (Version, error) {
	var out struct {
		Version string `json:"version"`
	}
	if err := c.doJSON(ctx, request{step: "read Jamf Pro version", method: "GET", path: "/api/v1/jamf-pro-version"}, &out); err != nil {
		return Version{}, err
	}
	v, err := ParseVersion(out.Version)
	if err != nil {
		return Version{}, fmt.Errorf("read Jamf Pro version: %w", err)
	}
	c.mu.Lock()
	c.version = &v
	c.mu.Unlock()
	return v, nil
}

func (c *Client) knownVersion() *Version {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}
