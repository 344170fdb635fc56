package processor

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jcds2-uploader/jcds2-uploader/jamf/s3upload"
)

// TestREADMEMatchesDescribe: each input's README row says exactly what
// -describe says (required, default, description), every output has a row,
// and every refused input appears in the "Refused settings" part.
func TestREADMEMatchesDescribe(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for _, in := range Describe().Inputs {
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
	for _, out := range Describe().Outputs {
		if !strings.Contains(readme, "| `"+out.Name+"` |") {
			t.Errorf("README lacks a table row for output %s", out.Name)
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
	for _, in := range Describe().Inputs {
		if strings.HasPrefix(in.Description, "Refused") && !strings.Contains(refused, "`"+in.Name+"`") {
			t.Errorf("Refused settings does not list %s", in.Name)
		}
	}
}

// TestManifestStatesTheDefaults ties the numbers -describe and the README
// state to the ones ParseConfig and the upload use.
func TestManifestStatesTheDefaults(t *testing.T) {
	c, err := ParseConfig(baseEnv(), false)
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string]Input{}
	for _, in := range Describe().Inputs {
		inputs[in.Name] = in
	}
	plan, err := s3upload.NewPlan(1<<30, c.UploadPartSize, c.UploadConcurrency)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		input, want string
		inDefault   bool // the text is the Default field, else in the description
	}{
		{"pkg_priority", strconv.Itoa(c.Priority), true},
		{"max_tries", strconv.Itoa(c.MaxTries), true},
		{"max_tries", "(anything else: " + strconv.Itoa(c.MaxTries) + ")", false},
		{"verify_timeout", "", true}, // unset, the budget grows with the file
		{"verify_timeout", strconv.Itoa(int(defaultVerifyBudget(0).Seconds())) + " s, or the size at " + strconv.Itoa(verifyBudgetRate/1_000_000) + " MB/s plus " + strconv.Itoa(int(verifyBudgetFixed.Minutes())) + " minutes", false},
		{"upload_concurrency", strconv.Itoa(plan.Concurrency), true},
		{"upload_concurrency", "1 to " + strconv.Itoa(s3upload.MaxConcurrency), false},
		{"upload_part_size", "By default " + strconv.FormatInt(plan.PartSize>>20, 10) + ",", false},
		{"upload_part_size", strconv.FormatInt(s3upload.S3MinPartSize>>20, 10) + " to " + strconv.FormatInt(s3upload.MaxPartSize>>20, 10), false},
	} {
		in := inputs[tc.input]
		got := in.Description
		if tc.inDefault {
			got = in.Default
		}
		if tc.inDefault && got != tc.want || !tc.inDefault && !strings.Contains(got, tc.want) {
			t.Errorf("%s: manifest says %q, want %q", tc.input, got, tc.want)
		}
	}
	// The bounds ParseConfig enforces are the ones stated.
	for _, tc := range []struct {
		input string
		ok    []any
		bad   []any
	}{
		{"upload_concurrency", []any{uint64(1), uint64(s3upload.MaxConcurrency)}, []any{uint64(0), uint64(s3upload.MaxConcurrency + 1)}},
		{"upload_part_size", []any{uint64(s3upload.S3MinPartSize >> 20), uint64(s3upload.MaxPartSize >> 20)}, []any{uint64(s3upload.S3MinPartSize>>20 - 1), uint64(s3upload.MaxPartSize>>20 + 1)}},
	} {
		for _, v := range tc.ok {
			env := baseEnv()
			env[tc.input] = v
			if _, err := ParseConfig(env, false); err != nil {
				t.Errorf("%s %v refused: %v", tc.input, v, err)
			}
		}
		for _, v := range tc.bad {
			env := baseEnv()
			env[tc.input] = v
			if _, err := ParseConfig(env, false); err == nil {
				t.Errorf("%s %v accepted", tc.input, v)
			}
		}
	}
}
