package miniotest

import (
	"context"
	"net/http"
	"testing"
)

// TestStartReturnsAServingS3: once Start returns, S3 requests are answered
// (403 for an unsigned request), not 503 "Server not initialized".
func TestStartReturnsAServingS3(t *testing.T) {
	for i := 0; i < 2; i++ {
		s := Start(t)
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, s.Endpoint+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("unsigned request right after Start: HTTP %d, want 403", resp.StatusCode)
		}
		s.Stop()
	}
}
