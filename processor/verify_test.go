package processor

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
)

func testUploader(version string) *uploader {
	v, _ := jamf.ParseVersion(version)
	return &uploader{cfg: &Config{}, version: v, log: zerolog.Nop(), local: &local{PkgFile: &PkgFile{Name: "App.pkg", Size: 100}}}
}

// A record counts as the file only when it shows it whole; what each
// record is short of reads as not landed.
func TestRecordLanded(t *testing.T) {
	local := settleWant{FileName: "App.pkg", Size: 100, SHA3: "aa", MD5: "mm"}
	md5Only := settleWant{FileName: "App.pkg", Size: 100, MD5: "mm"}
	kept := settleWant{FileName: "App.pkg", Size: -1}
	tests := []struct {
		name string
		rec  jamf.Package
		want settleWant
		ok   bool
	}{
		{"whole", jamf.Package{Size: 100, SizeKnown: true, TransferStatus: "READY", HashType: "SHA3_512", HashValue: "AA", MD5: "mm"}, local, true},
		{"pending", jamf.Package{Size: 100, SizeKnown: true, TransferStatus: "PENDING", HashType: "SHA3_512", HashValue: "aa"}, local, false},
		{"size blank after a write", jamf.Package{TransferStatus: "READY", HashType: "SHA3_512", HashValue: "aa"}, local, false},
		{"size 0: never landed", jamf.Package{Size: 0, SizeKnown: true, TransferStatus: "READY", HashType: "SHA3_512", HashValue: "aa"}, local, false},
		{"new hash, old size", jamf.Package{Size: 90, SizeKnown: true, TransferStatus: "READY", HashType: "SHA3_512", HashValue: "aa"}, local, false},
		{"old hash", jamf.Package{Size: 100, SizeKnown: true, TransferStatus: "READY", HashType: "SHA3_512", HashValue: "bb"}, local, false},
		{"empty status: no file in this node's inventory", jamf.Package{Size: 100, SizeKnown: true, StatusShown: true, HashType: "SHA3_512", HashValue: "aa", MD5: "mm"}, local, false},
		{"sha3512 field only (11.25)", jamf.Package{Size: 100, SizeKnown: true, TransferStatus: "READY", StatusShown: true, SHA3512: "AA"}, local, true},
		{"no status field (older server), MD5 only", jamf.Package{Size: 100, SizeKnown: true, MD5: "MM"}, md5Only, true},
		{"no digest yet", jamf.Package{Size: 100, SizeKnown: true, TransferStatus: "READY"}, local, false},
		{"kept file: any size, a digest", jamf.Package{Size: 7, SizeKnown: true, TransferStatus: "READY", HashType: "SHA3_512", HashValue: "zz"}, kept, true},
		{"kept file: still blank", jamf.Package{TransferStatus: "READY", HashType: "SHA3_512", HashValue: "zz"}, kept, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifyTick("", tt.want, &tt.rec)
			if (got == tickLanded) != tt.ok {
				t.Errorf("classifyTick = %s (%s), want landed %v", got, tickReason("", tt.want, &tt.rec), tt.ok)
			}
		})
	}
}

func TestUnsettled(t *testing.T) {
	tests := []struct {
		name    string
		version string
		p       *jamf.Package
		want    bool
	}{
		{"none", "11.25.0", nil, false},
		{"whole", "11.25.0", &jamf.Package{Size: 5, SizeKnown: true, TransferStatus: "READY"}, false},
		{"pending", "11.25.0", &jamf.Package{Size: 5, SizeKnown: true, TransferStatus: "PENDING"}, true},
		{"error", "11.25.0", &jamf.Package{Size: 5, SizeKnown: true, TransferStatus: "ERROR"}, true},
		{"size 0", "11.25.0", &jamf.Package{Size: 0, SizeKnown: true, TransferStatus: "READY"}, true},
		{"availability pending", "11.25.0", &jamf.Package{TransferStatus: "READY"}, true},
		{"blank size, no refresh to fill it", "11.10.0", &jamf.Package{TransferStatus: "READY"}, false},
		{"blank size, empty status: not refreshed since the upload", "11.25.0", &jamf.Package{StatusShown: true}, true},
		{"empty status, size known: settled", "11.25.0", &jamf.Package{Size: 5, SizeKnown: true, StatusShown: true}, false},
		{"empty status, size 0: never landed", "11.25.0", &jamf.Package{SizeKnown: true, StatusShown: true}, true},
		{"blank size, no status (a node whose inventory has not caught up)", "11.25.0", &jamf.Package{}, true},
		{"no status, size known", "11.25.0", &jamf.Package{Size: 5, SizeKnown: true}, false},
		{"Classic", "11.4.0", &jamf.Package{TransferStatus: "PENDING"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testUploader(tt.version).unsettled(tt.p); got != tt.want {
				t.Errorf("unsettled = %v, want %v", got, tt.want)
			}
		})
	}
}

// The wait comes once per run, before the first refresh only.
func TestWaitBeforeRefreshOnce(t *testing.T) {
	var waits []time.Duration
	record := func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}

	for _, tt := range []struct {
		wait time.Duration
		want int
	}{{0, 0}, {7 * time.Second, 1}} {
		waits = nil
		r := &refresher{wait: tt.wait, sleep: record, log: zerolog.Nop()}
		for i := 0; i < 2; i++ {
			if err := r.waitOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if len(waits) != tt.want || (tt.want == 1 && waits[0] != tt.wait) {
			t.Errorf("wait %v: waited %v", tt.wait, waits)
		}
	}
}
