package processor

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
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

// The recalculate step asks for one full refresh, after
// recalculate_wait_time unless an earlier step waited it, and none when a
// refresh already ran in the attempt or the server has none.
func TestRecalculateStep(t *testing.T) {
	tests := []struct {
		name      string
		version   string
		sofar     did
		refreshes int
		waited    time.Duration
		recalc    bool
	}{
		{"after a refresh: nothing more", "11.25.0", did{Refreshed: true, Waited: true}, 0, 0, true},
		{"no refresh yet: one full refresh after the wait", "11.25.0", did{}, 1, 7 * time.Second, true},
		{"the wait already waited", "11.25.0", did{Waited: true}, 1, 0, true},
		{"before 11.11: no refresh to ask for", "11.10.0", did{}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				v, _ := jamf.ParseVersion(tt.version)
				fake := &fakeJamf{}
				u := &uploader{cfg: &Config{RecalculateWait: 7 * time.Second}, version: v, log: zerolog.Nop(), client: fake}
				start := time.Now()
				d, err := recalculate{}.apply(context.Background(), u, stepInput{sofar: tt.sofar})
				if err != nil {
					t.Fatal(err)
				}
				if len(fake.refreshes) != tt.refreshes || (tt.refreshes == 1 && fake.refreshes[0] != "") {
					t.Errorf("refreshes %q, want %d full", fake.refreshes, tt.refreshes)
				}
				if got := time.Since(start); got != tt.waited {
					t.Errorf("waited %s, want %s", got, tt.waited)
				}
				if d.Recalc != tt.recalc {
					t.Errorf("packages_recalculated %v, want %v", d.Recalc, tt.recalc)
				}
			})
		})
	}
}
