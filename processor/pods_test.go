package processor

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/poll"
)

const (
	oursSHA3 = "aaaa"
	prevSHA3 = "bbbb"
)

var podWant = settleWant{FileName: "App.pkg", Size: 1000, SHA3: oursSHA3}

// fakePod serves records as a pod does: what it shows moves on only when
// it is refreshed, to what show says for the time of that refresh (since
// the wait began).
type fakePod struct {
	name       string
	fullOnly   bool  // the server refreshes everything, not one file
	refreshErr error // every refresh fails with it
	readErr    error
	show       func(d time.Duration) *jamf.Package

	start     time.Time
	mu        sync.Mutex
	shown     *jamf.Package
	refreshes []time.Duration
	reads     []time.Duration
}

func (p *fakePod) Name() string { return "jpro-ingress=" + p.name }

func (p *fakePod) RefreshInventory(ctx context.Context, fileName string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := time.Since(p.start)
	p.refreshes = append(p.refreshes, d)
	if fileName != podWant.FileName {
		return false, errors.New("refresh of the wrong file " + fileName)
	}
	if p.refreshErr != nil {
		return false, p.refreshErr
	}
	p.shown = p.show(d)
	return !p.fullOnly, nil
}

func (p *fakePod) Package(ctx context.Context, id string) (*jamf.Package, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reads = append(p.reads, time.Since(p.start))
	if id != "7" {
		return nil, errors.New("read of the wrong package " + id)
	}
	if p.readErr != nil {
		return nil, p.readErr
	}
	if p.shown == nil {
		return pkgRecord(prevSHA3, 400, true, "READY"), nil
	}
	c := *p.shown
	return &c, nil
}

func pkgRecord(hash string, size int64, known bool, status string) *jamf.Package {
	return &jamf.Package{ID: "7", FileName: "App.pkg", HashType: "SHA3_512", HashValue: hash, SHA3512: hash,
		Size: size, SizeKnown: known, TransferStatus: status, StatusShown: true}
}

// processedAt: the previous file until t, then ours, READY.
func processedAt(t time.Duration) func(time.Duration) *jamf.Package {
	return func(d time.Duration) *jamf.Package {
		switch {
		case d >= t:
			return pkgRecord(oursSHA3, 1000, true, "READY")
		case d >= t/2:
			// Half way the record shows our hash with the size blank.
			return pkgRecord(oursSHA3, 0, false, "READY")
		}
		return pkgRecord(prevSHA3, 400, true, "READY")
	}
}

// showsAt: processing until t, then rec for good.
func showsAt(t time.Duration, rec *jamf.Package) func(time.Duration) *jamf.Package {
	return func(d time.Duration) *jamf.Package {
		if d >= t {
			return rec
		}
		return pkgRecord(prevSHA3, 400, true, "READY")
	}
}

func never() func(time.Duration) *jamf.Package {
	return func(time.Duration) *jamf.Package { return pkgRecord(prevSHA3, 400, true, "READY") }
}

type podRun struct {
	out     []podOutcome
	err     error
	elapsed time.Duration
	log     string
}

// runPods runs verifyEveryPod on pods in a synctest bubble: minutes of
// processing pass on its fake clock at once.
func runPods(t *testing.T, pol poll.Policy, pods ...*fakePod) podRun {
	t.Helper()
	var r podRun
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		log := zerolog.New(zerolog.SyncWriter(&buf)).Level(zerolog.InfoLevel)
		start := time.Now()
		sp := make([]settlePod, len(pods))
		for i, p := range pods {
			p.start = start
			sp[i] = p
		}
		r.out, r.err = verifyEveryPod(context.Background(), log, sp, podVerify{
			PackageID: "7", Want: podWant, PrevSHA3: prevSHA3, Policy: pol, SentAt: start.Add(-5 * time.Second)})
		r.elapsed = time.Since(start)
		r.log = buf.String()
	})
	return r
}

