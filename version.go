package main

import (
	_ "embed"
	"runtime/debug"
	"strings"
)

// releaseVersion is the semantic version this tree will be released as. The
// shim (recipes/JCDS2PackageUploader.py) records the same number and refuses
// a binary whose version differs, so that upgrading the binary always
// changes the .py file that AutoPkg's trust info hashes.
//
//go:embed VERSION
var releaseVersion string

// version is set at build time with -ldflags "-X main.version=…": the
// Makefile and goreleaser stamp VERSION, plus build metadata after a "+"
// for builds that are not the tagged release.
var version = ""

// buildVersion is what -version prints. Without a stamp (plain go build or
// go install) it is VERSION, marked "+dev" unless the module was installed
// at exactly that release tag.
func buildVersion() string {
	return resolveVersion(version, releaseVersion, moduleVersion())
}

func moduleVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		return info.Main.Version
	}
	return ""
}

func resolveVersion(stamped, release, module string) string {
	if stamped != "" {
		return stamped
	}
	release = strings.TrimSpace(release)
	if strings.TrimPrefix(module, "v") == release {
		return release
	}
	return release + "+dev"
}
