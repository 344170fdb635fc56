#!/bin/sh
# Prints the version to stamp into the binary (-X main.version): VERSION
# on a clean checkout of its release tag (vVERSION); otherwise VERSION with
# semver build metadata naming the commit (0.3.0+g1a2b3c4, .dirty with
# uncommitted changes), or +dev outside git. The shim ignores build
# metadata, so every build of a tree passes that tree's version check.
set -eu
cd "$(dirname "$0")/.."
v=$(cat VERSION)
if ! commit=$(git rev-parse --short HEAD 2>/dev/null); then
	echo "$v+dev"
	exit 0
fi
dirty=
if ! git diff --quiet HEAD -- 2>/dev/null; then
	dirty=.dirty
fi
if [ -z "$dirty" ] && [ "$(git tag --points-at HEAD --list "v$v" 2>/dev/null)" = "v$v" ]; then
	echo "$v"
else
	echo "$v+g$commit$dirty"
fi