var podPolicy = poll.Policy{Interval: time.Second, MaxInterval: 10 * time.Second, Timeout: 25 * time.Minute}

// Four pods finish processing at different times: every one is verified,
// and the wait is the slowest pod's (15 min), not the sum (26 min).
func TestVerifyEveryPodWaitsForTheSlowest(t *testing.T) {
	finish := []time.Duration{time.Minute, 3 * time.Minute, 7 * time.Minute, 15 * time.Minute}
	var pods []*fakePod
	for i, f := range finish {
		pods = append(pods, &fakePod{name: string(rune('a' + i)), show: processedAt(f)})
	}
	r := runPods(t, podPolicy, pods...)
	if r.err != nil {
		t.Fatal(r.err)
	}
	// Each pod is seen landed at its first look after it finished: at
	// most one poll interval (10 s) late.
	if r.elapsed < 15*time.Minute || r.elapsed > 15*time.Minute+10*time.Second {
		t.Errorf("the wait took %s, want the slowest pod's 15 min (+ at most one 10 s poll)", r.elapsed)
	}
	for i, o := range r.out {
		if !o.Verified || o.Class != tickLanded || o.Err != nil || o.Stopped {
			t.Errorf("pod %d: %+v, want verified", i, o)
		}
		// SinceSent counts from the last byte, 5 s before the wait began.
		if lo := finish[i] + 5*time.Second; o.SinceSent < lo || o.SinceSent > lo+10*time.Second {
			t.Errorf("pod %d: verified %s after the last byte, want %s (+ at most 10 s)", i, o.SinceSent, lo)
		}
		if o.Pod != "jpro-ingress="+string(rune('a'+i)) {
			t.Errorf("pod %d named %q", i, o.Pod)
		}
	}
	// -v says, per pod, what it waits for and when it is verified, and
	// the time from the last byte to verified on every pod.
	for _, want := range []string{
		`"pod":"jpro-ingress=d"`,
		"waiting for App.pkg on pod jpro-ingress=d: the record still shows the file from before this send",
		"waiting for App.pkg on pod jpro-ingress=d: the file is in and still processing",
		// Looks at 0, 1, 3, 7, 15, 25 s, then every 10 s: pod a's 1 min
		// is seen at 65 s, 70 s after the last byte.
		"pod jpro-ingress=a shows App.pkg READY with its size and SHA3-512, 1m10s after the last byte was sent",
		"on every pod (4), 15m10s after the last byte was sent",
	} {
		if !strings.Contains(r.log, want) {
			t.Errorf("log lacks %q:\n%s", want, r.log)
		}
	}
}

// A loss on one pod ends the wait on every pod at once, naming the hash
// shown, for the resend to take as the previous one.
func TestVerifyEveryPodLost(t *testing.T) {
	pods := []*fakePod{
		{name: "a", show: processedAt(time.Minute)},
		{name: "b", show: showsAt(2*time.Minute, pkgRecord("dddd", 0, true, "READY"))},
		{name: "c", show: processedAt(10 * time.Minute)},
		{name: "d", show: never()},
	}
	r := runPods(t, podPolicy, pods...)
	var lost *podLostError
	if !errors.As(r.err, &lost) {
		t.Fatalf("err = %v, want a podLostError", r.err)
	}
	if lost.Pod != "jpro-ingress=b" || lost.ShownSHA3 != "dddd" || lost.PackageID != "7" || lost.FileName != "App.pkg" {
		t.Errorf("lost = %+v", lost)
	}
	if r.elapsed < 2*time.Minute || r.elapsed > 2*time.Minute+10*time.Second {
		t.Errorf("the wait took %s, want it to end at the loss (2 min)", r.elapsed)
	}
	if !r.out[0].Verified || r.out[1].Class != tickLost || !r.out[2].Stopped || !r.out[3].Stopped || r.out[2].Err != nil {
		t.Errorf("outcomes %+v", r.out)
	}
}

