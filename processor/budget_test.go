package processor

import (
	"testing"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
)

// refreshPace is what the waiting itself adds to processing: the first
// per-file refresh (about 4 s), a full refresh's 15 s rate limit, and one
// poll interval (the provider polls every 10 s) after the file is ready.
const refreshPace = 4*time.Second + 15*time.Second + 10*time.Second

// The default budget covers the simulator's default processing time (the
// pace of jamf-upload #399) for every size up to 30 GB, with the refresh
// pace and a margin.
func TestDefaultVerifyBudgetCoversProcessing(t *testing.T) {
	const gb = 1_000_000_000
	sizes := []int64{0, 1, 1 << 20, 100e6, 1 * gb, 3_840_000_000, 5 * gb, 10 << 30, 10_850_000_000, 20 * gb, 30 * gb}
	for s := int64(0); s <= 30*gb; s += 250e6 {
		sizes = append(sizes, s)
	}
	for _, size := range sizes {
		budget := defaultVerifyBudget(size)
		proc := jamfsim.DefaultProcessingTime(size) // jamf-upload #399's pace
		// The margin: a quarter of the processing time, and never less
		// than a minute, on top of processing and the refresh pace.
		margin := max(time.Minute, proc/4)
		if need := proc + refreshPace + margin; budget < need {
			t.Errorf("size %d: budget %s < processing %s + refresh pace %s + margin %s", size, budget, proc, refreshPace, margin)
		}
		if budget < 600*time.Second {
			t.Errorf("size %d: budget %s is below today's default of 600 s", size, budget)
		}
		if budget > 24*time.Hour {
			t.Errorf("size %d: budget %s is above verify_timeout's limit of one day", size, budget)
		}
	}
}

func TestDefaultVerifyBudgetRows(t *testing.T) {
	tests := []struct {
		size int64
		want time.Duration
	}{
		{0, 600 * time.Second},
		{-1, 600 * time.Second},
		{1 << 30, 600 * time.Second},       // small files keep today's default
		{3_840_000_000, 600 * time.Second}, // the floor's end: 480 s + 2 min
		// jamf-upload #399's 10.85 GB: about 15 min of processing at that
		// reporter's pace, a budget of 24.6 min.
		{10_850_000_000, 1356250*time.Millisecond + 2*time.Minute},
		{30_000_000_000, 3750*time.Second + 2*time.Minute},
		{1 << 62, 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := defaultVerifyBudget(tt.size); got != tt.want {
			t.Errorf("defaultVerifyBudget(%d) = %s, want %s", tt.size, got, tt.want)
		}
	}
}

func TestDefaultVerifyBudgetGrows(t *testing.T) {
	prev := time.Duration(0)
	for size := int64(0); size <= 30_000_000_000; size += 10_000_000 {
		b := defaultVerifyBudget(size)
		if b < prev {
			t.Fatalf("budget shrinks at size %d: %s after %s", size, b, prev)
		}
		prev = b
	}
}
