package poll

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestUntil(t *testing.T) {
	tests := []struct {
		name      string
		policy    Policy
		ticks     []Tick // what each look returns; the last repeats
		wantLooks []time.Duration
		wantErr   bool
	}{
		{"done at once", Policy{Interval: time.Second}, []Tick{{Done: true}}, []time.Duration{0}, false},
		{"fixed interval", Policy{Interval: 2 * time.Second}, []Tick{{}, {}, {Done: true}}, []time.Duration{0, 2 * time.Second, 4 * time.Second}, false},
		{"backoff to a cap", Policy{Interval: time.Second, MaxInterval: 4 * time.Second},
			[]Tick{{}, {}, {}, {}, {Done: true}}, []time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second, 11 * time.Second}, false},
		{"retry-after is a floor", Policy{Interval: time.Second}, []Tick{{After: 10 * time.Second}, {Done: true}}, []time.Duration{0, 10 * time.Second}, false},
		{"last look on the deadline", Policy{Interval: 4 * time.Second, Timeout: 10 * time.Second},
			[]Tick{{Reason: "PENDING"}}, []time.Duration{0, 4 * time.Second, 8 * time.Second, 10 * time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var looks []time.Duration
				err := Until(context.Background(), tt.policy, func(context.Context) (Tick, error) {
					looks = append(looks, time.Since(start))
					return tt.ticks[min(len(looks), len(tt.ticks))-1], nil
				})
				if (err != nil) != tt.wantErr {
					t.Fatalf("err = %v, want error %v", err, tt.wantErr)
				}
				if len(looks) != len(tt.wantLooks) {
					t.Fatalf("looks at %v, want %v", looks, tt.wantLooks)
				}
				for i := range looks {
					if looks[i] != tt.wantLooks[i] {
						t.Fatalf("looks at %v, want %v", looks, tt.wantLooks)
					}
				}
				var te *TimeoutError
				if tt.wantErr && (!errors.As(err, &te) || te.Reason != "PENDING" || te.Looks != len(tt.wantLooks)) {
					t.Fatalf("err = %#v, want a TimeoutError with the last reason and %d looks", err, len(tt.wantLooks))
				}
			})
		})
	}
}

func TestUntilStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stop := errors.New("SIGTERM")
		ctx, cancel := context.WithCancelCause(context.Background())
		// Half a second off the looks' ticks: a stop at the instant of a
		// look's timer would race it, on the fake clock too.
		time.AfterFunc(4500*time.Millisecond, func() { cancel(stop) })
		looks := 0
		err := Until(ctx, Policy{Interval: time.Second}, func(context.Context) (Tick, error) { looks++; return Tick{}, nil })
		if !errors.Is(err, stop) {
			t.Fatalf("err = %v, want the cancel's cause", err)
		}
		if looks != 5 {
			t.Fatalf("%d looks in 4.5 s at 1 s, want 5", looks)
		}
	})
}

func TestUntilReturnsALooksError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("500")
		err := Until(context.Background(), Policy{Interval: time.Second}, func(context.Context) (Tick, error) { return Tick{}, boom })
		if err != boom {
			t.Fatalf("err = %v, want the look's own error", err)
		}
	})
}
