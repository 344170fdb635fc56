package processor

import (
	"context"
	"fmt"
	"strings"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// survey gathers what the decision needs beyond the package object: the
// upload mode and the distribution point's file of this name, only when
// the file may have to be sent (the nightly no-op stays at its few
// requests). It changes nothing on the server (an unsettled record may get
// an inventory refresh of its file) and returns all it learned.
func (u *uploader) survey(ctx context.Context, obj *jamf.Package) (Facts, error) {
	cfg, file := u.cfg, u.local
	facts := Facts{Object: obj, FileName: file.Name, LocalSize: file.Size, Classic: u.classic(),
		CanRefresh: u.canRefresh(), Zipped: file.Zipped,
		Unsettled: u.unsettled(obj), Failed: obj != nil && strings.EqualFold(obj.TransferStatus, "ERROR")}
	if obj != nil {
		u.log.Info().Str("id", obj.ID).Str("name", obj.Name).Msg("package object exists")
		if facts.Unsettled {
			u.log.Warn().Str("id", obj.ID).Msgf("package object %q is not settled in Jamf Pro (cloudTransferStatus %s, size %s); finishing the job", obj.Name, orNone(obj.TransferStatus), sizeText(obj))
		}
	}
	// The quiet night (object there, replace_pkg false) spends the one
	// listing the mode choice makes anyway on checking that the object's
	// file is really there.
	mode, files, listed, err := u.chooseMode(ctx)
	if err != nil {
		return facts, err
	}
	facts.Mode = mode
	switch {
	case listed:
		for i := range files {
			if files[i].FileName == file.Name {
				facts.JCDSFile = &files[i]
				break
			}
		}
		facts.DupsBefore = map[string]bool{}
		if dups := Duplicates(files, file.Name); len(dups) > 0 {
			u.log.Warn().Strs("files", dups).Msgf("the JCDS holds duplicates of %s made by earlier uploads; delete them in Jamf Pro", file.Name)
			for _, d := range dups {
				facts.DupsBefore[d] = true
			}
		}
		facts.ServerMD5 = listsMD5(files)
		facts.FileExisted = facts.JCDSFile != nil
		facts.ObjectFileMissing = objectFileMissing(obj, files)
		if facts.ObjectFileMissing {
			u.log.Warn().Str("id", obj.ID).Str("file", obj.FileName).Msg("the package object's file is missing from the distribution point; it will be uploaded again from the local file")
		}
	case obj != nil && obj.SizeKnown && obj.FileName == file.Name && !facts.Unsettled:
		// No JCDS list: the package record's own size and digests, which the
		// server computed from the file, stand in for it.
		facts.JCDSFile = recordAsFile(obj)
		facts.ServerMD5 = obj.MD5 != ""
		facts.FileExisted = true
	default:
		if refreshBeforeRead(cfg, facts) {
			// A failed refresh leaves the read as it is.
			if _, err := u.client.RefreshInventory(ctx, file.Name, u.version); err != nil {
				u.log.Debug().Err(err).Msg("inventory refresh before reading the cloud distribution point failed")
			}
		}
		status, known := u.cloudFile(ctx)
		facts.FileExisted = status != "" || !known
		if status != "" && !strings.EqualFold(status, "ERROR") {
			// There, or being processed: its bytes cannot be compared.
			facts.JCDSFile = &jamf.JCDSFile{FileName: file.Name, Length: -1}
		}
		if obj != nil && obj.FileName == file.Name && known && status == "" {
			// No JCDS list and a record without size: the cloud
			// distribution point's inventory is what tells.
			facts.ObjectFileMissing = true
			u.log.Warn().Str("id", obj.ID).Str("file", obj.FileName).Msg("the cloud distribution point does not list the package object's file; it will be uploaded again from the local file")
		}
	}
	if earlier := u.journal.load(listed, facts.JCDSFile); earlier != nil {
		facts.Pending, facts.Earlier = earlier.Pending, earlier
	}
	if NeedsCompare(cfg, facts) && (!file.Zipped || !cfg.DryRun) {
		// Compare by MD5 when the server lists one (several times faster
		// than SHA3-512), and compute the metadata's digest in the same
		// pass unless the server's own SHA3-512 can stand in for it.
		which := u.localDigests(facts.ServerMD5)
		if facts.JCDSFile == nil || facts.JCDSFile.MD5 == "" || mayVerifyEarlier(facts) {
			which |= s3upload.SHA3_512
		}
		sums, err := file.hash(ctx, which)
		if err != nil {
			return facts, err
		}
		facts.Local = sums
		if f := facts.JCDSFile; f != nil && sums.MD5 != "" && strings.EqualFold(f.MD5, sums.MD5) {
			// Bytes shown equal to ours (same size and MD5): the server's
			// SHA3-512 stands in for the one this run did not compute.
			facts.Local = withServerSHA3(sums, f)
		}
	}
	return facts, nil
}

// chooseMode asks the server what it offers to upload through (probe) and
// has ChooseMode settle the mode. It returns the JCDS list when it was
// read.
func (u *uploader) chooseMode(ctx context.Context) (mode string, files []jamf.JCDSFile, listed bool, err error) {
	offer := u.probe(ctx)
	mode, warning, err := ChooseMode(u.cfg, u.version, offer)
	if err != nil {
		return "", nil, false, err
	}
	if warning != "" {
		u.log.Warn().Msg(warning)
	}
	return mode, offer.Files, offer.ListErr == nil && offer.Asked, nil
}

// probe asks what ChooseMode needs to know, as the asks… functions say:
// the JCDS file list (the probe of the JCDS endpoints, which the decision
// needs anyway; never /api/v1/jcds/properties, which Jamf removed in 11.19)
// and, where the list fails, the cloud distribution point's upload
// capability.
func (u *uploader) probe(ctx context.Context) Offer {
	var o Offer
	if !asksJCDSList(u.cfg, u.version) {
		return o
	}
	o.Asked = true
	o.Files, o.ListErr = u.client.JCDSFiles(ctx)
	if o.ListErr == nil || !asksCapability(u.cfg, u.version) {
		if o.ListErr != nil && u.cfg.UploadMode == ModeV1 {
			u.log.Debug().Err(o.ListErr).Msg("no JCDS list; comparing with the package record instead")
		}
		return o
	}
	o.Capability, o.CapabilityErr = u.client.CloudUploadCapability(ctx)
	if o.CapabilityErr != nil {
		u.log.Debug().Err(o.CapabilityErr).Msg("upload capability not readable")
	}
	return o
}

// cloudFile asks the cloud distribution point's inventory (11.23+) about
// the file of this name: its status (READY, PENDING, ERROR; "" when not
// there), and whether the inventory could tell at all.
func (u *uploader) cloudFile(ctx context.Context) (status string, known bool) {
	if !u.version.AtLeast(11, 23) {
		return "", false
	}
	files, err := u.client.CloudFiles(ctx, u.local.Name)
	if err != nil {
		u.log.Debug().Err(err).Msg("cloud distribution point inventory not readable")
		return "", false
	}
	if len(files) == 0 {
		return "", true
	}
	if files[0].Status == "" {
		return "READY", true
	}
	return files[0].Status, true
}

// recordAsFile describes the file a package record points at as the JCDS
// list would: the server's size and digests.
func recordAsFile(p *jamf.Package) *jamf.JCDSFile {
	f := &jamf.JCDSFile{FileName: p.FileName, Length: p.Size, MD5: strings.ToLower(p.MD5), SHA3: strings.ToLower(p.SHA3512)}
	if f.SHA3 == "" && p.HashType == "SHA3_512" {
		f.SHA3 = strings.ToLower(p.HashValue)
	}
	if f.MD5 == "" && p.HashType == "MD5" {
		f.MD5 = strings.ToLower(p.HashValue)
	}
	return f
}

// unsettled reports whether a package record shows a file Jamf Pro has not
// finished with: status ERROR (or PENDING, in the schema's enum), a size
// of 0 (the file never landed), or a blank size where a refresh can fill
// it ("Availability Pending": a write or an upload since the last inventory
// refresh), whatever the status says: a record keeps its old values, an
// empty cloudTransferStatus included, until a refresh after processing
// (jamf-cli and terraform-provider-jamfplatform keep a previousHash and
// poll until it changes), so PENDING may never show. A run that timed out
// waiting or failed leaves such a record, and so do other tools' writes;
// the rerun finishes the job (refresh and wait) instead of keeping it.
func (u *uploader) unsettled(p *jamf.Package) bool {
	if p == nil || u.classic() {
		return false
	}
	switch strings.ToUpper(p.TransferStatus) {
	case "PENDING", "ERROR":
		return true
	}
	// An empty status is also what a node shows whose inventory has not
	// caught up with the file ("No CDP binary", terraform-provider-jamfplatform;
	// inventory is per pod, jamf/scripts hit_all_pods_internet.zsh): a blank
	// size there says as much as beside READY. Where the distribution point
	// really lacks the file, the listing says so and the file is sent again.
	return p.SizeKnown && p.Size == 0 || !p.SizeKnown && u.canRefresh()
}

// objectFileMissing reports whether the distribution point lacks the file
// the existing object points at (or holds it empty).
func objectFileMissing(obj *jamf.Package, files []jamf.JCDSFile) bool {
	if obj == nil || obj.FileName == "" {
		return false
	}
	for _, f := range files {
		if f.FileName == obj.FileName {
			return f.Length == 0
		}
	}
	return true
}

// listsMD5 reports whether the JCDS can be expected to list MD5s. An empty
// distribution point says nothing either way; the reference server lists
// them, and verify still hashes SHA3-512 if the new file's entry lacks one.
func listsMD5(files []jamf.JCDSFile) bool {
	if len(files) == 0 {
		return true
	}
	for _, f := range files {
		if f.MD5 != "" {
			return true
		}
	}
	return false
}

// localDigests is what this run computes from the file's bytes: MD5 to
// compare with the JCDS's listing, and the metadata's digest unless that is
// SHA3-512 and the JCDS lists MD5s (serverMD5). Then the JCDS's SHA3-512 of
// bytes whose size and MD5 match ours stands in for it: SHA3-512 is the
// slowest digest by far (about 70 MB/s on a server core), and would
// otherwise bound the upload's speed.
func (u *uploader) localDigests(serverMD5 bool) s3upload.HashSet {
	h := s3upload.MD5
	if meta := u.metaHashSet(); meta != s3upload.SHA3_512 || !serverMD5 {
		h |= meta
	}
	return h
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func sizeText(p *jamf.Package) string {
	if !p.SizeKnown {
		return "blank"
	}
	return fmt.Sprint(p.Size)
}
