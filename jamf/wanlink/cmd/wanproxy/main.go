// Command wanproxy puts a modelled wide-area path (package wanlink) in front
// of any TCP server, e.g. a plain MinIO, so any S3 client can be measured
// through it:
//
//	wanproxy -target 127.0.0.1:9000 -delay 30ms -conn-mbps 80 -link-mbps 1000
//
// Its first line on stdout is URL=http://HOST:PORT; it serves until SIGINT
// or SIGTERM and then reports the traffic it carried on stderr.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/wanlink"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wanproxy:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("wanproxy", flag.ContinueOnError)
	var (
		listen   = fs.String("listen", "127.0.0.1:0", "listen address")
		target   = fs.String("target", "", "address to forward to, host:port (required)")
		delay    = fs.Duration("delay", 0, "one-way delay added each way, e.g. 30ms")
		connMbps = fs.Float64("conn-mbps", 0, "bandwidth per connection and direction, Mbit/s (0: unlimited)")
		linkMbps = fs.Float64("link-mbps", 0, "bandwidth shared by all connections per direction, Mbit/s (0: unlimited)")
		window   = fs.Int("window-kib", 0, "largest TCP window modelled, KiB (0: 4096, Linux's default)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *target == "" {
		return errors.New("-target is required")
	}
	p := wanlink.Profile{Delay: *delay, ConnRate: wanlink.Mbps(*connMbps), LinkRate: wanlink.Mbps(*linkMbps), MaxWindow: *window << 10}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	px, err := wanlink.Listen(*listen, *target, p)
	if err != nil {
		return err
	}
	fmt.Printf("URL=http://%s\n", px.Addr())
	fmt.Fprintf(os.Stderr, "wanproxy: %s -> %s: %s\n", px.Addr(), *target, p)
	<-sig
	_ = px.Close()
	c := px.Counts()
	fmt.Fprintf(os.Stderr, "wanproxy: %d connections, %d bytes up, %d bytes down\n", c.Connections, c.BytesUp, c.BytesDown)
	return nil
}
