package jamf

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
)

// request describes one logical call; do sends it up to maxTries times.
type request struct {
	step   string // for errors and logs, e.g. "find package"
	method string
	path   string     // escaped path below the Jamf Pro URL, starting with "/"
	query  url.Values // encoded as a whole, so names need no manual escaping
	// body opens a fresh body for each try (nil: no body), so a retry resends
	// the whole body without holding it in memory.
	body        func() (io.ReadCloser, int64, error)
	contentType string
	accept      string      // default application/json
	header      http.Header // extra headers (token requests set Authorization here)
	noAuth      bool        // token requests carry their own Authorization
	upload      bool        // idle/progress timeouts instead of one per-request timeout
	// jcdsAction ("Create", "Read", "Delete") marks a JCDS call, so a 401/403
	// names the privilege that is probably missing.
	jcdsAction string
	privilege  string         // a fixed privilege name for a 401/403 otherwise
	statusHint map[int]string // what a status means for this call
	sent       *int           // if set, counts the tries sent
	// classic marks a Classic API call: it answers 401 for a missing
	// privilege, so a 401 on a token this run just got is not renewed.
	classic bool
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// maxBody bounds what is read of a success reply; the largest replies are
// the JCDS file list and package lists of at most one page. maxErrorBody
// bounds an error reply: only its first few hundred characters are ever
// shown, and a hostile or broken server must not make the run hold tens of
// megabytes (an RSS goal of 64 MB) for a message nobody reads.
const (
	maxBody      = 64 << 20
	maxErrorBody = 64 << 10
)

// longWait is the pause from which a retry is worth telling a person
// watching (-v) about: the run is not stuck, it is waiting for the server.
const longWait = 5 * time.Second

// maxRetryAfter caps one wait a server may ask for with Retry-After. A
// server that wants more is told no: the run's whole retry budget (five
// tries by default) then stays within minutes, not hours.
const maxRetryAfter = 2 * time.Minute

func bytesBody(b []byte) func() (io.ReadCloser, int64, error) {
	return func() (io.ReadCloser, int64, error) {
		return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
	}
}

func jsonBody(v any) (func() (io.ReadCloser, int64, error), error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return bytesBody(b), nil
}

func (r *request) target() string {
	if len(r.query) == 0 {
		return r.path
	}
	return r.path + "?" + r.query.Encode()
}

// do sends r, retrying network errors, 429 and 5xx with exponential backoff
// and jitter, and renewing the token once on a 401.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	renewed := false
	var lastErr error
	var wait time.Duration
	for try := 1; try <= c.maxTries; {
		if wait > 0 {
			ev := c.log.Debug()
			if wait >= longWait {
				ev = c.log.Info()
			}
			ev.Str("step", r.step).Dur("wait", wait).Int("try", try).Int("of", c.maxTries).Msg("retrying after a pause")
			if err := c.hooks.sleep(ctx, wait); err != nil {
				return nil, secret.Error(fmt.Errorf("%s: %s %s: %w (last error: %v)", r.step, r.method, r.target(), err, lastErr))
			}
		}
		if r.sent != nil {
			*r.sent++
		}
		resp, tok, err := c.once(ctx, r)
		if err != nil {
			if ctx.Err() != nil {
				return nil, secret.Error(fmt.Errorf("%s: %s %s: %w", r.step, r.method, r.target(), ctx.Err()))
			}
			var late *noAnswerError
			if r.upload && errors.As(err, &late) {
				// As a gateway's 502 or 504 below: the answer of an upload
				// that was sent whole may come after 20-minute stalls with
				// the file there (grahampugh/jamf-upload#221). Sending it
				// again could only send it twice; the caller verifies what
				// landed. (A connection dropped after the last byte is
				// still tried again: its last bytes may never have left.)
				return nil, &UploadUnconfirmedError{Err: secret.Error(fmt.Errorf("%s: %s %s: %w", r.step, r.method, r.target(), err))}
			}
			if !retryable(err) {
				if isCertError(err) {
					err = fmt.Errorf("%w (the server's certificate is not trusted: put your CA certificates in a PEM file named by SSL_CERT_FILE, or use insecure mode)", err)
				}
				return nil, secret.Error(fmt.Errorf("%s: %s %s: %w", r.step, r.method, r.target(), err))
			}
			lastErr = err
			wait = c.backoff(try)
			try++
			continue
		}
		switch s := resp.status; {
		case s >= 200 && s < 300:
			return resp, nil
		case s == http.StatusUnauthorized && !r.noAuth && !renewed && c.cred.renewable() && !(r.classic && c.ownFreshToken(tok)):
			// The token may have expired or been revoked since it was
			// checked; renew once and try again without counting a try.
			renewed = true
			c.log.Debug().Str("step", r.step).Msg("token rejected; renewing")
			if err := c.renewToken(ctx, tok); err != nil {
				return nil, err
			}
			wait = 0
			continue
		case r.upload && (s == http.StatusBadGateway || s == http.StatusGatewayTimeout):
			// A gateway's 502 or 504 after the whole file was sent does
			// not say the upload failed: the bytes may have landed
			// (grahampugh/jamf-upload#221: 502 and 504 after 20-minute
			// stalls, the file there). Sending it again blind could only
			// send it twice; the caller verifies what landed.
			return nil, &UploadUnconfirmedError{Err: c.apiError(r, resp, renewed)}
		case s == http.StatusTooManyRequests || s >= 500:
			lastErr = c.apiError(r, resp, renewed)
			wait = c.backoff(try)
			if ra, ok := retryAfter(resp.header.Get("Retry-After"), c.hooks.now()); ok {
				if ra > maxRetryAfter {
					c.log.Info().Str("step", r.step).Dur("asked", ra).Dur("wait", maxRetryAfter).
						Msg("the server asked for a longer pause than this run allows; waiting less")
				}
				wait = min(ra, maxRetryAfter)
			}
			if dl, ok := ctx.Deadline(); ok && c.hooks.now().Add(wait).After(dl) {
				// Waiting past the run's deadline only to be cancelled
				// would hide the server's answer behind a timeout.
				return nil, secret.Error(fmt.Errorf("%s: the server asks to wait %s before trying again, longer than this run has left: %w",
					r.step, wait.Round(time.Second), lastErr))
			}
			try++
			continue
		default:
			return nil, c.apiError(r, resp, renewed)
		}
	}
	return nil, secret.Error(fmt.Errorf("%s: gave up after %d tries: %w", r.step, c.maxTries, lastErr))
}

