package processor

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
)

// A secret that reaches a log line through %KEY% substitution (say
// pkg_category=%API_PASSWORD%) is quoted by the step text and escaped again
// by the log writer; no spelling of it may be printed.
func TestLoggerMasksEscapedSecrets(t *testing.T) {
	secrets := []string{`Tr1cky"Pass\word`, `Tr1cky<&>'pw`, "Tr1cky\tTab\nLine", `Tr1cky\\"\"deep`}
	logs := map[string]func(log func(string)){
		"message":          func(log func(string)) { log("plain") },
		"quoted field":     func(log func(string)) { log("%q") },
		"quoted twice":     func(log func(string)) { log("%q%q") },
		"wrapped error":    func(log func(string)) { log("err") },
		"quoted in quoted": func(log func(string)) { log("nested") },
	}
	for _, format := range []string{"json", "text"} {
		for _, s := range secrets {
			for name := range logs {
				t.Run(fmt.Sprintf("%s/%s/%q", format, name, s), func(t *testing.T) {
					secret.Reset()
					t.Cleanup(secret.Reset)
					secret.Register(s)
					var buf bytes.Buffer
					log := NewLogger(&buf, 4, format)
					step := fmt.Sprintf("find category %q", s)
					switch name {
					case "message":
						log.Info().Msg("category " + s)
					case "quoted field":
						log.Debug().Str("step", step).Msg("jamf request")
					case "quoted twice":
						log.Debug().Str("step", fmt.Sprintf("%q", step)).Msg("jamf request")
					case "wrapped error":
						log.Warn().Err(fmt.Errorf("%s: %w", step, errors.New("HTTP 400"))).Msg("failed")
					case "quoted in quoted":
						log.Info().Msg(fmt.Sprintf("plan: %q", step))
					}
					out := buf.String()
					if strings.Contains(out, "Tr1cky") {
						t.Errorf("secret printed:\n%s", out)
					}
					if !strings.Contains(out, secret.Mask) {
						t.Errorf("no mask where the secret was:\n%s", out)
					}
				})
			}
		}
	}
}
