package jamfsim

import (
	"fmt"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/wanlink"
)

// shapeS3 puts the modelled WAN path of Options.WAN in front of the S3
// proxy at addr. It is a test-rig network, not Jamf behaviour: off unless
// asked for, and the simulator's own logic never sees it.
func (s *Server) shapeS3(addr string) error {
	if !s.opts.WAN.Enabled() {
		return nil
	}
	px, err := wanlink.Listen("127.0.0.1:0", addr, s.opts.WAN)
	if err != nil {
		return fmt.Errorf("S3 WAN path: %w", err)
	}
	s.wan = px
	s.proxyURL = "http://" + px.Addr()
	s.log.Info().Str("path", s.opts.WAN.String()).Str("s3", s.proxyURL).Msg("S3 behind a modelled WAN path")
	return nil
}
