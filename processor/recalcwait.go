package processor

import "context"

// refreshWait pauses before an inventory refresh. Tests replace it to
// record the pause instead of sitting through it.
var refreshWait = sleep

// waitBeforeRefresh waits recalculate_wait_time before the first inventory
// refresh of the run, as JamfPackageUploader does before its refresh
// request: some sites give Jamf Pro time to take in the new file first.
// Later refreshes in the same run do not wait again.
func (u *uploader) waitBeforeRefresh(ctx context.Context) error {
	if u.cfg.RecalculateWait <= 0 || u.refreshWaited {
		return nil
	}
	u.refreshWaited = true
	u.log.Info().Msgf("Waiting %s before asking for a cloud distribution point inventory refresh (recalculate_wait_time)", u.cfg.RecalculateWait)
	return refreshWait(ctx, u.cfg.RecalculateWait)
}
