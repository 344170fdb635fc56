package processor

import (
	"context"
	"io"
	"strings"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// local is the package file as this run reads it: its identity when the run
// began, fixed for the run. It keeps no digests: hashing a multi-GB file is
// the slowest thing a run does, so each step returns the digests it
// computed (did.Sums), the loop folds them, and the steps after get them
// (stepInput.sofar.Sums) and compute only what is still missing.
type local struct {
	*PkgFile
	id       fileID    // the file as the run began
	progress io.Writer // where progress goes; nil for none
}

// hash computes the digests in which from the file and returns them.
func (l *local) hash(ctx context.Context, which s3upload.HashSet) (s3upload.Sums, error) {
	p := l.newProgress("hashing " + l.Name)
	sums, _, err := s3upload.HashFile(ctx, l.Path, which, p)
	p.Done()
	return sums, err // HashFile names the file
}

// digests returns known with the digests in which that it lacks computed
// from the file (none if it has them all).
func (l *local) digests(ctx context.Context, known s3upload.Sums, which s3upload.HashSet) (s3upload.Sums, error) {
	var missing s3upload.HashSet
	for _, h := range []struct {
		set  s3upload.HashSet
		have string
	}{{s3upload.MD5, known.MD5}, {s3upload.SHA512, known.SHA512}, {s3upload.SHA3_512, known.SHA3_512}} {
		if which&h.set != 0 && h.have == "" {
			missing |= h.set
		}
	}
	if missing == 0 {
		return known, nil
	}
	sums, err := l.hash(ctx, missing)
	if err != nil {
		return known, err
	}
	return mergeSums(known, sums), nil
}

// mergeSums is a with the digests b has. Both describe the same bytes (the
// local file's), so where both have one they agree.
func mergeSums(a, b s3upload.Sums) s3upload.Sums {
	if b.SHA3_512 != "" {
		a.SHA3_512 = b.SHA3_512
	}
	if b.SHA512 != "" {
		a.SHA512 = b.SHA512
	}
	if b.MD5 != "" {
		a.MD5 = b.MD5
	}
	return a
}

// withServerSHA3 is sums with the server's SHA3-512 of f, a file whose
// bytes were shown to equal ours (same size and MD5), where this run did
// not compute it: SHA3-512 is the slowest digest by far.
func withServerSHA3(sums s3upload.Sums, f *jamf.JCDSFile) s3upload.Sums {
	if sums.SHA3_512 == "" && f != nil && f.SHA3 != "" {
		sums.SHA3_512 = strings.ToLower(f.SHA3)
	}
	return sums
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
