package s3upload

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
)

func TestExpiryWindow(t *testing.T) {
	now := epoch
	tests := []struct {
		name string
		c    aws.Credentials
		want time.Duration
	}{
		{"never expires", aws.Credentials{}, time.Minute},
		{"one hour", aws.Credentials{CanExpire: true, Expires: now.Add(time.Hour)}, time.Minute},
		{"four minutes", aws.Credentials{CanExpire: true, Expires: now.Add(4 * time.Minute)}, time.Minute},
		{"two minutes", aws.Credentials{CanExpire: true, Expires: now.Add(2 * time.Minute)}, 30 * time.Second},
		{"two seconds", aws.Credentials{CanExpire: true, Expires: now.Add(2 * time.Second)}, 500 * time.Millisecond},
		{"already expired", aws.Credentials{CanExpire: true, Expires: now.Add(-time.Second)}, time.Minute},
	}
	for _, tt := range tests {
		if got := expiryWindow(tt.c, now); got != tt.want {
			t.Errorf("%s: window %v, want %v", tt.name, got, tt.want)
		}
	}
}

func creds(id string, expires time.Time) aws.Credentials {
	return aws.Credentials{AccessKeyID: "AKIA" + id, SecretAccessKey: "secret-" + id, SessionToken: "token-" + id, CanExpire: true, Expires: expires}
}

func TestRenewingProviderRetrieve(t *testing.T) {
	now := epoch
	errRenew := errors.New("jamf said no")
	tests := []struct {
		name       string
		initial    aws.Credentials
		calls      int // Retrieve calls before the checked one
		renewErr   error
		wantKey    string
		wantErr    bool
		wantExpiry time.Time
	}{
		{"first call hands out the initial set", creds("init1", now.Add(time.Hour)), 0, nil, "AKIAinit1", false, now.Add(time.Hour)},
		{"initial set already expired is renewed at once", creds("init2", now.Add(-time.Second)), 0, nil, "AKIAnew", false, now.Add(time.Hour)},
		{"later calls renew", creds("init3", now.Add(30*time.Second)), 1, nil, "AKIAnew", false, now.Add(time.Hour)},
		{"failed renewal keeps a still valid set briefly", creds("init4", now.Add(30*time.Second)), 1, errRenew, "AKIAinit4", false, now.Add(7500*time.Millisecond + renewRetryAfter)},
		{"failed renewal of an expired set fails", creds("init5", now.Add(-time.Second)), 1, errRenew, "", true, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var renewed atomic.Int32
			p := &renewingProvider{current: tt.initial, window: expiryWindow(tt.initial, now), now: func() time.Time { return now },
				renew: func(context.Context) (aws.Credentials, error) {
					renewed.Add(1)
					if tt.renewErr != nil {
						return aws.Credentials{}, tt.renewErr
					}
					return creds("new", now.Add(time.Hour)), nil
				}}
			for i := 0; i < tt.calls; i++ {
				_, _ = p.Retrieve(context.Background())
			}
			got, err := p.Retrieve(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, errRenew) || !strings.Contains(err.Error(), "renew S3 credentials") {
					t.Errorf("error %q should wrap the renewal failure", err)
				}
				return
			}
			if got.AccessKeyID != tt.wantKey || !got.Expires.Equal(tt.wantExpiry) {
				t.Errorf("got %s expiring %v, want %s expiring %v", got.AccessKeyID, got.Expires, tt.wantKey, tt.wantExpiry)
			}
		})
	}
}

// Renewed sets are registered as secrets as soon as they arrive.
func TestRenewingProviderRegistersSecrets(t *testing.T) {
	init := creds("regInit", time.Now().Add(-time.Second))
	next := creds("regNext", time.Now().Add(time.Hour))
	p := NewRenewingProvider(init, func(context.Context) (aws.Credentials, error) { return next, nil })
	if _, err := p.Retrieve(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{init.AccessKeyID, init.SecretAccessKey, init.SessionToken, next.AccessKeyID, next.SecretAccessKey, next.SessionToken} {
		if got := secret.Scrub("x " + v + " y"); got != "x "+secret.Mask+" y" {
			t.Errorf("%s not registered: %q", v, got)
		}
	}
}

// Through the SDK's cache, the set is renewed once it is within the window
// of its expiry and not before.
func TestRenewingProviderThroughCache(t *testing.T) {
	start := time.Now()
	var renewals atomic.Int32
	p := NewRenewingProvider(creds("cache0", start.Add(800*time.Millisecond)), func(context.Context) (aws.Credentials, error) {
		renewals.Add(1)
		return creds("cache1", time.Now().Add(time.Hour)), nil
	})
	c, err := p.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIAcache0" || renewals.Load() != 0 {
		t.Fatalf("first: %v %v renewals=%d", c.AccessKeyID, err, renewals.Load())
	}
	// The window is 200ms: at 600ms+ the set must be renewed.
	time.Sleep(time.Until(start.Add(650 * time.Millisecond)))
	c, err = p.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIAcache1" || renewals.Load() != 1 {
		t.Fatalf("after window: %v %v renewals=%d", c.AccessKeyID, err, renewals.Load())
	}
	c, _ = p.Retrieve(context.Background())
	if c.AccessKeyID != "AKIAcache1" || renewals.Load() != 1 {
		t.Fatalf("fresh set must be cached: %v renewals=%d", c.AccessKeyID, renewals.Load())
	}
}