// once sends one try. tok is the bearer token it used, if any.
func (c *Client) once(ctx context.Context, r request) (resp *response, tok string, err error) {
	if !r.noAuth {
		if tok, err = c.bearer(ctx); err != nil {
			// The token request had its own tries; retrying here would
			// multiply them.
			return nil, "", errPermanent{err}
		}
	}
	var (
		tctx   context.Context
		cancel context.CancelFunc
		dog    *watchdog
	)
	if r.upload {
		dog = newWatchdog(ctx, c.hooks.uploadIdle, c.hooks.uploadReply)
		tctx, cancel = dog.ctx, dog.stop
	} else {
		tctx, cancel = context.WithTimeout(ctx, c.hooks.apiTimeout)
	}
	defer cancel()

	req, err := http.NewRequestWithContext(tctx, r.method, c.base+r.target(), nil)
	if err != nil {
		return nil, tok, errPermanent{err}
	}
	if r.body != nil {
		body, n, err := r.body()
		if err != nil {
			return nil, tok, errPermanent{err}
		}
		if dog != nil {
			body = dog.wrap(body)
		}
		req.Body, req.ContentLength = body, n
		if n == 0 {
			body.Close()
			req.Body = http.NoBody
		}
		req.GetBody = func() (io.ReadCloser, error) {
			b, _, err := r.body()
			return b, err
		}
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "jcds2-uploader")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}

	start := c.hooks.now()
	c.requests.Add(1)
	hr, err := c.hc.Do(req)
	if err != nil {
		if dog != nil && dog.fired() != nil {
			err = dog.fired()
		} else if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s: %w", c.hooks.apiTimeout, err)
		}
		c.log.Debug().Str("step", r.step).Str("method", r.method).Str("path", r.path).Err(err).Msg("request failed")
		return nil, tok, err
	}
	defer hr.Body.Close()
	if dog != nil {
		dog.replied()
	}
	limit := int64(maxBody)
	if hr.StatusCode < 200 || hr.StatusCode >= 300 {
		limit = maxErrorBody
	}
	b, err := io.ReadAll(io.LimitReader(hr.Body, limit+1))
	if err != nil {
		return nil, tok, fmt.Errorf("read reply (HTTP %d): %w", hr.StatusCode, err)
	}
	if int64(len(b)) > limit {
		if limit == maxBody {
			return nil, tok, errPermanent{fmt.Errorf("reply (HTTP %d) is larger than %d MiB; is this really Jamf Pro?", hr.StatusCode, maxBody>>20)}
		}
		// The start of an error body is all that is shown; the rest is
		// left unread and the connection dropped.
		b = b[:limit]
	}
	c.log.Debug().Str("step", r.step).Str("method", r.method).Str("path", r.path).
		Int("status", hr.StatusCode).Dur("took", c.hooks.now().Sub(start)).Msg("jamf request")
	return &response{status: hr.StatusCode, header: hr.Header, body: b}, tok, nil
}

