package processor

import (
	"strconv"
	"strings"

	"github.com/jcds2-uploader/jcds2-uploader/plistio"
)

// writeOutputs sets the reference's outputs, told truthfully, and this
// processor's additions.
func writeOutputs(env plistio.Env, cfg *Config, res *Result) {
	// The output never echoes a secret back: the shim leaves AutoPkg's own
	// copies alone, so later processors in the recipe still have them.
	for k := range env {
		if isSecretKey(k) {
			delete(env, k)
		}
	}
	env["pkg_path"] = res.File.Path
	env["pkg_name"] = res.File.Name
	env["pkg_display_name"] = displayName(cfg, res.File)
	env["pkg_uploaded"] = res.Uploaded
	env["pkg_metadata_updated"] = res.MetaWritten
	env["pkg_id"] = res.PackageID
	env["pkg_upload_status"] = res.Status
	env[ProcessSkipped] = false
	env["pkg_pods_verified"] = res.Pods
	if res.SHA3 != "" {
		env["pkg_sha3_512"] = res.SHA3
	} else {
		delete(env, "pkg_sha3_512")
	}
	if res.Status == StatusDryRun {
		plan := make([]any, len(res.Plan.Steps))
		for i, s := range res.Plan.Sentences() {
			plan[i] = s
		}
		env["pkg_plan"] = plan
	} else {
		delete(env, "pkg_plan")
	}
	if res.Uploaded || res.MetaWritten {
		env[SummaryKey] = summary(cfg, res)
	}
}

// summary is the reference's summary result, with the same keys, so
// AutoPkg's report and reporting processors read it unchanged.
func summary(cfg *Config, res *Result) map[string]any {
	recalc := "False"
	if res.Recalc {
		recalc = "True"
	}
	fields := []any{"category", "name", "pkg_name", "pkg_display_name", "pkg_path", "version", "packages_recalculated", "pods_verified"}
	return map[string]any{
		"summary_text":  "The following packages were uploaded to or updated in Jamf Pro:",
		"report_fields": fields,
		"data": map[string]any{
			"category":              cfg.Category,
			"name":                  cfg.Name,
			"pkg_name":              res.File.Name,
			"pkg_display_name":      displayName(cfg, res.File),
			"pkg_path":              res.File.Path,
			"version":               cfg.Version,
			"packages_recalculated": recalc,
			// How many pods showed the file READY with its size and
			// SHA3-512: every pod of the instance.
			"pods_verified": strconv.Itoa(res.Pods),
		},
	}
}

// isSecretKey reports whether an input key holds a credential: the Jamf
// Pro ones, and the SMB passwords the reference accepts (SMB_PASSWORD,
// SMB2_PASSWORD …).
func isSecretKey(k string) bool {
	switch k {
	case "API_PASSWORD", "CLIENT_SECRET", "BEARER_TOKEN", "SMB_PASSWORD":
		return true
	}
	return strings.HasPrefix(k, "SMB") && strings.HasSuffix(k, "_PASSWORD")
}
