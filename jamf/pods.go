package jamf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
)

// Jamf Cloud runs each instance as several application pods behind one
// load balancer (Standard 2, Premium 4), and each pod keeps its own
// inventory of the cloud distribution point: a refresh on one pod is not
// trusted to reach the others. Jamf Support's own script,
// support/cloud-dp-inventory-refresh/hit_all_pods_internet.zsh (jamf/scripts,
// 2026), finds the pods by sending cookieless requests (curl -sI, a HEAD)
// to /healthCheck.html and collecting the distinct values of the
// jpro-ingress cookie the balancer sets; 10 probes in a row without a new
// value end the search ("10 is sufficient for Standard (2 pods) and Premium
// (4 pods)"). It then pins each request to a pod with that cookie.
// DiscoverPods and OnPod do the same.

// Sticky-session cookie names of Jamf Cloud's load balancer: the one Jamf
// Support's current scripts read, and the one Jamf's older docs name.
const (
	CookieJproIngress = "jpro-ingress"
	CookieAPBalanceID = "APBALANCEID"
)

// Pod is one application pod of an instance, named by the balancer cookie
// that pins a request to it. The zero Pod is an instance whose balancer
// sets no cookie (a single node, on premises): there is one pod, reached
// without a cookie.
type Pod struct {
	Cookie string // CookieJproIngress or CookieAPBalanceID; "" for none
	Value  string
}

// Pinned reports whether requests can be pinned to this pod by a cookie.
func (p Pod) Pinned() bool { return p.Cookie != "" }

// String names the pod as an admin can look it up: NAME=VALUE.
func (p Pod) String() string {
	if !p.Pinned() {
		return "the only node (no load-balancer cookie)"
	}
	return p.Cookie + "=" + p.Value
}

// Discovery bounds. quietProbes and the HEAD request are the script's
// (POD_DISCOVERY_TRIES=10, curl -sI --max-time 10); maxProbes is our bound,
// so a balancer that keeps handing out new values cannot keep a run
// probing.
const (
	podQuietProbes  = 10
	podMaxProbes    = 40
	podProbeTimeout = 10 * time.Second
	healthCheckPath = "/healthCheck.html"
)

// PodDiscoveryError is a discovery that did not settle: every probe failed,
// or the balancer still handed out new cookie values after podMaxProbes.
type PodDiscoveryError struct {
	Probes int
	Found  []Pod // the distinct pods seen, in order
	Err    error // the last probe's failure, if any
}

func (e *PodDiscoveryError) Error() string {
	if len(e.Found) == 0 {
		return fmt.Sprintf("find the pods of the instance: all %d requests for %s failed: %v", e.Probes, healthCheckPath, e.Err)
	}
	return fmt.Sprintf("find the pods of the instance: after %d requests for %s the load balancer still hands out new %s values (%d so far); it does not pin by cookie as Jamf Cloud does",
		e.Probes, healthCheckPath, e.Found[0].Cookie, len(e.Found))
}

func (e *PodDiscoveryError) Unwrap() error { return e.Err }

// DiscoverPods finds the pods of the instance as Jamf Support's
// hit_all_pods_internet.zsh does: cookieless HEAD requests for
// /healthCheck.html, collecting the distinct jpro-ingress values (or
// APBALANCEID, the older name) of their Set-Cookie headers, until 10 in a
// row bring no new one. It needs no token. An instance that sets no such
// cookie is one pod, the zero Pod. A probe that fails counts as one without
// a new cookie, as in the script; all failing is an error.
func (c *Client) DiscoverPods(ctx context.Context) ([]Pod, error) {
	hc := *c.hc
	hc.Jar = nil // cookieless, whatever this client's jar holds
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var (
		pods    []Pod
		seen    = map[Pod]bool{}
		quiet   int
		failed  int
		lastErr error
		probes  int
	)
	for quiet < podQuietProbes {
		if probes == podMaxProbes {
			return nil, &PodDiscoveryError{Probes: probes, Found: pods}
		}
		probes++
		p, err := c.probePod(ctx, &hc)
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("find the pods of the instance: %w", context.Cause(ctx))
		case err != nil:
			failed++
			lastErr = err
			quiet++
		case !p.Pinned() || seen[p]:
			quiet++
		default:
			seen[p] = true
			pods = append(pods, p)
			quiet = 0
			c.log.Debug().Str("pod", p.String()).Int("probes", probes).Int("pods", len(pods)).Msg("found a pod")
		}
	}
	if len(pods) == 0 {
		if failed == probes {
			return nil, &PodDiscoveryError{Probes: probes, Err: secret.Error(lastErr)}
		}
		c.log.Debug().Int("probes", probes).Msg("the load balancer sets no pod cookie: one node")
		return []Pod{{}}, nil
	}
	c.log.Debug().Int("probes", probes).Int("pods", len(pods)).Msg("pods found")
	return pods, nil
}

// podsMemo is what Pods found, for a client and its pod views.
type podsMemo struct {
	sem  chan struct{} // one discovery at a time; the others wait for it
	done bool          // pods and err are the discovery's outcome
	pods []Pod
	err  error
}

// Pods is the instance's pods as DiscoverPods finds them, discovered on
// the first call and kept for the client and its pod views, so a run
// probes the balancer at most once, and only if it asks. A discovery that
// did not settle (a *PodDiscoveryError with pods found: the balancer does
// not pin by cookie) is kept with its error; one that failed outright (no
// probe answered, ctx ended) is tried again by the next call.
func (c *Client) Pods(ctx context.Context) ([]Pod, error) {
	m := c.pods
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("find the pods of the instance: %w", context.Cause(ctx))
	}
	defer func() { <-m.sem }()
	if m.done {
		return m.pods, m.err
	}
	pods, err := c.DiscoverPods(ctx)
	var de *PodDiscoveryError
	if err == nil || errors.As(err, &de) && len(de.Found) > 0 {
		m.done, m.pods, m.err = true, pods, err
	}
	return pods, err
}

