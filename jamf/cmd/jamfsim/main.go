// Command jamfsim serves a simulated Jamf Pro server with a JCDS 2.0
// distribution point (package jamfsim) until SIGINT or SIGTERM.
//
// Its first line on stdout is JSS_URL=http://HOST:PORT, its second
// AWS_ENDPOINT_URL_S3=http://HOST:PORT (the simulator's S3 proxy, in front
// of the in-process S3 or of MinIO); logs go to stderr. State is served as
// JSON at JSS_URL/_sim/state; faults can be added at start with -fault or
// later with POST JSS_URL/_sim/fault (same text format).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/secret"
	"github.com/jcds2-uploader/jcds2-uploader/jamf/wanlink"
	"github.com/rs/zerolog"
)

// logReporter logs contract violations (the program has no test to fail).
type logReporter struct{ log zerolog.Logger }

func (l logReporter) Errorf(format string, args ...any) {
	l.log.Warn().Msg(fmt.Sprintf(format, args...))
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "jamfsim:", secret.Scrub(err.Error()))
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("jamfsim", flag.ContinueOnError)
	var (
		addr         = fs.String("addr", "127.0.0.1:0", "listen address for the Jamf Pro API")
		user         = fs.String("user", "admin", "account name (all privileges)")
		password     = fs.String("password", "password", "account password")
		clientID     = fs.String("client-id", "client-id", "API client id (all privileges)")
		clientSecret = fs.String("client-secret", "client-secret", "API client secret")
		version      = fs.String("jamf-version", "11.25.0", "Jamf Pro version to simulate")
		tokenTTL     = fs.Duration("token-ttl", 0, "bearer token lifetime of both kinds (default: 60s for API client tokens, 30m for basic-auth tokens)")
		credsTTL     = fs.Duration("credentials-ttl", time.Hour, "JCDS upload credentials lifetime")
		s3Endpoint   = fs.String("s3-endpoint", "", "MinIO endpoint (default: in-process S3)")
		s3Key        = fs.String("s3-access-key", "", "MinIO access key (root or STS-capable user)")
		s3Secret     = fs.String("s3-secret-key", "", "MinIO secret key")
		s3Bucket     = fs.String("s3-bucket", "jcds-sim", "bucket for the distribution point")
		noJCDS       = fs.Bool("no-jcds", false, "simulate an instance without a cloud distribution point (JCDS endpoints 500 before 11.25.2, then 404)")
		jcdsRemoved  = fs.Bool("jcds-removed", false, "simulate a release without the deprecated /api/v1/jcds/* endpoints (all 404)")
		cdpSince     = fs.String("cdp-refresh-since", "11.24.0", "first version with /api/v1/cloud-distribution-point/refresh-inventory")
		nodes        = fs.Int("cluster-nodes", 2, "application nodes (pods) behind the URL, sticky by the -balance-cookie cookie: 2 is a Standard instance, 4 Premium (1: no cluster)")
		cookie       = fs.String("balance-cookie", jamfsim.CookieJproIngress, "load-balancer cookie name: "+jamfsim.CookieJproIngress+" (Jamf Support's current scripts) or "+jamfsim.CookieAPBalanceID+" (older docs)")
		noFlip       = fs.Bool("no-refresh-flip", false, "a refresh during processing changes nothing (default: the first shows the new hash with the old size, the next reverts it)")
		lag          = fs.Duration("cluster-lag", time.Minute, "how long a node takes to see writes made on another node")
		procDelay    = fs.Duration("processing-delay", 0, "processing time of every upload whatever its size (0: by size, see -processing-rate; negative: none)")
		procRate     = fs.Float64("processing-rate", jamfsim.DefaultProcessingRate, "bytes per second the service processes an upload at (default from jamf-upload#399)")
		timeScale    = fs.Float64("time-scale", 1, "divide every simulated duration (lag, processing, refresh, rate limit, token and credential lifetimes, fault latency) by this")
		contract     = fs.Bool("contract", false, "log requests and responses that Jamf's OpenAPI documents do not allow")
		verbose      = fs.Bool("v", false, "log every request")
		wanDelay     = fs.Duration("wan-delay", 0, "S3 path: one-way delay added each way (e.g. 30ms; package wanlink)")
		wanConnMbps  = fs.Float64("wan-conn-mbps", 0, "S3 path: bandwidth per connection and direction, Mbit/s (0: unlimited)")
		wanLinkMbps  = fs.Float64("wan-link-mbps", 0, "S3 path: bandwidth shared by all connections per direction, Mbit/s (0: unlimited)")
		categories   listFlag
		faults       listFlag
	)
	fs.Var(&categories, "category", "pre-create a category (repeatable)")
	fs.Var(&faults, "fault", "inject a fault: 'METHOD PATH STATUS [COUNT] [every=N] [retry-after=S] [latency=D] [landed] [body=TEXT] [s3]'; STATUS may be never-lands or corrupt; landed answers after the bytes land (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret.Register(*password, *clientSecret, *s3Secret)
	level := zerolog.InfoLevel
	if *verbose {
		level = zerolog.DebugLevel
	}
	logger := zerolog.New(zerolog.ConsoleWriter{Out: secret.Writer(os.Stderr), TimeFormat: time.TimeOnly, NoColor: true}).
		Level(level).With().Timestamp().Logger()

	opts := jamfsim.Options{
		JamfVersion: *version, Username: *user, Password: *password, ClientID: *clientID, ClientSecret: *clientSecret,
		TokenTTL: *tokenTTL, CredentialsTTL: *credsTTL, NoJCDS: *noJCDS, JCDSRemoved: *jcdsRemoved, CDPRefreshSince: *cdpSince,
		ClusterNodes: *nodes, ClusterLag: *lag, BalanceCookie: *cookie, NoRefreshFlip: *noFlip, ProcessingDelay: *procDelay, TimeScale: *timeScale, Logger: logger,
		WAN: wanlink.Profile{Delay: *wanDelay, ConnRate: wanlink.Mbps(*wanConnMbps), LinkRate: wanlink.Mbps(*wanLinkMbps)},
	}
	if *nodes < 1 {
		return errors.New("-cluster-nodes must be at least 1")
	}
	if *timeScale <= 0 {
		return errors.New("-time-scale must be positive")
	}
	if *procRate <= 0 {
		return errors.New("-processing-rate must be positive")
	}
	if *procRate != jamfsim.DefaultProcessingRate && *procDelay == 0 {
		opts.ProcessingTime = jamfsim.ProcessingTimeAtRate(*procRate)
	}
	if *lag <= 0 {
		opts.ClusterLag = -1 // no lag
	}
	if *contract {
		opts.Contract = logReporter{logger}
	}
	if *s3Endpoint != "" {
		if *s3Key == "" || *s3Secret == "" {
			return errors.New("-s3-endpoint needs -s3-access-key and -s3-secret-key")
		}
		opts.S3 = &jamfsim.S3Config{Endpoint: *s3Endpoint, AccessKey: *s3Key, SecretKey: *s3Secret, Bucket: *s3Bucket}
	}
	var parsed []jamfsim.Fault
	for _, spec := range faults {
		f, err := jamfsim.ParseFault(spec)
		if err != nil {
			return err
		}
		parsed = append(parsed, f)
	}
	sim, err := jamfsim.New(opts)
	if err != nil {
		return err
	}
	defer sim.Close()
	for _, c := range categories {
		sim.AddCategory(c)
	}
	for _, f := range parsed {
		sim.InjectFault(f)
	}
	// Catch signals before announcing the address: whoever reads it may
	// stop us at once, and must get a clean shutdown, not a default kill.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	url, err := sim.Listen(*addr)
	if err != nil {
		return err
	}
	fmt.Printf("JSS_URL=%s\nAWS_ENDPOINT_URL_S3=%s\n", url, sim.S3Endpoint())
	logger.Info().Str("url", url).Str("s3", sim.S3Endpoint()).Str("version", *version).Str("bucket", sim.Bucket()).Msg("jamfsim serving")

	got := <-sig
	logger.Info().Str("signal", got.String()).Msg("shutting down")
	return nil
}
