// Package poll waits for something a server reports: one policy for the
// interval, the backoff, the deadline and a server's Retry-After, in place
// of a hand-written loop at each place a run waits.
//
// It keeps no clock of its own: it calls time.Now and waits on timers, so a
// test run in a testing/synctest bubble passes minutes of waiting in
// milliseconds, exactly, and asserts what happened in order rather than how
// long it took.
package poll

import (
	"context"
	"fmt"
	"time"
)

// Policy says how often to look and for how long.
type Policy struct {
	// Interval is the wait after the first look. Zero looks again at once.
	Interval time.Duration
	// MaxInterval caps the backoff: each wait doubles the last, up to it.
	// Zero (or anything below Interval) keeps every wait at Interval.
	MaxInterval time.Duration
	// Timeout ends the wait this long after it started; zero waits until
	// the context ends.
	Timeout time.Duration
}

// Tick is what one look found.
type Tick struct {
	// Done ends the wait: the thing waited for is there.
	Done bool
	// After, when above the policy's next wait, is the least time before
	// the next look (a server's Retry-After, a rate limit).
	After time.Duration
	// Reason says what the look saw while not done; a timeout reports the
	// last one, so its error says what was still missing.
	Reason string
}

// TimeoutError is returned when Policy.Timeout passes before a look is done.
type TimeoutError struct {
	Waited time.Duration // from the start of the wait to the last look
	Looks  int           // how many looks were made
	Reason string        // the last look's Reason
}

func (e *TimeoutError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("still waiting after %s (%d checks)", e.Waited.Round(time.Second), e.Looks)
	}
	return fmt.Sprintf("still waiting after %s (%d checks): %s", e.Waited.Round(time.Second), e.Looks, e.Reason)
}

// Until looks at once, then after each wait, until a look is done, returns
// an error, the timeout passes or ctx ends. A look's error ends the wait
// as it is, for the caller to wrap; a look that should be retried says so
// with a Tick, not an error. When ctx ends, Until returns context.Cause, so
// a stop's reason (a signal, say) reaches the caller.
func Until(ctx context.Context, p Policy, look func(ctx context.Context) (Tick, error)) error {
	start := time.Now()
	wait := p.Interval
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		tick, err := look(ctx)
		if err != nil {
			return err
		}
		if tick.Done {
			return nil
		}
		next := wait
		if tick.After > next {
			next = tick.After
		}
		if p.Timeout > 0 {
			left := p.Timeout - time.Since(start)
			if left <= 0 {
				return &TimeoutError{Waited: time.Since(start), Looks: n, Reason: tick.Reason}
			}
			// The last look falls on the deadline, not past it.
			next = min(next, left)
		}
		if err := Sleep(ctx, next); err != nil {
			return err
		}
		if p.MaxInterval > p.Interval {
			wait = min(2*wait, p.MaxInterval)
		}
	}
}

// Sleep waits for d or until ctx ends, whichever is first, and then returns
// context.Cause(ctx) if ctx ended.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
