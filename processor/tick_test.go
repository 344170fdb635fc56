package processor

import (
	"strings"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
)

func TestClassifyTick(t *testing.T) {
	const (
		ours  = "aaaa"
		prev  = "bbbb"
		other = "cccc"
	)
	want := settleWant{FileName: "App.pkg", Size: 1000, SHA3: ours}
	rec := func(hash string, size int64, known bool, status string) *jamf.Package {
		return &jamf.Package{ID: "7", FileName: "App.pkg", HashType: "SHA3_512", HashValue: hash,
			Size: size, SizeKnown: known, TransferStatus: status, StatusShown: true}
	}
	tests := []struct {
		name string
		prev string
		want settleWant
		rec  *jamf.Package
		is   tickClass
	}{
		{"landed", prev, want, rec(ours, 1000, true, "READY"), tickLanded},
		{"landed, hash in upper case", prev, want, rec(strings.ToUpper(ours), 1000, true, "READY"), tickLanded},
		{"landed from the sha3512 field", prev, want,
			&jamf.Package{SHA3512: ours, HashType: "MD5", HashValue: "m", Size: 1000, SizeKnown: true, TransferStatus: "READY"}, tickLanded},
		{"landed on a record with MD5 only", prev, settleWant{Size: 1000, SHA3: ours, MD5: "m5"},
			&jamf.Package{HashType: "MD5", HashValue: "M5", Size: 1000, SizeKnown: true, TransferStatus: "READY"}, tickLanded},
		{"our hash but not READY yet", prev, want, rec(ours, 1000, true, ""), tickProcessing},
		{"our hash with the old size: the flip during processing", prev, want, rec(ours, 400, true, "READY"), tickProcessing},
		{"our hash, size blank", prev, want, rec(ours, 0, false, "READY"), tickProcessing},
		{"still the previous file", prev, want, rec(prev, 400, true, "READY"), tickProcessing},
		{"previous hash with size 0 is an old zero, not a loss", prev, want, rec(prev, 0, true, "READY"), tickProcessing},
		{"no hash yet with size 0", prev, want, rec("", 0, true, ""), tickProcessing},
		{"lost: hash moved and size 0", prev, want, rec(other, 0, true, "READY"), tickLost},
		{"lost: our hash but size 0", prev, want, rec(ours, 0, true, "READY"), tickLost},
		{"lost on a first send (no previous hash)", "", want, rec(other, 0, true, ""), tickLost},
		{"an empty file really has size 0", prev, settleWant{Size: 0, SHA3: ours}, rec(ours, 0, true, "READY"), tickLanded},
		{"corrupt: neither hash, our size", prev, want, rec(other, 1000, true, "READY"), tickCorrupt},
		{"corrupt even before READY", prev, want, rec(other, 1000, true, ""), tickCorrupt},
		{"another hash with another size is still processing", prev, want, rec(other, 400, true, "READY"), tickProcessing},
		{"another hash, size blank", prev, want, rec(other, 0, false, ""), tickProcessing},
		{"ERROR", prev, want, rec(prev, 400, true, "ERROR"), tickFailed},
		{"ERROR with our hash and size is not READY", prev, want, rec(ours, 1000, true, "ERROR"), tickFailed},
		{"no object on this pod yet", prev, want, nil, tickProcessing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyTick(tt.prev, tt.want, tt.rec); got != tt.is {
				t.Errorf("classifyTick = %s, want %s", got, tt.is)
			}
		})
	}
}

func TestTickReason(t *testing.T) {
	want := settleWant{Size: 1000, SHA3: "aaaa"}
	tests := []struct {
		rec  *jamf.Package
		says string
	}{
		{nil, "does not show the package object"},
		{&jamf.Package{SHA3512: "bbbb", Size: 400, SizeKnown: true, TransferStatus: "READY"}, "still shows the file from before"},
		{&jamf.Package{SHA3512: "aaaa", SizeKnown: false, TransferStatus: "READY"}, "the file is in and still processing (our SHA3-512, size blank"},
		{&jamf.Package{SHA3512: "cccc", Size: 400, SizeKnown: true}, "not ours yet (size 400 of 1000, no status"},
	}
	for _, tt := range tests {
		if got := tickReason("bbbb", want, tt.rec); !strings.Contains(got, tt.says) {
			t.Errorf("tickReason = %q, want it to say %q", got, tt.says)
		}
	}
}
