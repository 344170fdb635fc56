package s3upload

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func TestLoggedClient(t *testing.T) {
	const secretQuery = "X-Amz-Signature=5ecre7519&X-Amz-Security-Token=T0ken"
	tests := []struct {
		name  string
		level zerolog.Level
		err   error
		want  []string
	}{
		{"trace logs the request", zerolog.TraceLevel, nil, []string{`"method":"PUT"`, `"host":"bucket.s3.amazonaws.com"`, `"path":"/jcds/App.pkg"`, `"status":200`, "s3 request"}},
		{"a failure too", zerolog.TraceLevel, errors.New("connection reset"), []string{`"path":"/jcds/App.pkg"`, "s3 request failed"}},
		{"nothing at debug (-vv)", zerolog.DebugLevel, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			c := loggedClient{
				next: doFunc(func(*http.Request) (*http.Response, error) {
					if tt.err != nil {
						return nil, tt.err
					}
					return &http.Response{StatusCode: 200}, nil
				}),
				log: zerolog.New(&buf).Level(tt.level),
				now: time.Now,
			}
			req, _ := http.NewRequest(http.MethodPut, "https://bucket.s3.amazonaws.com/jcds/App.pkg?partNumber=1&"+secretQuery, nil)
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/…, Signature=5ecre7519")
			req.Header.Set("X-Amz-Security-Token", "T0ken")
			_, _ = c.Do(req)
			got := buf.String()
			if len(tt.want) == 0 && got != "" {
				t.Errorf("logged %q at %s", got, tt.level)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("log %q lacks %s", got, w)
				}
			}
			for _, leak := range []string{"5ecre7519", "T0ken", "AKIAEXAMPLE", "partNumber"} {
				if strings.Contains(got, leak) {
					t.Errorf("log %q holds %q", got, leak)
				}
			}
		})
	}
}
