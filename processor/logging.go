package processor

import (
	"fmt"
	"io"
	"strings"

	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
)

// Level maps AutoPkg's verbosity (verbose key, -v flags) to a log level:
// 0 prints warnings only, as a quiet nightly run should; 1 the steps taken;
// 2 details; 3 and more every HTTP request.
func Level(verbose int) zerolog.Level {
	switch {
	case verbose <= 0:
		return zerolog.WarnLevel
	case verbose == 1:
		return zerolog.InfoLevel
	case verbose == 2:
		return zerolog.DebugLevel
	default:
		return zerolog.TraceLevel
	}
}

// NewLogger returns a logger that writes to w (standard error) through the
// secret scrubber. format "json" gives JSON lines; anything else gives
// AutoPkg-style "JCDS2PackageUploader: message key=value" lines.
func NewLogger(w io.Writer, verbose int, format string) zerolog.Logger {
	w = secret.Writer(w)
	if format != "json" {
		w = zerolog.ConsoleWriter{
			Out:         w,
			NoColor:     true,
			PartsOrder:  []string{zerolog.LevelFieldName, zerolog.MessageFieldName},
			FormatLevel: formatLevel,
			// Messages carry text from outside (server answers, file and
			// package names); escaped, it cannot move the cursor, rewrite
			// the line or forge a "ProcessorError:" line for the shim.
			// Field values are quoted by the writer when they need it.
			FormatMessage: func(i any) string {
				if i == nil {
					return ""
				}
				return secret.Escape(fmt.Sprint(i))
			},
			FormatFieldName: func(i any) string {
				return fmt.Sprintf("%s=", i)
			},
		}
	}
	return zerolog.New(w).Level(Level(verbose)).With().Timestamp().Logger()
}

// formatLevel prefixes every line with the processor name as AutoPkg does,
// and marks only the lines a reader must not miss.
func formatLevel(i any) string {
	level, _ := i.(string)
	switch level {
	case "warn":
		return Name + ": WARNING:"
	case "error", "fatal", "panic":
		return Name + ": ERROR:"
	default:
		return Name + ":"
	}
}

// ParseLogFormat validates the -log-format flag.
func ParseLogFormat(s string) (string, error) {
	switch strings.ToLower(s) {
	case "", "text", "human", "console":
		return "text", nil
	case "json":
		return "json", nil
	}
	return "", fmt.Errorf("unknown log format %q (want text or json)", s)
}

// ProgressWriter returns where progress reports go for a log format: plain
// standard error for text logs, or Info events for JSON logs, so a JSON log
// consumer never meets a line that is not JSON.
func ProgressWriter(stderr io.Writer, log zerolog.Logger, format string) io.Writer {
	if format == "json" {
		return lineLogger{log}
	}
	return secret.Writer(stderr)
}

type lineLogger struct{ log zerolog.Logger }

func (l lineLogger) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		if line = strings.TrimSpace(strings.Trim(line, "\r")); line != "" {
			l.log.Info().Str("event", "progress").Msg(line)
		}
	}
	return len(p), nil
}