func redirectStatus(req *http.Request) int {
	if req.Response != nil {
		return req.Response.StatusCode
	}
	return 0
}

// RedirectError is a redirect that was refused.
type RedirectError struct {
	Status   int
	From, To *url.URL
}

func (e *RedirectError) Error() string {
	to := redactedURL(e.To)
	switch {
	case e.From.Scheme == "https" && e.To.Scheme != "https":
		return fmt.Sprintf("refused a redirect (HTTP %d) from https to %s: credentials are never sent in clear", e.Status, to)
	case !sameOrigin(e.From, e.To):
		return fmt.Sprintf("refused a redirect (HTTP %d) to another server, %s: credentials are only sent to JSS_URL's own scheme, host and port", e.Status, to)
	}
	return fmt.Sprintf("refused a redirect (HTTP %d) to %s: credentials are not resent across redirects; if that is Jamf Pro's own address, set JSS_URL to it", e.Status, to)
}

// sameOrigin compares scheme, host and port, with default ports spelled out.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// redactedURL shows a URL without user information, query or fragment (a
// redirect target could carry tokens in any of them), escaped for a log.
func redactedURL(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return secret.Escape(v.String())
}

// errPermanent marks errors that a retry cannot fix.
type errPermanent struct{ err error }

func (e errPermanent) Error() string { return e.err.Error() }
func (e errPermanent) Unwrap() error { return e.err }

func retryable(err error) bool {
	var p errPermanent
	if errors.As(err, &p) {
		return false
	}
	// A caller's own error from reading an upload body (the file changed)
	// would fail the same way on every try.
	var final interface{ Permanent() bool }
	if errors.As(err, &final) && final.Permanent() {
		return false
	}
	var apiErr *APIError
	var redirect *RedirectError
	switch {
	case errors.As(err, &redirect):
		return false
	case isCertError(err):
		return false
	case errors.As(err, &apiErr):
		return false // token request failures are final once do gave up
	}
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.Err.Error(), "unsupported protocol scheme") {
		return false
	}
	return true
}

func isCertError(err error) bool {
	var (
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalid     x509.CertificateInvalidError
		verify      *tls.CertificateVerificationError
	)
	return errors.As(err, &unknownAuth) || errors.As(err, &hostErr) ||
		errors.As(err, &invalid) || errors.As(err, &verify)
}