// Corrupt bytes on one pod fail at once, naming the package.
func TestVerifyEveryPodCorrupt(t *testing.T) {
	pods := []*fakePod{
		{name: "a", show: processedAt(5 * time.Minute)},
		{name: "b", show: processedAt(5 * time.Minute)},
		{name: "c", show: showsAt(time.Minute, pkgRecord("eeee", 1000, true, "READY"))},
		{name: "d", show: processedAt(5 * time.Minute)},
	}
	r := runPods(t, podPolicy, pods...)
	var bad *podCorruptError
	if !errors.As(r.err, &bad) {
		t.Fatalf("err = %v, want a podCorruptError", r.err)
	}
	if bad.Pod != "jpro-ingress=c" || bad.Got != "eeee" || bad.Want != oursSHA3 {
		t.Errorf("corrupt = %+v", bad)
	}
	for _, want := range []string{"App.pkg arrived corrupt", "package 7", "jpro-ingress=c"} {
		if !strings.Contains(r.err.Error(), want) {
			t.Errorf("error %q lacks %q", r.err, want)
		}
	}
	if r.elapsed > time.Minute+10*time.Second {
		t.Errorf("the wait took %s, want it to end at the corruption (1 min)", r.elapsed)
	}
	for _, i := range []int{0, 1, 3} {
		if !r.out[i].Stopped {
			t.Errorf("pod %d not stopped: %+v", i, r.out[i])
		}
	}
}

func TestVerifyEveryPodError(t *testing.T) {
	r := runPods(t, podPolicy,
		&fakePod{name: "a", show: processedAt(time.Minute)},
		&fakePod{name: "b", show: showsAt(30*time.Second, pkgRecord(prevSHA3, 400, true, "ERROR"))})
	var failed *podFailedError
	if !errors.As(r.err, &failed) || failed.Pod != "jpro-ingress=b" {
		t.Fatalf("err = %v, want a podFailedError on pod b", r.err)
	}
}

// A pod that never converges ends the run at the budget with an error
// that names its cookie and what an admin can do; the others are verified.
func TestVerifyEveryPodTimeout(t *testing.T) {
	for _, tc := range []struct {
		name         string
		show         func(time.Duration) *jamf.Package
		inProcessing bool
		says         string
	}{
		{"nothing arrives", never(), false, "the record still shows the file from before this send"},
		{"still processing", showsAt(0, pkgRecord(oursSHA3, 0, false, "READY")), true, "the file is in and still processing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol := podPolicy
			pol.Timeout = 10 * time.Minute
			r := runPods(t, pol,
				&fakePod{name: "a", show: processedAt(time.Minute)},
				&fakePod{name: "b", show: processedAt(2 * time.Minute)},
				&fakePod{name: "c", show: processedAt(3 * time.Minute)},
				&fakePod{name: "d", show: tc.show})
			var late *podTimeoutError
			if !errors.As(r.err, &late) {
				t.Fatalf("err = %v, want a podTimeoutError", r.err)
			}
			if late.Pod != "jpro-ingress=d" || late.InProcessing != tc.inProcessing || late.Waited != 10*time.Minute {
				t.Errorf("timeout = %+v", late)
			}
			for _, want := range []string{"jpro-ingress=d", tc.says, "Refresh the cloud distribution point inventory in Jamf Pro, or run again later"} {
				if !strings.Contains(r.err.Error(), want) {
					t.Errorf("error %q lacks %q", r.err, want)
				}
			}
			if r.elapsed != 10*time.Minute {
				t.Errorf("the wait took %s, want the 10 min budget", r.elapsed)
			}
			for i := range 3 {
				if !r.out[i].Verified {
					t.Errorf("pod %d not verified: %+v", i, r.out[i])
				}
			}
			if !strings.Contains(r.log, "verified on 3 of 4 pods") {
				t.Errorf("log lacks the count of pods verified:\n%s", r.log)
			}
		})
	}
}

