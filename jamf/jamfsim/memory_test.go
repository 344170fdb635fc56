package jamfsim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// In memory, the simulator runs inside a synctest bubble and its real-pace
// durations pass on the fake clock, exactly: a 10 GiB package's processing
// (about 15 minutes, a small file standing in), 4 s for a file's first
// refresh and 200 ms for later ones, 60 s API client tokens, a minute of
// cluster lag, and a refresh that stays on its pod.
func TestInMemoryRealPaceOnFakeClock(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		processing := DefaultProcessingTime(10 << 30)
		// ProcessInterval: the refreshes process what is due; the background
		// pass need not run 1800 times in the quarter hour.
		sim, network := StartInMemory(t, Options{ProcessInterval: 10 * time.Second,
			ProcessingTime: func(int64) time.Duration { return processing }})
		tr := network.Transport()
		t.Cleanup(tr.CloseIdleConnections)
		if !strings.HasSuffix(sim.URL(), ".jamfsim") {
			t.Fatalf("URL %s is not on the in-memory network", sim.URL())
		}
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Transport: tr}
		client.Jar = jar
		var token, firstToken string
		var tokenExpires time.Time
		renewals := 0
		do := func(method, path, ct string, body io.Reader) (int, string) {
			t.Helper()
			if !time.Now().Before(tokenExpires.Add(-10 * time.Second)) {
				req, _ := http.NewRequestWithContext(context.Background(), "POST", sim.URL()+"/api/v1/oauth/token",
					strings.NewReader("grant_type=client_credentials&client_id=client-id&client_secret=client-secret"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				res, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var tok struct {
					AccessToken string `json:"access_token"`
					ExpiresIn   int    `json:"expires_in"`
				}
				err = json.NewDecoder(res.Body).Decode(&tok)
				res.Body.Close()
				if err != nil || tok.ExpiresIn != 60 {
					t.Fatalf("oauth token: %d, expires_in %d, %v", res.StatusCode, tok.ExpiresIn, err)
				}
				token, tokenExpires = tok.AccessToken, time.Now().Add(time.Duration(tok.ExpiresIn)*time.Second)
				if renewals == 0 {
					firstToken = token
				}
				renewals++
			}
			req, _ := http.NewRequestWithContext(context.Background(), method, sim.URL()+path, body)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Accept", "application/json")
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		start := time.Now()
		if st, b := do("POST", "/api/v1/packages", "application/json", strings.NewReader(
			`{"packageName":"Big","fileName":"Big.pkg","categoryId":"-1","priority":10,"fillUserTemplate":false,"rebootRequired":false,`+
				`"osInstall":false,"suppressUpdates":false,"suppressFromDock":false,"suppressEula":false,"suppressRegistration":false}`)); st != 201 {
			t.Fatalf("create: %d %s", st, b)
		}
		data := []byte("stands in for 10 GiB")
		body, ct := multipartBody(t, "file", "Big.pkg", data)
		if st, b := do("POST", "/api/v1/packages/1/upload", ct, body); st != 201 {
			t.Fatalf("upload: %d %s", st, b)
		}
		uploaded := time.Now()
		_, ours := sums(data)
		// Poll as Jamf's provider does: a refresh, then the record, every 10 s.
		refreshTimes := []time.Duration{}
		for {
			before := time.Now()
			if st, b := do("POST", "/api/v1/cloud-distribution-point/refresh-inventory?file-name=Big.pkg", "", nil); st != 204 {
				t.Fatalf("refresh: %d %s", st, b)
			}
			refreshTimes = append(refreshTimes, time.Since(before))
			if _, b := do("GET", "/api/v1/packages/1", "", nil); strings.Contains(b, `"cloudTransferStatus": "READY"`) {
				if !strings.Contains(b, ours) || !strings.Contains(b, `"size": "20"`) {
					t.Fatalf("READY, but not our file: %s", b)
				}
				break
			}
			if time.Since(uploaded) > time.Hour {
				t.Fatal("not READY within an hour")
			}
			time.Sleep(10 * time.Second)
		}
		if took := time.Since(uploaded); took < processing || took > processing+15*time.Second {
			t.Errorf("READY %v after the upload; processing takes %v", took, processing)
		}
		if refreshTimes[0] != FirstRefreshTime || refreshTimes[1] != LaterRefreshTime || refreshTimes[len(refreshTimes)-1] != LaterRefreshTime {
			t.Errorf("refresh times %v…, want %v then %v", refreshTimes[:2], FirstRefreshTime, LaterRefreshTime)
		}
		if want := int(time.Since(start)/time.Minute) + 1; renewals < want {
			t.Errorf("%d tokens over %v of 60 s tokens, want at least %d", renewals, time.Since(start), want)
		}
		// The first token died after its 60 s.
		req, _ := http.NewRequestWithContext(context.Background(), "GET", sim.URL()+"/api/v1/jamf-pro-version", nil)
		req.Header.Set("Authorization", "Bearer "+firstToken)
		if res, err := client.Do(req); err != nil || res.StatusCode != 401 {
			t.Errorf("the first token after %v: %v %v", time.Since(start), res.Status, err)
		} else {
			res.Body.Close()
		}
		st := sim.State()
		if got := st.NotServedBy("Big.pkg", 20, ours); len(got) != 1 {
			t.Errorf("after refreshes on one pod, not served by %v; want the other pod only", got)
		}
		// The other pod, a minute after the last write: the object, not the
		// refresh; its own refresh (4 s, its first) makes it READY.
		time.Sleep(time.Minute)
		other := st.NotServedBy("Big.pkg", 20, ours)[0]
		pinned := &http.Client{Transport: tr}
		pin := func(method, path string) (int, string, time.Duration) {
			req, _ := http.NewRequestWithContext(context.Background(), method, sim.URL()+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Cookie", other)
			began := time.Now()
			res, err := pinned.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b), time.Since(began)
		}
		do("GET", "/api/v1/jamf-pro-version", "", nil) // renew the token if due
		if st, b, _ := pin("GET", "/api/v1/packages/1"); st != 200 || strings.Contains(b, "READY") {
			t.Errorf("the other pod a minute on, before its own refresh: %d %s", st, b)
		}
		if st, _, took := pin("POST", "/api/v1/cloud-distribution-point/refresh-inventory?file-name=Big.pkg"); st != 204 || took != FirstRefreshTime {
			t.Errorf("refresh on the other pod: %d after %v", st, took)
		}
		if got := sim.State().NotServedBy("Big.pkg", 20, ours); len(got) != 0 {
			t.Errorf("after a refresh on each pod, not served by %v", got)
		}
	})
}
