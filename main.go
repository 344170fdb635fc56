// Command jcds2-uploader uploads a macOS package to Jamf Pro's cloud
// distribution point (JCDS 2.0) as an AutoPkg processor run as a separate
// program: the AutoPkg environment comes in as a property list on standard
// input (or key=value arguments, or -input FILE), the updated environment
// goes out as a property list on standard output, and logs and progress go
// to standard error. A failure prints "ProcessorError: <message>" on
// standard error and exits 10, as AutoPkg's Processor.execute_shell does.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
	"github.com/jcds2-uploader/jcds2-uploader/plistio"
	"github.com/jcds2-uploader/jcds2-uploader/processor"
)

// Exit statuses.
const (
	exitOK             = 0
	exitUsage          = 2
	exitProcessorError = 10 // AutoPkg's execute_shell status for ProcessorError
)

func main() {
	ctx, stop := stopOnSignal(context.Background())
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// stopOnSignal returns a context cancelled by SIGINT or SIGTERM with the
// signal as its cause (processor.StopSignal), so the run's error can say
// what stopped it. Further signals are caught too, until stop is called:
// the run is already stopping, and a cleanup (aborting a multipart upload,
// removing an object made for a failed upload) should not be cut short.
func stopOnSignal(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			cancel(processor.StopSignal{Signal: sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// verbosity counts -v flags; -vv, -vvv and -vvvv are accepted as AutoPkg's
// own command line spells them.
type verbosity int

func (v *verbosity) String() string   { return strconv.Itoa(int(*v)) }
func (v *verbosity) IsBoolFlag() bool { return true }
func (v *verbosity) Set(s string) error {
	if b, err := strconv.ParseBool(s); err == nil {
		if b {
			*v++
		}
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("want a number")
	}
	*v = verbosity(n)
	return nil
}

type addVerbosity struct {
	v *verbosity
	n int
}

func (a addVerbosity) String() string   { return "" }
func (a addVerbosity) IsBoolFlag() bool { return true }
func (a addVerbosity) Set(string) error { *a.v += verbosity(a.n); return nil }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("jcds2-uploader", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		input     = fs.String("input", "", "read the environment plist from `FILE` (- for standard input)")
		output    = fs.String("output", "-", "write the environment plist to `FILE` (- for standard output)")
		logFormat = fs.String("log-format", "text", "log line `format`: text or json")
		describe  = fs.Bool("describe", false, "print the processor's inputs and outputs as JSON and exit")
		showVer   = fs.Bool("version", false, "print the version and exit")
		dryRun    = fs.Bool("dry-run", false, "look everything up and log the plan, but change nothing")
		verbose   verbosity
	)
	fs.Var(&verbose, "v", "more log detail (repeat, or -vv, -vvv, -vvvv)")
	fs.Var(addVerbosity{&verbose, 2}, "vv", "verbosity 2")
	fs.Var(addVerbosity{&verbose, 3}, "vvv", "verbosity 3")
	fs.Var(addVerbosity{&verbose, 4}, "vvvv", "verbosity 4")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage:
  jcds2-uploader [flags] < env.plist > out.plist
  jcds2-uploader [flags] -input env.plist
  jcds2-uploader [flags] key=value ...

Uploads a package to Jamf Pro's cloud distribution point (JCDS 2.0) as an
AutoPkg processor: the environment plist in, the updated environment plist
out on standard output; logs on standard error. Inputs and outputs: -describe.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	format, err := processor.ParseLogFormat(*logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "jcds2-uploader: %v\n", err)
		return exitUsage
	}
	switch {
	case *showVer:
		fmt.Fprintf(stdout, "jcds2-uploader %s\n", buildVersion())
		return exitOK
	case *describe:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(processor.Describe()); err != nil {
			fmt.Fprintf(stderr, "jcds2-uploader: %v\n", err)
			return exitUsage
		}
		return exitOK
	}
	if *input != "" && fs.NArg() > 0 {
		fmt.Fprintln(stderr, "jcds2-uploader: give the environment either with -input or as key=value arguments, not both")
		return exitUsage
	}

	env, err := readEnv(*input, fs.Args(), stdin)
	if err != nil {
		return fail(stderr, err)
	}
	level, err := env.Int("verbose", 0)
	if err != nil {
		return fail(stderr, err)
	}
	level = max(level, int(verbose))
	log := processor.NewLogger(stderr, level, format)
	// These are logged at every verbosity: a quiet nightly run is exactly
	// where nobody would otherwise notice.
	for _, w := range processor.SecurityWarnings(env) {
		log.Warn().Msg(w)
	}
	if *input == "" {
		for _, key := range secretArgs(fs.Args()) {
			log.Warn().Msgf("%s was given as a command-line argument, where other users of this computer can read it (ps); put it in a plist file (-input) or the AutoPkg environment on standard input instead", key)
		}
	}

	// Progress is for people watching (autopkg run -v); a quiet nightly run
	// at verbose 0 keeps its log to warnings and errors.
	var progress io.Writer
	if level > 0 {
		progress = processor.ProgressWriter(stderr, log, format)
	}
	opts := processor.Options{DryRun: *dryRun, Logger: log, Progress: progress, Version: buildVersion()}
	if err := processor.Run(ctx, env, opts); err != nil {
		return fail(stderr, err)
	}
	if err := plistio.WriteFile(*output, stdout, env); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

func readEnv(input string, args []string, stdin io.Reader) (plistio.Env, error) {
	switch {
	case input != "":
		return plistio.ReadFile(input, stdin)
	case len(args) > 0:
		return plistio.FromArgs(args)
	default:
		return plistio.Read(stdin)
	}
}

// secretKeys are the inputs that carry a secret.
var secretKeys = []string{"API_PASSWORD", "CLIENT_SECRET", "BEARER_TOKEN"}

// secretArgs names the secret inputs among key=value arguments.
func secretArgs(args []string) []string {
	var out []string
	for _, arg := range args {
		key, value, _ := strings.Cut(arg, "=")
		if value != "" && slices.Contains(secretKeys, key) && !slices.Contains(out, key) {
			out = append(out, key)
		}
	}
	return out
}

// fail reports a processor error exactly as AutoPkg's execute_shell does.
// Line breaks between the parts of a joined error stay; every other control
// character is escaped, so text from a server cannot rewrite the line.
func fail(stderr io.Writer, err error) int {
	lines := strings.Split(secret.Scrub(err.Error()), "\n")
	for i, l := range lines {
		lines[i] = secret.Escape(l)
	}
	fmt.Fprintf(stderr, "ProcessorError: %s\n", strings.Join(lines, "\n"))
	return exitProcessorError
}