// Refreshes that keep failing until the budget are named in the error.
func TestVerifyEveryPodRefreshKeepsFailing(t *testing.T) {
	boom := errors.New("HTTP 500")
	pol := podPolicy
	pol.Timeout = time.Minute
	r := runPods(t, pol, &fakePod{name: "a", show: never(), refreshErr: boom})
	var late *podTimeoutError
	if !errors.As(r.err, &late) || !errors.Is(r.err, boom) || !strings.Contains(r.err.Error(), "kept failing, so it cannot show the file (Jamf Pro shows it as Availability Pending): HTTP 500") {
		t.Fatalf("err = %v, want a timeout that names the failing refresh", r.err)
	}
}

func TestVerifyEveryPodReadError(t *testing.T) {
	boom := errors.New("HTTP 403")
	r := runPods(t, podPolicy, &fakePod{name: "a", show: never(), readErr: boom})
	if !errors.Is(r.err, boom) || !strings.Contains(r.err.Error(), "verify package 7 on pod jpro-ingress=a") {
		t.Fatalf("err = %v", r.err)
	}
}

// A pod is polled no faster than it can be refreshed: a file's refresh
// every 200 ms at most, a full refresh every 15 s, with a read after each.
func TestVerifyEveryPodRefreshPace(t *testing.T) {
	pol := poll.Policy{Timeout: time.Minute} // as fast as allowed
	file := &fakePod{name: "a", show: never()}
	full := &fakePod{name: "b", show: never(), fullOnly: true}
	r := runPods(t, pol, file, full)
	if r.err == nil {
		t.Fatal("no timeout")
	}
	check := func(p *fakePod, gap time.Duration, want, wantReads int) {
		t.Helper()
		for i := 1; i < len(p.refreshes); i++ {
			if d := p.refreshes[i] - p.refreshes[i-1]; d < gap {
				t.Errorf("pod %s: refreshes %s apart, want at least %s", p.name, d, gap)
			}
		}
		for i := 1; i < len(p.reads); i++ {
			if d := p.reads[i] - p.reads[i-1]; d < gap && i > 1 {
				t.Errorf("pod %s: reads %s apart, want at least %s", p.name, d, gap)
			}
		}
		if len(p.refreshes) != want || len(p.reads) != wantReads {
			t.Errorf("pod %s: %d refreshes and %d reads in a minute, want %d and %d", p.name, len(p.refreshes), len(p.reads), want, wantReads)
		}
	}
	// 0, 0.2, ..., 60 s: 301 looks.
	check(file, perFileRefreshGap, 301, 301)
	// The first refresh shows the server refreshes everything: the pods
	// take turns at it, one slot of 16 s each, and this pod is the second
	// of two: 0 s, then 32 s (its next would be 64 s); the last read comes
	// at the deadline.
	check(full, fullRefreshGap, 2, 3)
}

// Pods whose refreshes are full ones take turns, so that a limit of one
// full refresh per 15 s for the whole instance still lets each pod's
// through: after the first round, no two refreshes come within 15 s.
func TestVerifyEveryPodFullRefreshesTakeTurns(t *testing.T) {
	pol := poll.Policy{Timeout: 3 * time.Minute}
	pods := []*fakePod{{name: "a", show: never(), fullOnly: true}, {name: "b", show: never(), fullOnly: true}, {name: "c", show: never(), fullOnly: true}}
	runPods(t, pol, pods[0], pods[1], pods[2])
	var at []time.Duration
	for _, p := range pods {
		if len(p.refreshes) < 3 {
			t.Errorf("pod %s: %d refreshes in 3 minutes, want at least 3", p.name, len(p.refreshes))
		}
		at = append(at, p.refreshes[1:]...) // the first round comes at once
	}
	slices.Sort(at)
	for i := 1; i < len(at); i++ {
		if at[i]-at[i-1] < fullRefreshGap {
			t.Errorf("full refreshes at %s and %s: within the 15 s limit", at[i-1], at[i])
		}
	}
}

