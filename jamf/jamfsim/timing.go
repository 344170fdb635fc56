package jamfsim

import (
	"context"
	"time"
)

// Real servers' pace. Every duration here is waited with plain time calls
// (time.Now, timers), so a test in a testing/synctest bubble runs them on
// the bubble's fake clock; Options.TimeScale divides them for wall-clock
// use.

// DefaultProcessingRate is how fast the simulated service processes an
// upload, in bytes per second: a 10.85 GB package on Jamf Pro 11.30.2
// outlasted JamfPackageUploader's verification and the reporter suggests
// allowing 15 minutes (grahampugh/jamf-upload#399), so 10.85e9 bytes in
// 900 s, about 12 MB/s. No source gives a measured rate; this is the
// slowest pace that report supports.
const DefaultProcessingRate = 12_000_000 // bytes per second

// DefaultProcessingTime is the service's processing time for an upload of
// size bytes at DefaultProcessingRate.
func DefaultProcessingTime(size int64) time.Duration {
	if size <= 0 {
		return 0
	}
	return time.Duration(float64(size) / DefaultProcessingRate * float64(time.Second))
}

// ProcessingTimeAtRate is the processing time at rate bytes per second
// (the standalone simulator's -processing-rate).
func ProcessingTimeAtRate(rate float64) func(size int64) time.Duration {
	return func(size int64) time.Duration {
		if size <= 0 || rate <= 0 {
			return 0
		}
		return time.Duration(float64(size) / rate * float64(time.Second))
	}
}

// Token lifetimes when Options.TokenTTL is not set: an API client's token
// lives 60 s (the default users report, grahampugh/jamf-upload#297), a
// basic-auth token 30 minutes.
const (
	DefaultOAuthTokenTTL = 60 * time.Second
	DefaultBasicTokenTTL = 30 * time.Minute
)

// How long an inventory refresh takes to answer: "slow (~4s) on first
// call, fast (~200ms) afterwards" (terraform-provider-jamfplatform
// internal/resources/pro/package/helpers.go). The first call is counted
// per pod and file name, and starts again with each new upload of the
// name; a full refresh takes the first call's time (choices: the source
// speaks of one file's polls on one instance).
const (
	FirstRefreshTime = 4 * time.Second
	LaterRefreshTime = 200 * time.Millisecond
)

// AtPace sets, where opts leaves them unset, the service's refresh and
// processing times to Jamf Cloud's divided by scale. It is for test rigs
// that already give their other durations (cluster lag, fault latencies)
// at that scale in wall-clock time; Options.TimeScale instead divides
// every duration, the given ones too. With TimeScale set it does nothing.
func (o *Options) AtPace(scale float64) {
	if o.TimeScale != 0 || scale <= 0 {
		return
	}
	if o.FirstRefreshTime == 0 {
		o.FirstRefreshTime = scaleDuration(FirstRefreshTime, scale)
	}
	if o.LaterRefreshTime == 0 {
		o.LaterRefreshTime = scaleDuration(LaterRefreshTime, scale)
	}
	if o.ProcessingTime == nil && o.ProcessingDelay == 0 {
		o.ProcessingTime = func(size int64) time.Duration { return scaleDuration(DefaultProcessingTime(size), scale) }
	}
}

func scaleDuration(d time.Duration, scale float64) time.Duration {
	if d <= 0 || scale == 1 || scale <= 0 {
		return d
	}
	return time.Duration(float64(d) / scale)
}

// scaled divides a simulated duration by Options.TimeScale.
func (s *Server) scaled(d time.Duration) time.Duration { return scaleDuration(d, s.opts.TimeScale) }

// processingTime is the scaled processing time of an upload of size bytes.
func (s *Server) processingTime(size int64) time.Duration {
	switch {
	case s.opts.ProcessingTime != nil:
		return s.scaled(s.opts.ProcessingTime(size))
	case s.opts.ProcessingDelay > 0:
		return s.opts.ProcessingDelay // scaled in New
	case s.opts.ProcessingDelay < 0:
		return 0
	}
	return s.scaled(DefaultProcessingTime(size))
}

// wait sleeps d unless ctx ends or the simulator stops first; it reports
// whether the whole time passed.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.stop:
		return false
	}
}
