//go:build !unix

package jamf

import (
	"io/fs"
	"os"
)

// Without flock concurrent runs may each ask for a token; the cache stays
// correct because files are replaced atomically.
func tryLock(*os.File) (bool, error) { return true, nil }

func unlockFile(*os.File) {}

func ownedByMe(fs.FileInfo) bool { return true }

const syscallNoFollow = 0