// A run stopped from outside (a signal) returns its cause.
func TestVerifyEveryPodStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sig := errors.New("SIGTERM")
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(time.Minute, func() { cancel(sig) })
		p := &fakePod{name: "a", show: never(), start: time.Now()}
		_, err := verifyEveryPod(ctx, zerolog.Nop(), []settlePod{p}, podVerify{PackageID: "7", Want: podWant, PrevSHA3: prevSHA3, Policy: podPolicy})
		if !errors.Is(err, sig) {
			t.Fatalf("err = %v, want the stop's cause", err)
		}
	})
}

// The pods of the simulator's cluster, as the settle step sees them: each
// view reads its own pod's record, and one that has not caught up with the
// create yet shows none (not an error).
func TestSettlePodsOnSimulator(t *testing.T) {
	synctest.Test(t, testSettlePodsOnSimulator)
}

func testSettlePodsOnSimulator(t *testing.T) {
	sim, network := jamfsim.StartInMemory(t, jamfsim.Options{ClusterNodes: 4})
	tr := network.Transport()
	t.Cleanup(tr.CloseIdleConnections)
	c, err := jamf.NewClient(jamf.Config{URL: sim.URL(), Username: "admin", Password: "password", CacheDir: "off", Logger: zerolog.Nop(),
		HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, err := c.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.CreatePackage(ctx, &jamf.Package{Name: "App", FileName: "App.pkg", CategoryID: "-1", Priority: 10})
	if err != nil {
		t.Fatal(err)
	}
	own, _ := c.CurrentPod()
	u := &uploader{cfg: &Config{URL: sim.URL()}, log: zerolog.Nop(), client: c, root: c, version: v}
	pods, err := u.settlePods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	shown := 0
	for _, p := range pods {
		names = append(names, p.Name())
		rec, err := p.Package(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", p.Name(), err)
		}
		if rec != nil {
			shown++
			if p.Name() != own.String() {
				t.Errorf("%s shows the object within the cluster lag; only %s made it", p.Name(), own)
			}
		}
		perFile, err := p.RefreshInventory(ctx, "App.pkg")
		if err != nil || !perFile {
			t.Errorf("%s: refresh: per file %v, %v", p.Name(), perFile, err)
		}
	}
	var want []string
	for _, n := range sim.State().Nodes {
		want = append(want, n.Cookie)
	}
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Errorf("pods %q, want the simulator's %q", names, want)
	}
	if shown != 1 {
		t.Errorf("%d pods show the new object, want only the one that created it", shown)
	}
}

// An instance without a balancer cookie is verified once, on the client
// itself.
func TestSettlePodsSingleNode(t *testing.T) {
	sim := jamfsim.Start(t, jamfsim.Options{ClusterNodes: 1})
	c, err := jamf.NewClient(jamf.Config{URL: sim.URL(), Username: "admin", Password: "password", CacheDir: "off", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	u := &uploader{cfg: &Config{URL: sim.URL()}, log: zerolog.Nop(), client: c, root: c, version: jamf.Version{Raw: "11.25.0", Major: 11, Minor: 25}}
	pods, err := u.settlePods(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 1 || pods[0].(clientPod).c != c || pods[0].Name() != "the only node (no load-balancer cookie)" {
		t.Errorf("pods %v, want the client itself", pods)
	}
}

func TestVerifyEveryPodNeedsAPod(t *testing.T) {
	if _, err := verifyEveryPod(context.Background(), zerolog.Nop(), nil, podVerify{PackageID: "7", Want: podWant}); err == nil || !strings.Contains(err.Error(), "no pod") {
		t.Errorf("err = %v, want no pod", err)
	}
}