// probePod sends one cookieless HEAD /healthCheck.html and returns the pod
// its Set-Cookie names, if any. The status does not matter: the balancer
// sets its cookie on whatever the pod answers.
func (c *Client) probePod(ctx context.Context, hc *http.Client) (Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, min(podProbeTimeout, c.hooks.apiTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.base+healthCheckPath, nil)
	if err != nil {
		return Pod{}, err
	}
	req.Header.Set("User-Agent", "jcds2-uploader")
	c.requests.Add(1)
	resp, err := hc.Do(req)
	if err != nil {
		c.log.Debug().Err(err).Msg("pod probe failed")
		return Pod{}, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	return podFromCookies(resp.Cookies()), nil
}

// podFromCookies picks the balancer cookie: jpro-ingress, else APBALANCEID.
func podFromCookies(cookies []*http.Cookie) Pod {
	var old Pod
	for _, ck := range cookies {
		if ck.Value == "" {
			continue
		}
		switch ck.Name {
		case CookieJproIngress:
			return Pod{Cookie: ck.Name, Value: ck.Value}
		case CookieAPBalanceID:
			old = Pod{Cookie: ck.Name, Value: ck.Value}
		}
	}
	return old
}

// CurrentPod is the pod this client's own cookie jar pins it to, once the
// balancer has set a cookie (after its first request).
func (c *Client) CurrentPod() (Pod, bool) {
	if c.pod.Pinned() {
		return c.pod, true
	}
	if c.hc.Jar == nil {
		return Pod{}, false
	}
	u, err := url.Parse(c.base)
	if err != nil {
		return Pod{}, false
	}
	p := podFromCookies(c.hc.Jar.Cookies(u))
	return p, p.Pinned()
}

// OnPod returns a view of c whose every request is pinned to pod p by its
// cookie. The view shares c's token (one renewal serves every pod), request
// counters, credentials, token cache and known version; its log lines name
// the pod. Other cookies the server sets are kept per view. The zero Pod
// gives c itself.
func (c *Client) OnPod(p Pod) *Client {
	if !p.Pinned() {
		return c
	}
	c.mu.Lock()
	v := *c
	c.mu.Unlock()
	v.pod = p
	v.log = c.log.With().Str("pod", p.String()).Logger()
	inner, _ := cookiejar.New(nil) // never fails without options
	hc := *c.hc
	hc.Jar = &pinnedJar{pin: &http.Cookie{Name: p.Cookie, Value: p.Value}, inner: inner, view: &v}
	v.hc = &hc
	return &v
}

// Pod is the pod this client is pinned to (OnPod); the zero Pod if none.
func (c *Client) Pod() Pod { return c.pod }

// PodMoved reports whether the balancer answered a pinned request with
// another pod's cookie: the pinned pod is gone (or drained), and requests
// reached another one. to is the pod the balancer named.
func (c *Client) PodMoved() (to Pod, moved bool) {
	j, ok := c.hc.Jar.(*pinnedJar)
	if !ok {
		return Pod{}, false
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.movedTo, j.movedTo.Pinned()
}

// pinnedJar always sends the pod's cookie and keeps every other cookie in
// an ordinary jar. A balancer that answers with another value for the pod
// cookie has sent the request elsewhere: that is recorded (PodMoved) and
// logged once, and the pin is kept, so no later request silently moves.
type pinnedJar struct {
	pin   *http.Cookie
	inner http.CookieJar
	view  *Client

	mu      sync.Mutex
	movedTo Pod
}

func (j *pinnedJar) Cookies(u *url.URL) []*http.Cookie {
	out := []*http.Cookie{j.pin}
	for _, ck := range j.inner.Cookies(u) {
		if ck.Name != j.pin.Name {
			out = append(out, ck)
		}
	}
	return out
}

func (j *pinnedJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	keep := cookies[:0:0]
	for _, ck := range cookies {
		if ck.Name != j.pin.Name {
			keep = append(keep, ck)
			continue
		}
		if ck.Value == j.pin.Value || ck.Value == "" {
			continue
		}
		j.mu.Lock()
		first := !j.movedTo.Pinned()
		j.movedTo = Pod{Cookie: ck.Name, Value: ck.Value}
		j.mu.Unlock()
		if first {
			j.view.log.Warn().Str("to", ck.Name+"="+ck.Value).
				Msg("the load balancer sent a request pinned to this pod to another one: the pod may be gone")
		}
	}
	if len(keep) > 0 {
		j.inner.SetCookies(u, keep)
	}
}

// FindOnPods runs find on a view of c pinned to each pod (OnPod), side by
// side, and returns the first pod in pods' order where find found
// something, with its view and what it found. It is how a run whose own
// pod lags behind another (a create refused as a duplicate while its own
// pod does not show the object yet) can go on pinned to a pod that shows
// it, instead of waiting out the cluster lag. It returns nil views and no
// error when no pod shows anything; a pod's error is returned only if no
// pod found it.
func FindOnPods[T any](ctx context.Context, c *Client, pods []Pod, find func(ctx context.Context, on *Client) (*T, error)) (*Client, *T, error) {
	type result struct {
		view  *Client
		found *T
		err   error
	}
	results := make([]result, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Go(func() {
			v := c.OnPod(p)
			found, err := find(ctx, v)
			if err != nil {
				err = fmt.Errorf("on pod %s: %w", p, err)
			}
			results[i] = result{view: v, found: found, err: err}
		})
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		if r.found != nil {
			return r.view, r.found, nil
		}
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return nil, nil, errors.Join(errs...)
}
