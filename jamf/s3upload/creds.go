package s3upload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
)

const (
	// defaultExpiryWindow matches JamfSync: renew when within a minute of expiry.
	defaultExpiryWindow = 60 * time.Second
	// renewRetryAfter is how long still-valid credentials are reused after a
	// failed renewal before renewal is tried again.
	renewRetryAfter = 5 * time.Second
)

// NewRenewingProvider returns credentials that start as initial and are
// renewed through renew (JCDS renew-credentials) shortly before they expire,
// so an upload that outlives one set of temporary credentials still
// finishes. Every set is registered with package secret.
//
// The renewal margin is 60 s, or a quarter of the initial lifetime when that
// is shorter than four minutes (short-lived credentials in tests).
func NewRenewingProvider(initial aws.Credentials, renew func(ctx context.Context) (aws.Credentials, error)) aws.CredentialsProvider {
	now := time.Now()
	window := expiryWindow(initial, now)
	p := &renewingProvider{current: initial, renew: renew, window: window, now: time.Now}
	registerCredentials(initial)
	return aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = window })
}

func expiryWindow(c aws.Credentials, now time.Time) time.Duration {
	if !c.CanExpire {
		return defaultExpiryWindow
	}
	life := c.Expires.Sub(now)
	if life <= 0 || life >= 4*defaultExpiryWindow {
		return defaultExpiryWindow
	}
	return life / 4
}

func registerCredentials(c aws.Credentials) {
	secret.Register(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

type renewingProvider struct {
	mu      sync.Mutex
	current aws.Credentials
	handed  bool // the initial set has been given out once
	renew   func(ctx context.Context) (aws.Credentials, error)
	window  time.Duration
	now     func() time.Time
}

// Retrieve is called by the cache only when the set it holds is within the
// expiry window, so after the first call it always renews.
func (p *renewingProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if !p.handed {
		p.handed = true
		if !p.current.CanExpire || now.Before(p.current.Expires) {
			return p.current, nil
		}
	}
	if p.renew == nil {
		if p.current.CanExpire && !now.Before(p.current.Expires) {
			return aws.Credentials{}, errors.New("S3 credentials expired and no renewal is configured")
		}
		return p.current, nil
	}
	c, err := p.renew(ctx)
	if err == nil && (c.AccessKeyID == "" || c.SecretAccessKey == "") {
		err = errors.New("renewal returned empty credentials")
	}
	if err != nil {
		err = secret.Error(fmt.Errorf("renew S3 credentials: %w", err))
		if p.current.CanExpire && now.Before(p.current.Expires) {
			// The current set still works: keep using it for a few seconds
			// and try again, rather than failing a part over a blip.
			c := p.current
			retry := now.Add(p.window + renewRetryAfter)
			if retry.Before(c.Expires) {
				c.Expires = retry
			}
			return c, nil
		}
		return aws.Credentials{}, err
	}
	registerCredentials(c)
	if c.Source == "" {
		c.Source = "renewing"
	}
	p.current = c
	return c, nil
}
