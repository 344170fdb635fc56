package jamf

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
)

// balancer is a fake Jamf Cloud load balancer in front of /healthCheck.html:
// next names the pod (cookie value) each cookieless request goes to, ""
// for none.
type balancer struct {
	t      *testing.T
	cookie string                    // cookie name, default jpro-ingress
	next   func(probe int) string    // pod value for the n-th probe (0-based)
	extra  func(http.ResponseWriter) // more Set-Cookie headers, if any
	status int

	mu     sync.Mutex
	probes int
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	n := b.probes
	b.probes++
	b.mu.Unlock()
	// The script's probe: a cookieless HEAD for /healthCheck.html, no
	// credentials.
	if r.Method != http.MethodHead || r.URL.Path != "/healthCheck.html" {
		b.t.Errorf("probe %d: %s %s, want HEAD /healthCheck.html", n, r.Method, r.URL.Path)
	}
	if h := r.Header.Get("Cookie"); h != "" {
		b.t.Errorf("probe %d carried cookies %q", n, h)
	}
	if h := r.Header.Get("Authorization"); h != "" {
		b.t.Errorf("probe %d carried credentials", n)
	}
	if b.extra != nil {
		b.extra(w)
	}
	if v := b.next(n); v != "" {
		name := b.cookie
		if name == "" {
			name = CookieJproIngress
		}
		http.SetCookie(w, &http.Cookie{Name: name, Value: v, Path: "/", Secure: true, HttpOnly: true})
	}
	if b.status != 0 {
		w.WriteHeader(b.status)
	}
}

func roundRobin(pods int) func(int) string {
	return func(n int) string { return "pod" + strconv.Itoa(n%pods+1) }
}

func TestDiscoverPods(t *testing.T) {
	pods := func(name string, values ...string) []Pod {
		var out []Pod
		for _, v := range values {
			out = append(out, Pod{Cookie: name, Value: v})
		}
		return out
	}
	tests := []struct {
		name   string
		b      *balancer
		want   []Pod
		probes int
	}{
		// Standard: two pods found in two probes, then ten quiet ones.
		{"standard, 2 pods", &balancer{next: roundRobin(2)}, pods(CookieJproIngress, "pod1", "pod2"), 12},
		{"premium, 4 pods", &balancer{next: roundRobin(4)}, pods(CookieJproIngress, "pod1", "pod2", "pod3", "pod4"), 14},
		// A balancer that sends nine requests in a row to one pod before
		// the next: each new pod comes within ten probes, so all are found.
		{"a balancer that repeats", &balancer{next: func(n int) string { return "pod" + strconv.Itoa(n/9%4+1) }},
			pods(CookieJproIngress, "pod1", "pod2", "pod3", "pod4"), 28 + 10},
		// On premises: no cookie at all is one node, reached without one.
		{"no cookie", &balancer{next: func(int) string { return "" }}, []Pod{{}}, 10},
		{"no cookie, 404", &balancer{next: func(int) string { return "" }, status: 404}, []Pod{{}}, 10},
		// The simulator today answers /healthCheck.html 404, with the cookie.
		{"cookie on a 404", &balancer{next: roundRobin(2), status: 404}, pods(CookieJproIngress, "pod1", "pod2"), 12},
		{"older cookie name", &balancer{cookie: CookieAPBalanceID, next: roundRobin(2)}, pods(CookieAPBalanceID, "pod1", "pod2"), 12},
		{"jpro-ingress wins over other cookies", &balancer{next: roundRobin(2), extra: func(w http.ResponseWriter) {
			http.SetCookie(w, &http.Cookie{Name: CookieAPBalanceID, Value: "old"})
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "s"})
		}}, pods(CookieJproIngress, "pod1", "pod2"), 12},
		{"only other cookies", &balancer{next: func(int) string { return "" }, extra: func(w http.ResponseWriter) {
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "s"})
		}}, []Pod{{}}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b
			b.t = t
			srv := httptest.NewServer(b)
			defer srv.Close()
			f := &fakeJamf{srv: srv, user: "admin", pass: "pw"}
			c, _ := f.client(t, nil)
			got, err := c.DiscoverPods(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("pods %v, want %v", got, tt.want)
			}
			if b.probes != tt.probes {
				t.Errorf("%d probes, want %d", b.probes, tt.probes)
			}
			if s := c.Stats(); s.Requests != int64(tt.probes) || s.TokenRequests != 0 {
				t.Errorf("stats %+v, want %d requests and no token request", s, tt.probes)
			}
		})
	}
}

