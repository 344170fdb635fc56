package memnet

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// A server that takes a simulated minute answers in a bubble without the
// test waiting a minute: both ends block on memnet's channels.
func TestHTTPInABubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := Listen("jamf.test")
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Minute)
			fmt.Fprint(w, r.Host)
		})}
		go func() { _ = srv.Serve(l) }()
		tr := l.Transport()
		client := &http.Client{Transport: tr}
		start := time.Now()
		resp, err := client.Get("http://any.host.example/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "any.host.example" || time.Since(start) != time.Minute {
			t.Fatalf("got %q after %s, want the host after exactly 1m", body, time.Since(start))
		}
		tr.CloseIdleConnections()
		srv.Close()
	})
}

func TestDialAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := Listen("x")
		l.Close()
		if _, err := l.DialContext(t.Context(), "tcp", "x:80"); err == nil {
			t.Fatal("dial on a closed listener succeeded")
		}
		if _, err := l.Accept(); err == nil {
			t.Fatal("accept on a closed listener succeeded")
		}
	})
}
