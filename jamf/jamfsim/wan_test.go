package jamfsim

import (
	"net/http"
	"testing"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/wanlink"
)

// With Options.WAN the S3 endpoint handed to clients is the modelled path,
// which still reaches the simulator's S3 proxy; without it, the proxy itself.
func TestWANPathInFrontOfS3(t *testing.T) {
	plain, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if plain.wan != nil {
		t.Fatal("WAN path started without being asked for")
	}
	const delay = 25 * time.Millisecond
	sim, err := New(Options{WAN: wanlink.Profile{Delay: delay}})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if sim.wan == nil || sim.S3Endpoint() != "http://"+sim.wan.Addr() {
		t.Fatalf("S3 endpoint %s is not the WAN path", sim.S3Endpoint())
	}
	start := time.Now()
	resp, err := http.Get(sim.S3Endpoint() + "/" + sim.Bucket() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Unsigned: the proxy answers AccessDenied, so the request got through.
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d, want 403 from the S3 proxy", resp.StatusCode)
	}
	// Handshake (there and back), request, reply: four one-way delays.
	if d := time.Since(start); d < 4*delay {
		t.Errorf("request took %v, want at least %v", d, 4*delay)
	}
	sim.mu.Lock()
	calls := len(sim.s3calls)
	sim.mu.Unlock()
	if calls == 0 {
		t.Error("the S3 proxy logged no call")
	}
}
