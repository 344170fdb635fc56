package main

import (
	"os"
	"strings"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/processor"
)

// TestREADMEInputRowsMatchDescribe: each input's README row says exactly
// what -describe says (required, default, description), and every refused
// input appears in the "Refused settings" part.
func TestREADMEInputRowsMatchDescribe(t *testing.T) {
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for _, in := range processor.Describe().Inputs {
		req, def := "", ""
		if in.Required {
			req = "yes"
		}
		if in.Default != "" {
			def = "`" + in.Default + "`"
		}
		row := "| `" + in.Name + "` | " + req + " | " + def + " | " + in.Description + " |"
		if !strings.Contains(readme, row) {
			t.Errorf("README row for %s differs from -describe; want\n%s", in.Name, row)
		}
	}
	i := strings.Index(readme, "### Refused settings")
	if i < 0 {
		t.Fatal("README has no Refused settings part")
	}
	refused := readme[i:]
	if j := strings.Index(refused[4:], "\n## "); j >= 0 {
		refused = refused[:j+4]
	}
	for _, in := range processor.Describe().Inputs {
		if strings.HasPrefix(in.Description, "Refused") && !strings.Contains(refused, "`"+in.Name+"`") {
			t.Errorf("Refused settings does not list %s", in.Name)
		}
	}
}
