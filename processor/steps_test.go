package processor

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// fakeJamf answers the few calls a step's test is about; any other call
// panics (the embedded interface is nil), so a step that asks more than
// its test expects fails loudly.
type fakeJamf struct {
	jamfAPI
	refreshes []string // file names of the inventory refreshes asked for ("" all)
}

func (f *fakeJamf) RefreshInventory(_ context.Context, fileName string, _ jamf.Version) (bool, error) {
	f.refreshes = append(f.refreshes, fileName)
	return fileName != "", nil
}

// The recalculate step Decide chooses asks for nothing itself: on 11.11+
// the settle step's refresh is the recalculation (packages_recalculated
// says whether one went through); before 11.11 there is none to ask for,
// and the run says so.
func TestRecalculateStep(t *testing.T) {
	tests := []struct {
		name    string
		version string
		classic bool
		sofar   did
		recalc  bool
		warned  bool
	}{
		{"after the settle step's refresh", "11.25.0", false, did{Refreshed: true, Waited: true}, true, false},
		{"before 11.11: no refresh to ask for", "11.10.0", false, did{}, false, true},
		{"classic: no refresh to ask for", "11.4.0", true, did{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := jamf.ParseVersion(tt.version)
			plan := Decide(&Config{Recalculate: true}, Facts{FileName: "App.pkg", LocalSize: 100, Mode: ModeJCDS2,
				Classic: tt.classic, CanRefresh: v.AtLeast(11, 11)})
			st, ok := plan.Steps[len(plan.Steps)-1].(recalculate)
			if !ok {
				t.Fatalf("last step %T, want recalculate", plan.Steps[len(plan.Steps)-1])
			}
			fake := &fakeJamf{}
			var log bytes.Buffer
			u := &uploader{cfg: &Config{URL: "https://x.example"}, version: v, log: zerolog.New(&log), client: fake}
			d, err := st.apply(context.Background(), u, stepInput{sofar: tt.sofar})
			if err != nil {
				t.Fatal(err)
			}
			if len(fake.refreshes) != 0 {
				t.Errorf("refreshes %q, want none of its own", fake.refreshes)
			}
			if d.Recalc != tt.recalc {
				t.Errorf("packages_recalculated %v, want %v", d.Recalc, tt.recalc)
			}
			if got := strings.Contains(log.String(), "recalculate needs Jamf Pro 11.11 or later"); got != tt.warned {
				t.Errorf("warned %v, want %v: %s", got, tt.warned, log.String())
			}
		})
	}
}

// settleFake answers the settle step: each GET returns the next record
// (the last repeats), and every call is noted in order.
type settleFake struct {
	fakeJamf
	records []jamf.Package
	gets    int
	calls   []string
}

func (f *settleFake) EnsureFreshToken(context.Context) error { return nil }

func (f *settleFake) RefreshInventory(ctx context.Context, fileName string, v jamf.Version) (bool, error) {
	f.calls = append(f.calls, "refresh "+fileName)
	return true, nil
}

func (f *settleFake) GetPackage(_ context.Context, id string) (*jamf.Package, error) {
	f.calls = append(f.calls, "get "+id)
	f.gets++
	rec := f.records[min(f.gets, len(f.records))-1]
	return &rec, nil
}

// The settle step refreshes and reads the record until it shows the sent
// file READY with its size and digest; a new hash with size 0 after a
// refresh is a
// NotLandedError, which the attempt answers with a new plan.
func TestSettleStep(t *testing.T) {
	blank := jamf.Package{ID: "7", FileName: "App.pkg", TransferStatus: "READY"}
	ready := jamf.Package{ID: "7", FileName: "App.pkg", TransferStatus: "READY", Size: 100, SizeKnown: true, HashType: "SHA3_512", HashValue: "AA"}
	zero := jamf.Package{ID: "7", FileName: "App.pkg", SizeKnown: true, HashType: "SHA3_512", HashValue: "EE"}
	tests := []struct {
		name    string
		records []jamf.Package
		calls   string // in order: a per-file refresh (11.14+) before each read, no faster than the refresh pace
		lost    bool
	}{
		{"ready at once", []jamf.Package{ready}, "refresh App.pkg, get 7", false},
		{"blank until processed", []jamf.Package{blank, blank, blank, ready}, "refresh App.pkg, get 7, refresh App.pkg, get 7, refresh App.pkg, get 7, refresh App.pkg, get 7", false},
		{"a new hash with size 0 after a refresh: never landed", []jamf.Package{zero}, "refresh App.pkg, get 7", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				v, _ := jamf.ParseVersion("11.25.0")
				fake := &settleFake{records: tt.records}
				u := &uploader{cfg: &Config{VerifyTimeout: time.Minute}, version: v, log: zerolog.Nop(), client: fake,
					local: &local{PkgFile: &PkgFile{Name: "App.pkg", Size: 100}}, journal: &journal{}}
				step := Decide(&Config{}, Facts{FileName: "App.pkg", LocalSize: 100, Mode: ModeJCDS2, CanRefresh: true}).Steps
				st, ok := step[len(step)-1].(settle)
				if !ok {
					t.Fatalf("last step %T, want settle", step[len(step)-1])
				}
				// The send before it computed the file's SHA3-512.
				d, err := st.apply(context.Background(), u, stepInput{sofar: did{ID: "7", Sums: s3upload.Sums{SHA3_512: "aa"}}})
				var lost *NotLandedError
				if errors.As(err, &lost) != tt.lost || (!tt.lost && err != nil) {
					t.Fatalf("err = %v, want lost %v", err, tt.lost)
				}
				if got := strings.Join(fake.calls, ", "); got != tt.calls {
					t.Errorf("calls %q, want %q", got, tt.calls)
				}
				if !tt.lost && (!d.Verified || !d.Refreshed || !d.PerFile) {
					t.Errorf("did %+v, want verified after a per-file refresh", d)
				}
			})
		})
	}
}
