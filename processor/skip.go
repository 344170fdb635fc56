package processor

import (
	"github.com/rs/zerolog"

	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// SkipAndProceed is the input every JamfUploader processor has had since
// grahampugh/jamf-upload 5855e6e (April 2026): true, and the processor does
// nothing and the recipe goes on. ProcessSkipped is its output.
const (
	SkipAndProceed = "skip_and_proceed"
	ProcessSkipped = "process_skipped"
)

// skipRun handles skip_and_proceed before anything else is read: when it
// is true, no input is checked, no file read and no request sent, and the
// environment is handed back with process_skipped True and every other
// output left as it was, as JamfPackageUploader leaves it (it returns from
// execute() right after setting process_skipped). skipped says the run is
// over; an unreadable skip_and_proceed is an error.
func skipRun(env plistio.Env, log zerolog.Logger) (skipped bool, err error) {
	skip, warning, err := readBool(env, SkipAndProceed)
	if err != nil {
		return false, err
	}
	if !skip {
		return false, nil
	}
	if warning != "" {
		log.Warn().Msg(warning)
	}
	log.Info().Msg("Skipping package to next process as skip_and_proceed is set to True")
	// The output never echoes a secret back (as writeOutputs).
	for k := range env {
		if isSecretKey(k) {
			delete(env, k)
		}
	}
	env[ProcessSkipped] = true
	return true, nil
}
