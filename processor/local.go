package processor

import (
	"context"
	"io"
	"strings"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// local is the package file as this run reads it: its identity when the run
// began, and the digests known so far. Hashing a multi-GB file is the
// slowest thing a run does, so every digest is computed at most once and
// kept here for the steps after (the comparison, the metadata, the checks).
type local struct {
	*PkgFile
	id       fileID        // the file as the run began
	sums     s3upload.Sums // the digests known so far
	progress io.Writer     // where progress goes; nil for none
}

// hash computes the digests in which from the file, keeps them and returns
// them.
func (l *local) hash(ctx context.Context, which s3upload.HashSet) (s3upload.Sums, error) {
	p := l.newProgress("hashing " + l.Name)
	sums, _, err := s3upload.HashFile(ctx, l.Path, which, p)
	p.Done()
	if err != nil {
		return sums, err // HashFile names the file
	}
	l.add(sums)
	return sums, nil
}

// add keeps digests computed elsewhere (while the file streamed out).
func (l *local) add(b s3upload.Sums) {
	if b.SHA3_512 != "" {
		l.sums.SHA3_512 = b.SHA3_512
	}
	if b.SHA512 != "" {
		l.sums.SHA512 = b.SHA512
	}
	if b.MD5 != "" {
		l.sums.MD5 = b.MD5
	}
}

// adoptSHA3 takes the server's SHA3-512 for a file whose bytes were shown
// to equal ours (same size and MD5), when this run did not compute it.
func (l *local) adoptSHA3(f *jamf.JCDSFile) {
	if l.sums.SHA3_512 == "" && f != nil && f.SHA3 != "" {
		l.sums.SHA3_512 = strings.ToLower(f.SHA3)
	}
}

// check refuses a local file that changed since the run began.
func (l *local) check(when string) error {
	return checkUnchanged(l.Path, l.id, when)
}

func (l *local) newProgress(label string) *s3upload.Progress {
	if l.progress == nil {
		return nil
	}
	return s3upload.NewProgress(l.progress, label, l.Size)
}