func TestDiscoverPodsBounded(t *testing.T) {
	// A balancer that names a new pod every time (not a pod cookie at all)
	// is given up on after 40 probes.
	b := &balancer{t: t, next: func(n int) string { return "nonce" + strconv.Itoa(n) }}
	srv := httptest.NewServer(b)
	defer srv.Close()
	c, _ := (&fakeJamf{srv: srv, user: "a", pass: "b"}).client(t, nil)
	_, err := c.DiscoverPods(context.Background())
	var de *PodDiscoveryError
	if !errors.As(err, &de) || de.Probes != 40 || len(de.Found) != 40 {
		t.Fatalf("err = %v, want a PodDiscoveryError after 40 probes with 40 values", err)
	}
	if b.probes != 40 {
		t.Errorf("%d probes, want 40", b.probes)
	}

	// A server that cannot be reached fails discovery, after the script's
	// ten probes, naming the failure.
	srv.Close()
	_, err = c.DiscoverPods(context.Background())
	if !errors.As(err, &de) || de.Probes != 10 || len(de.Found) != 0 || de.Err == nil {
		t.Fatalf("err = %v, want a PodDiscoveryError after 10 failed probes", err)
	}

	// A cancelled run stops probing.
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("signal"))
	if _, err := c.DiscoverPods(ctx); err == nil || err.Error() != "find the pods of the instance: signal" {
		t.Fatalf("err = %v, want the cancel cause", err)
	}
}

