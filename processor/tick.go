package processor

import (
	"fmt"
	"strings"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
)

// settleWant is what a pod's package record must show once Jamf Pro is done
// with the file this run sent: READY, the file's size and its SHA3-512.
type settleWant struct {
	FileName string
	Size     int64  // bytes of the file sent
	SHA3     string // hex SHA3-512 of the bytes sent
	// MD5 (hex) is compared only where a record shows no SHA3-512 at all
	// (servers before 11.25 without the sha3512 field).
	MD5 string
}

// kept: the record points at a file this run did not send and has no
// digest of (a metadata write on a kept file); Size is then -1 or the
// size the record must show.
func (w settleWant) kept() bool { return w.SHA3 == "" && w.MD5 == "" }

// tickClass is what one poll tick of a package record says about a send,
// classified as Jamf's own provider does (terraform-provider-jamfplatform,
// internal/resources/pro/package/helpers.go, classifyPollTick), plus the
// schema's ERROR status.
type tickClass int

const (
	// tickProcessing: nothing decided yet; poll again. A size "" (not
	// computed yet), the previous hash, or our hash with another size (the
	// flip a refresh shows during processing) all land here.
	tickProcessing tickClass = iota
	// tickLanded: READY, our size and our SHA3-512.
	tickLanded
	// tickLost: the hash moved away from the one before this send and the
	// size reads "0" in the same tick: the bytes never landed. The caller
	// sends again, taking the hash then shown as the previous one.
	tickLost
	// tickCorrupt: a SHA3-512 that is neither ours nor the previous one,
	// with our size: the server holds other bytes. Ends the wait at once.
	tickCorrupt
	// tickFailed: cloudTransferStatus ERROR (in the schema's enum).
	tickFailed
)

func (c tickClass) String() string {
	switch c {
	case tickLanded:
		return "landed"
	case tickLost:
		return "lost"
	case tickCorrupt:
		return "corrupt"
	case tickFailed:
		return "failed"
	}
	return "processing"
}

// recordSHA3 is the server's SHA3-512 of the file a record points at: the
// sha3512 field (11.25+) or hashValue when hashType is SHA3_512, lower case.
func recordSHA3(rec *jamf.Package) string {
	if rec.SHA3512 != "" {
		return strings.ToLower(rec.SHA3512)
	}
	if strings.EqualFold(rec.HashType, "SHA3_512") {
		return strings.ToLower(rec.HashValue)
	}
	return ""
}

func recordMD5(rec *jamf.Package) string {
	if rec.MD5 != "" {
		return strings.ToLower(rec.MD5)
	}
	if strings.EqualFold(rec.HashType, "MD5") {
		return strings.ToLower(rec.HashValue)
	}
	return ""
}

// classifyTick decides what one read of a package record says about the
// file this run sent. prevSHA3 is the SHA3-512 the record showed before this
// send ("" for none). It decides on what the record shows, never on how long
// the wait has run: a loaded machine or a slow server only makes ticks come
// later, not read differently. The order is the provider's: a loss is
// checked first (an empty file really has size 0, so not for one), then
// convergence, then corruption.
func classifyTick(prevSHA3 string, want settleWant, rec *jamf.Package) tickClass {
	if rec == nil {
		return tickProcessing // this pod does not show the object yet
	}
	cur := recordSHA3(rec)
	if want.kept() {
		// A file this run did not send and knows no digest of: whatever
		// the record shows once READY with a size and a digest.
		if (strings.EqualFold(rec.TransferStatus, "READY") || recordHasNoStatus(rec)) && rec.SizeKnown && rec.Size > 0 &&
			(want.Size < 0 || rec.Size == want.Size) && (cur != "" || recordMD5(rec) != "") {
			return tickLanded
		}
		if strings.EqualFold(rec.TransferStatus, "ERROR") {
			return tickFailed
		}
		return tickProcessing
	}
	prev := strings.ToLower(prevSHA3)
	ours := strings.ToLower(want.SHA3)
	zero := rec.SizeKnown && rec.Size == 0
	if cur != "" && cur != prev && want.Size != 0 && zero {
		return tickLost
	}
	sizeMatch := rec.SizeKnown && rec.Size == want.Size
	ready := strings.EqualFold(rec.TransferStatus, "READY") || recordHasNoStatus(rec)
	hashMatch := cur != "" && cur == ours
	if cur == "" && want.MD5 != "" {
		hashMatch = recordMD5(rec) == strings.ToLower(want.MD5)
	}
	if hashMatch && sizeMatch && ready {
		return tickLanded
	}
	if cur != "" && cur != ours && cur != prev && sizeMatch {
		return tickCorrupt
	}
	if strings.EqualFold(rec.TransferStatus, "ERROR") {
		return tickFailed
	}
	return tickProcessing
}

// tickReason says what a record shows while it is not landed, for -v
// progress and for the error at the timeout: whether the file is in and
// still processing, or the pod shows no sign of it yet.
func tickReason(prevSHA3 string, want settleWant, rec *jamf.Package) string {
	if rec == nil {
		return "the pod does not show the package object yet"
	}
	cur := recordSHA3(rec)
	size := "size blank (not computed yet)"
	if rec.SizeKnown {
		size = fmt.Sprintf("size %d of %d", rec.Size, want.Size)
	}
	status := rec.TransferStatus
	if status == "" {
		status = "no status (this pod's inventory has no file for it yet)"
	}
	switch {
	case cur == "" || cur == strings.ToLower(prevSHA3):
		return fmt.Sprintf("the record still shows the file from before this send (%s, %s)", size, status)
	case cur == strings.ToLower(want.SHA3):
		return fmt.Sprintf("the file is in and still processing (our SHA3-512, %s, %s)", size, status)
	}
	return fmt.Sprintf("a SHA3-512 that is not ours yet (%s, %s)", size, status)
}

// recordHasNoStatus: the server's records have no cloudTransferStatus at
// all (before it was added); size and digest then say it all.
func recordHasNoStatus(rec *jamf.Package) bool {
	return rec.TransferStatus == "" && !rec.StatusShown
}
