package processor

import (
	"context"
	"fmt"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// sha3Since is the first Jamf Pro version whose package records take and
// report hashType SHA3_512. No public source pins the release: servers
// were on it around 11.11/11.12, and the inventory refresh that writes it
// came with 11.11 (Jamf's developer changelog), so 11.11 is our choice, as
// the simulator's. What 11.25 added is the sha3512 field (Jamf Pro 11.25.2
// API document; go-api-sdk-jamfpro PR #1055).
var sha3Since = [2]int{11, 11}

func (u *uploader) sha3Meta() bool { return u.version.AtLeast(sha3Since[0], sha3Since[1]) }

// metaHashSet is the digest the metadata needs: MD5 when asked, SHA3-512
// where the server uses it, SHA-512 before.
func (u *uploader) metaHashSet() s3upload.HashSet {
	switch {
	case u.cfg.MD5:
		return s3upload.MD5
	case u.sha3Meta():
		return s3upload.SHA3_512
	default:
		return s3upload.SHA512
	}
}

func (u *uploader) metaHash(s s3upload.Sums) (typ, value string) {
	switch {
	case u.cfg.MD5:
		return "MD5", s.MD5
	case u.sha3Meta():
		return "SHA3_512", s.SHA3_512
	default:
		return "SHA_512", s.SHA512
	}
}

// writeMetadata creates or updates the package object pkg and returns its
// id. An update starts from a fresh read of the object and sends the whole
// record back with this processor's fields changed: a real PUT is a full
// replace, so what a body leaves out is cleared (terraform-provider-
// jamfplatform crud.go, "confirmed PUT is full-replace"). Where the server
// has an inventory refresh (11.11+), the hash fields are only ever the
// server's own, as just read: the server does not check a client-written
// hash, and one written early can satisfy the verification poll before the
// file is processed (jamf-cli, terraform-provider-jamfplatform: both write
// hash fields only after the server's values converged). The refresh in
// settle writes the server's own.
//
// known are the file's digests known so far; sums are those with any it
// computed.
func (u *uploader) writeMetadata(ctx context.Context, step writeMetadata, pkg *jamf.Package, known s3upload.Sums) (id string, sums s3upload.Sums, err error) {
	sums = known
	if err := u.client.EnsureFreshToken(ctx); err != nil {
		return "", sums, err
	}
	file := u.local
	// Which hash is written is Decide's (step.Hash).
	switch step.Hash {
	case hashServer:
		pkg.HashType, pkg.HashValue = "", ""
	case hashOurs:
		// No refresh before 11.11 to let the server record its own digest
		// (and none at all on the Classic API): the object carries ours, as
		// JamfPackageUploader's does. The hash must describe the bytes in
		// the distribution point: a file rebuilt since they were read is
		// refused.
		if err := file.check("before the metadata was written"); err != nil {
			return "", sums, err
		}
		if sums, err = file.digests(ctx, sums, u.metaHashSet()); err != nil {
			return "", sums, err
		}
		pkg.HashType, pkg.HashValue = u.metaHash(sums)
	case hashJournal:
		pkg.HashType, pkg.HashValue = step.Earlier.HashType, step.Earlier.HashValue
	case hashKept:
		// The file was kept: its recorded hash still describes it, so the
		// object's own hash fields are left as they were.
	}
	if step.Note == noteMeta {
		// A failed write from here on must be finished by the next run even
		// without replace_pkg, or the object keeps the old metadata (and,
		// where ours is written, the old file's hash).
		if err := u.journal.noteMeta(pkg, file.Path, file.Size, sums); err != nil {
			return "", sums, err
		}
	}
	id = pkg.ID
	switch {
	case step.Create && step.Classic:
		id, err = u.client.CreatePackageClassic(ctx, pkg)
	case step.Create:
		id, err = u.client.CreatePackage(ctx, pkg)
	case step.Classic:
		err = u.client.UpdatePackageClassic(ctx, pkg)
	default:
		err = u.updateOwned(ctx, pkg, step.Record)
	}
	if err != nil && step.Create && jamf.IsDuplicate(err) {
		return "", sums, u.awaitObject(ctx, pkg.Name, err)
	}
	if err != nil {
		return "", sums, fmt.Errorf("write package metadata for %q (the file is in the distribution point; run again to finish): %w", pkg.Name, err)
	}
	verb := "updated"
	if step.Create {
		verb = "created"
	}
	u.log.Info().Str("id", id).Str("name", pkg.Name).Msgf("package metadata %s", verb)
	return id, sums, nil
}

// updateOwned reads the object afresh and writes the whole record back
// with the fields this processor owns changed, and the hash fields as the
// step says (rh).
func (u *uploader) updateOwned(ctx context.Context, want *jamf.Package, rh recordHash) error {
	cur, err := u.client.GetPackage(ctx, want.ID)
	if err != nil {
		return err
	}
	cur.Name, cur.FileName, cur.CategoryID = want.Name, want.FileName, want.CategoryID
	cur.Info, cur.Notes, cur.Priority = want.Info, want.Notes, want.Priority
	cur.OSRequirements, cur.RebootRequired = want.OSRequirements, want.RebootRequired
	if rh.Write && want.HashType != "" && want.HashValue != "" {
		cur.HashType, cur.HashValue = want.HashType, want.HashValue
		cur.StaleHashes = rh.DropServer
	}
	return u.client.UpdatePackage(ctx, cur)
}