// The pods the simulator's balancer hands out are found the same way, on a
// Standard (2) and a Premium (4) cluster.
func TestDiscoverPodsOnSimulator(t *testing.T) {
	for _, nodes := range []int{2, 4} {
		t.Run(strconv.Itoa(nodes), func(t *testing.T) {
			s := jamfsim.Start(t, jamfsim.Options{ClusterNodes: nodes})
			c, _ := simClient(t, s, nil)
			got, err := c.DiscoverPods(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var want []Pod
			for _, n := range s.State().Nodes {
				name, value, _ := cutCookie(n.Cookie)
				want = append(want, Pod{Cookie: name, Value: value})
			}
			// In any order: the balancer decides which pod comes first.
			byName := func(a, b Pod) int { return strings.Compare(a.String(), b.String()) }
			slices.SortFunc(got, byName)
			slices.SortFunc(want, byName)
			if !slices.Equal(got, want) {
				t.Errorf("pods %v, want the simulator's nodes %v", got, want)
			}
		})
	}
}

func cutCookie(s string) (string, string, bool) {
	for i := range len(s) {
		if s[i] == '=' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// A pod view pins every request to its pod, whatever the balancer says,
// and shares its parent's token and counters.
func TestOnPod(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{} // pod cookie -> paths
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		v := ""
		if ck, err := r.Cookie(CookieJproIngress); err == nil {
			v = ck.Value
		} else {
			// The balancer pins a cookieless client to pod1.
			http.SetCookie(w, &http.Cookie{Name: CookieJproIngress, Value: "pod1", Path: "/"})
		}
		if v == "pod3" {
			// pod3 is gone: the balancer answers from pod2 and says so.
			http.SetCookie(w, &http.Cookie{Name: CookieJproIngress, Value: "pod2", Path: "/"})
		}
		mu.Lock()
		seen[v] = append(seen[v], r.URL.Path)
		mu.Unlock()
		versionAPI(w, r)
	})
	c, _ := f.client(t, func(cfg *Config, h *hooks) { cfg.CacheDir = "off" })
	ctx := context.Background()
	if _, ok := c.CurrentPod(); ok {
		t.Error("a client that sent nothing reports a pod")
	}
	if _, err := c.Version(ctx); err != nil {
		t.Fatal(err)
	}
	if p, ok := c.CurrentPod(); !ok || p != (Pod{CookieJproIngress, "pod1"}) {
		t.Errorf("CurrentPod = %v %v, want pod1 from the jar", p, ok)
	}
	views := map[string]*Client{}
	for _, v := range []string{"pod2", "pod3", "pod4"} {
		views[v] = c.OnPod(Pod{Cookie: CookieJproIngress, Value: v})
	}
	for range 2 {
		for v, pc := range views {
			if _, err := pc.Version(ctx); err != nil {
				t.Fatalf("%s: %v", v, err)
			}
		}
	}
	mu.Lock()
	for _, v := range []string{"pod2", "pod3", "pod4"} {
		if n := len(seen[v]); n != 2 {
			t.Errorf("pod %s saw %d requests, want 2", v, n)
		}
	}
	mu.Unlock()
	// One token for the parent and all its views; every request counted once.
	if n := f.tokens.Load(); n != 1 {
		t.Errorf("%d token requests, want 1 shared by every pod", n)
	}
	if s := c.Stats(); s.Requests != 1+1+6 || s.TokenRequests != 1 {
		t.Errorf("parent stats %+v, want 8 requests (token, 1 own, 6 of the views) and 1 token request", s)
	}
	if p := views["pod2"].Pod(); p.Value != "pod2" {
		t.Errorf("view's Pod = %v", p)
	}
	if to, moved := views["pod3"].PodMoved(); !moved || to.Value != "pod2" {
		t.Errorf("PodMoved = %v %v, want moved to pod2", to, moved)
	}
	if _, moved := views["pod4"].PodMoved(); moved {
		t.Error("pod4 reported as moved")
	}
	// The parent's own jar is untouched by the views.
	if p, _ := c.CurrentPod(); p.Value != "pod1" {
		t.Errorf("parent moved to %v", p)
	}
	if c.OnPod(Pod{}) != c {
		t.Error("OnPod of the zero Pod is not the client itself")
	}
}

// A run pinned to a pod that lags behind the one that created an object
// finds it on the pod that shows it, at once, instead of waiting out the
// simulator's minute of cluster lag.
func TestFindOnPods(t *testing.T) {
	s := jamfsim.Start(t, jamfsim.Options{ClusterNodes: 4})
	c, _ := simClient(t, s, func(cfg *Config, h *hooks) { cfg.CacheDir = "off" })
	ctx := context.Background()
	id, err := c.CreatePackage(ctx, &Package{Name: "App", FileName: "App.pkg", CategoryID: "-1", Priority: 10})
	if err != nil {
		t.Fatal(err)
	}
	own, ok := c.CurrentPod()
	if !ok {
		t.Fatal("no pod cookie after the create")
	}
	pods, err := c.DiscoverPods(ctx)
	if err != nil || len(pods) != 4 {
		t.Fatalf("pods %v, %v", pods, err)
	}
	var other Pod
	for _, p := range pods {
		if p != own {
			other = p
			break
		}
	}
	lagging := c.OnPod(other)
	if p, err := lagging.FindPackage(ctx, "App"); err != nil || p != nil {
		t.Fatalf("the lagging pod shows %v, %v; want nothing within the lag", p, err)
	}
	find := func(ctx context.Context, on *Client) (*Package, error) { return on.FindPackage(ctx, "App") }
	view, p, err := FindOnPods(ctx, lagging, pods, find)
	if err != nil || p == nil || p.ID != id || view.Pod() != own {
		t.Fatalf("FindOnPods = %v, %+v, %v; want package %s on %s", view, p, err, id, own)
	}
	// Nothing anywhere: no view, no error.
	none := func(ctx context.Context, on *Client) (*Package, error) { return on.FindPackage(ctx, "Other") }
	if view, p, err := FindOnPods(ctx, c, pods, none); view != nil || p != nil || err != nil {
		t.Errorf("FindOnPods for a missing name = %v, %v, %v", view, p, err)
	}
	// A pod's failure is named when no pod found it.
	boom := errors.New("HTTP 500")
	fail := func(ctx context.Context, on *Client) (*Package, error) {
		if on.Pod() == own {
			return nil, boom
		}
		return nil, nil
	}
	if _, _, err := FindOnPods(ctx, c, pods, fail); !errors.Is(err, boom) || !strings.Contains(err.Error(), "on pod "+own.String()) {
		t.Errorf("err = %v, want the failing pod named", err)
	}
}

// Pods discovers once for a client and its pod views, also when asked side
// by side; a discovery that did not settle is kept, one that failed
// outright is tried again.
func TestPodsDiscoveredOnce(t *testing.T) {
	b := &balancer{t: t, next: roundRobin(2)}
	srv := httptest.NewServer(b)
	defer srv.Close()
	c, _ := (&fakeJamf{srv: srv, user: "a", pass: "b"}).client(t, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if got, err := c.Pods(ctx); err != nil || len(got) != 2 {
				t.Errorf("pods %v, %v; want 2", got, err)
			}
		})
	}
	wg.Wait()
	view := c.OnPod(Pod{Cookie: CookieJproIngress, Value: "pod2"})
	if got, err := view.Pods(ctx); err != nil || len(got) != 2 {
		t.Errorf("the view's pods %v, %v; want the client's 2", got, err)
	}
	if b.probes != 12 {
		t.Errorf("%d probes, want one discovery's 12", b.probes)
	}

	// Unsettled: kept with its error.
	nonce := &balancer{t: t, next: func(n int) string { return "nonce" + strconv.Itoa(n) }}
	srv2 := httptest.NewServer(nonce)
	defer srv2.Close()
	c2, _ := (&fakeJamf{srv: srv2, user: "a", pass: "b"}).client(t, nil)
	var de *PodDiscoveryError
	for range 2 {
		if _, err := c2.Pods(ctx); !errors.As(err, &de) || len(de.Found) != 40 {
			t.Fatalf("err = %v, want a PodDiscoveryError with 40 values", err)
		}
	}
	if nonce.probes != 40 {
		t.Errorf("%d probes, want one discovery's 40", nonce.probes)
	}

	// Failed outright: the next call tries again.
	down := &balancer{t: t, next: roundRobin(2)}
	var mu sync.Mutex
	aborted := 0
	srv3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		abort := aborted < 10
		aborted++
		mu.Unlock()
		if abort {
			panic(http.ErrAbortHandler) // the connection drops: the probe fails
		}
		down.ServeHTTP(w, r)
	}))
	defer srv3.Close()
	c3, _ := (&fakeJamf{srv: srv3, user: "a", pass: "b"}).client(t, nil)
	if _, err := c3.Pods(ctx); !errors.As(err, &de) || len(de.Found) != 0 {
		t.Fatalf("err = %v, want a failed discovery", err)
	}
	if got, err := c3.Pods(ctx); err != nil || len(got) != 2 {
		t.Fatalf("second call: pods %v, %v; want a new discovery of 2 pods", got, err)
	}
}