// backoff returns the pause before try+1: the base doubled per try, capped,
// with jitter so that many runs do not retry in step.
func (c *Client) backoff(try int) time.Duration {
	const ceiling = 2 * time.Minute
	d := c.sleepFor
	for i := 1; i < try && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	// Between half and the full pause.
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	const ceiling = 10 * time.Minute
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, false
		}
		return min(time.Duration(n)*time.Second, ceiling), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), ceiling), true
}

func (c *Client) apiError(r request, resp *response, renewed bool) *APIError {
	code, msg := parseErrorBody(resp.body)
	e := &APIError{Step: r.step, Method: r.method, Path: r.target(), Status: resp.status, Code: code, Message: msg}
	if msg == "" {
		e.Message = http.StatusText(resp.status)
	}
	switch resp.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		if r.classic && r.privilege != "" {
			e.Privilege = fmt.Sprintf("%q", r.privilege)
			e.Hint = "the Classic API answers 401 for a missing privilege"
		} else if r.jcdsAction != "" {
			e.Privilege = jcdsPrivilege(r.jcdsAction, c.knownVersion())
		} else if r.privilege != "" {
			e.Privilege = fmt.Sprintf("%q", r.privilege)
		} else if !r.noAuth {
			if renewed || resp.status == http.StatusForbidden {
				e.Hint = "the account is authenticated but not allowed to do this; check its privileges"
			} else if c.cred.kind == credBearer {
				e.Hint = "the given bearer token was rejected; it may have expired"
			}
		}
	}
	if h, ok := r.statusHint[resp.status]; ok {
		e.Hint = h
	}
	return e
}

// doJSON sends r and decodes a JSON reply into out (unless out is nil).
func (c *Client) doJSON(ctx context.Context, r request, out any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		return secret.Error(fmt.Errorf("%s: %s %s: HTTP %d: unreadable reply: %w", r.step, r.method, r.target(), resp.status, err))
	}
	return nil
}

// watchdog cancels an upload try that makes no progress for idle, or whose
// answer takes longer than reply after the last byte was sent. A multi-GB
// upload thus never runs into one fixed deadline.
type watchdog struct {
	sent   atomic.Bool // the whole body was read by the transport
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	idle   time.Duration
	reply  time.Duration
}

var errNoProgress = errors.New("upload stalled")

// noAnswerError: the whole file was sent and no answer came within the
// reply allowance (an errNoProgress too).
type noAnswerError struct{ reply time.Duration }

func (e *noAnswerError) Error() string {
	return fmt.Sprintf("%v: no answer within %s after the upload was sent", errNoProgress, e.reply)
}

func (e *noAnswerError) Unwrap() error { return errNoProgress }

func newWatchdog(parent context.Context, idle, reply time.Duration) *watchdog {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{ctx: ctx, cancel: cancel, idle: idle, reply: reply}
	w.timer = time.AfterFunc(idle, func() {
		if w.sent.Load() {
			cancel(&noAnswerError{reply: reply})
			return
		}
		cancel(fmt.Errorf("%w: no progress for %s", errNoProgress, idle))
	})
	return w
}

func (w *watchdog) wrap(rc io.ReadCloser) io.ReadCloser { return &dogReader{rc: rc, w: w} }

// replied gives reading the (short) answer body the reply allowance.
func (w *watchdog) replied() {
	w.sent.Store(true)
	w.timer.Reset(w.reply)
}

func (w *watchdog) stop() {
	w.timer.Stop()
	w.cancel(nil)
}

func (w *watchdog) fired() error {
	if err := context.Cause(w.ctx); err != nil && errors.Is(err, errNoProgress) {
		return err
	}
	return nil
}

type dogReader struct {
	rc io.ReadCloser
	w  *watchdog
}

func (d *dogReader) Read(p []byte) (int, error) {
	n, err := d.rc.Read(p)
	if n > 0 {
		d.w.timer.Reset(d.w.idle)
	}
	if err == io.EOF {
		d.w.sent.Store(true)
		d.w.timer.Reset(d.w.reply)
	}
	return n, err
}

func (d *dogReader) Close() error { return d.rc.Close() }
