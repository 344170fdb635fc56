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

// A Network routes each dial to the listener of its host: one client
// reaches a Jamf Pro and its S3 endpoint, and an unknown host is an error.
func TestNetworkRoutesByHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n Network
		for _, host := range []string{"jamf.test", "s3.test"} {
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, host)
			})}
			l := n.Listen(host)
			go func() { _ = srv.Serve(l) }()
			defer srv.Close()
		}
		tr := n.Transport()
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		for _, host := range []string{"jamf.test", "s3.test"} {
			resp, err := client.Get("http://" + host + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != host {
				t.Errorf("GET http://%s/ answered by %q", host, body)
			}
		}
		if _, err := client.Get("http://elsewhere.test/"); err == nil {
			t.Error("a dial to an unknown host succeeded")
		}
		n.Close()
	})
}
