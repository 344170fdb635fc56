package processor

import "time"

// The default verify budget, used when verify_timeout is not set. Real
// processing grows with the file: a 10.85 GB package on Jamf Pro 11.30.2
// outlasted JamfPackageUploader's verification and the reporter suggests
// allowing 15 minutes (grahampugh/jamf-upload #399), a pace of about
// 12 MB/s. The budget assumes a slower 8 MB/s (our choice: a busy instance
// must not fail a file that is merely slow), plus a fixed allowance for the
// refresh pace: a file's first refresh takes about 4 s and later ones about
// 200 ms (terraform-provider-jamfplatform helpers.go), a full refresh runs at
// most once per 15 s, and the last poll may come one poll interval after
// the file is ready. It is never below today's fixed default.
const (
	verifyBudgetFloor = defaultVerifySeconds * time.Second
	verifyBudgetRate  = 8_000_000 // bytes per second assumed for processing
	verifyBudgetFixed = 2 * time.Minute
	// verifyBudgetCeiling is verify_timeout's own upper bound (one day).
	verifyBudgetCeiling = 24 * time.Hour
)

// defaultVerifyBudget is how long to wait, after the last byte of a file of
// size bytes is sent, for every pod to show it READY when the user set no
// verify_timeout: 10 minutes up to about 3.8 GB, then size/8 MB/s + 2 min
// (25 min for 10.85 GB, 64.5 min for 30 GB). A budget the user sets is used
// as given instead.
func defaultVerifyBudget(size int64) time.Duration {
	if size <= 0 {
		return verifyBudgetFloor
	}
	secs := float64(size) / verifyBudgetRate
	if secs >= verifyBudgetCeiling.Seconds() {
		return verifyBudgetCeiling
	}
	d := time.Duration(secs*float64(time.Second)) + verifyBudgetFixed
	return min(max(d, verifyBudgetFloor), verifyBudgetCeiling)
}
