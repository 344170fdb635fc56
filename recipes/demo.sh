#!/usr/bin/env bash
# make demo: start the Jamf Pro simulator, build a small sample package,
# upload it as AutoPkg would, print the output plist, run it again to show
# the nightly no-op, and stop the simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
sim_pid=""
cleanup() {
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

bin/jamfsim -addr 127.0.0.1:0 -category Productivity >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 100); do
	[ "$(wc -l <"$work/sim.out")" -ge 2 ] && break
	sleep 0.1
done
JSS_URL=$(sed -n 's/^JSS_URL=//p' "$work/sim.out")
AWS_ENDPOINT_URL_S3=$(sed -n 's/^AWS_ENDPOINT_URL_S3=//p' "$work/sim.out")
[ -n "$JSS_URL" ] && [ -n "$AWS_ENDPOINT_URL_S3" ] || { echo "simulator did not start:"; cat "$work/sim.log"; exit 1; }
# The token cache and journal go under $work, not the user's: HOME too,
# since macOS keeps them in ~/Library/Caches whatever XDG_CACHE_HOME says.
mkdir -p "$work/home"
export AWS_ENDPOINT_URL_S3 HOME="$work/home" XDG_CACHE_HOME="$work/home/.cache"
echo "== Jamf Pro simulator at $JSS_URL (S3 at $AWS_ENDPOINT_URL_S3)" >&2

# A sample package: 5 MiB of random bytes named like a flat package.
pkg="$work/Demo App 1.0.pkg"
head -c $((5 * 1024 * 1024)) /dev/urandom >"$pkg"

cat >"$work/env.plist" <<PLIST
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>JSS_URL</key><string>$JSS_URL</string>
	<key>API_USERNAME</key><string>admin</string>
	<key>API_PASSWORD</key><string>password</string>
	<key>NAME</key><string>Demo App</string>
	<key>version</key><string>1.0</string>
	<key>pkg_path</key><string>$pkg</string>
	<key>pkg_category</key><string>%CATEGORY%</string>
	<key>CATEGORY</key><string>Productivity</string>
	<key>jcds2_mode</key><true/>
	<key>verbose</key><integer>1</integer>
</dict>
</plist>
PLIST

echo "== First run: a new package (logs on stderr, the output plist on stdout)" >&2
bin/jcds2-uploader -input "$work/env.plist"
echo "== Second run: the nightly no-op" >&2
bin/jcds2-uploader -input "$work/env.plist" | grep -A1 -E 'pkg_uploaded|pkg_upload_status'
echo "== Simulator state (JCDS files and package objects)" >&2
curl -s "$JSS_URL/_sim/state" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(json.dumps({"files": s["files"], "packages": [{k: p[k] for k in ("id","packageName","fileName","hashType","categoryId")} for p in s["packages"]]}, indent=2))'
