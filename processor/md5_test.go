package processor

import (
	"crypto/md5"
	"encoding/hex"
	"os"
	"testing"
	"testing/synctest"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/jamfsim"
)

// TestMD5OnRefreshingServers: with md5 True on a server with an inventory
// refresh (11.11+), the package ends whole (size, the server's SHA3-512,
// READY) and carries the server's own md5 field equal to the file's MD5,
// the field deploymenttheory/terraform-provider-jamfpro writes to work
// around PI122573 (no MD5, no PreStage package). No MD5 is written over
// the hash after verification: that write would blank size again.
func TestMD5OnRefreshingServers(t *testing.T) {
	for _, mode := range []string{ModeJCDS2, ModeV1} {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newFlowRig(t, jamfsim.Options{})
				path, sum := writePkg(t, t.TempDir(), "MD5.pkg", 64<<10)
				env := r.env(path)
				env["md5"], env["upload_mode"] = true, mode
				r.mustUpload(env)
				p := r.ready("MD5.pkg", sum)
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				want := md5.Sum(data)
				if p.MD5 != hex.EncodeToString(want[:]) {
					t.Errorf("md5 field %q, want the file's %x", p.MD5, want)
				}
			})
		})
	}
}
