package processor

import (
	"fmt"
	"os"
	"time"
)

// fileID is what identifies one version of the local file: a rebuild that
// writes new bytes in place keeps size and inode but moves the modification
// time; one that writes a new file and renames it over the old changes the
// inode. The size alone (all the upload checked before) misses the first.
type fileID struct {
	Size    int64
	ModTime time.Time
	Inode   uint64 // 0 where the system has none
	Dev     uint64
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{Size: fi.Size(), ModTime: fi.ModTime()}
	id.Dev, id.Inode = inodeOf(fi)
	return id, nil
}

// diff says how b differs from a, "" when it does not.
func (a fileID) diff(b fileID) string {
	switch {
	case a.Inode != b.Inode || a.Dev != b.Dev:
		return "it was replaced by another file"
	case a.Size != b.Size:
		return fmt.Sprintf("its size changed from %d to %d bytes", a.Size, b.Size)
	case !a.ModTime.Equal(b.ModTime):
		return fmt.Sprintf("it was modified at %s", b.ModTime.UTC().Format(time.RFC3339Nano))
	}
	return ""
}

// errFileChanged is the error for a local file that changed under the run.
type errFileChanged struct {
	path, how, when string
}

func (e *errFileChanged) Error() string {
	return fmt.Sprintf("the package file %s changed %s (%s), so what was read may mix old and new bytes; it was not reported as uploaded. Let the build finish, then run again", e.path, e.when, e.how)
}

// checkUnchanged compares the file at path with the identity taken when the
// run began.
func checkUnchanged(path string, want fileID, when string) error {
	got, err := statID(path)
	if err != nil {
		return &errFileChanged{path: path, how: err.Error(), when: when}
	}
	if how := want.diff(got); how != "" {
		return &errFileChanged{path: path, how: how, when: when}
	}
	return nil
}

// Permanent tells the Jamf client not to send the upload again: every try
// would find the same changed file.
func (e *errFileChanged) Permanent() bool { return true }
