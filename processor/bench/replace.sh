#!/usr/bin/env bash
# What the safe replace costs: the real binary against the Jamf Pro simulator
# whose JCDS is a real MinIO on loopback. For a package of BENCH_SIZE_MIB
# (default 256) MiB it times, end to end (lookups, upload, verification,
# metadata, settling):
#
#   1. a new package (JCDS 2.0: S3 multipart upload, parallel parts);
#   2. a replace on Jamf Pro 11.25 (POST /api/v1/packages/{id}/upload: one
#      stream through Jamf Pro; whether the old file stays installable
#      meanwhile is documented nowhere, jamf/JamfSync#41);
#   3. a replace on Jamf Pro 11.4 (no {id}/upload: every byte in S3, then
#      delete, confirm, commit).
#
# The simulator runs one node (-cluster-nodes 1): each run is a new
# process, and on a cluster a run right after another may not see the
# object the first one made for up to a minute; this measures transfer, not
# that wait. Needs MinIO ($MINIO_BIN), curl, jq.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
size_mib=${BENCH_SIZE_MIB:-256}
work=$(mktemp -d /tmp/replacebench.XXXXXX); echo "work: $work" >&2
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

CGO_ENABLED=0 go build -trimpath -o "$work/jcds2-uploader" .
CGO_ENABLED=0 go build -trimpath -o "$work/jamfsim" ./jamf/cmd/jamfsim
go build -o "$work/s3bench" ./jamf/s3upload/bench/cmd/s3bench
minio=${MINIO_BIN:-$("$work/s3bench" -minio-path)}

port=$("$work/s3bench" -free-port)
console=$("$work/s3bench" -free-port)
minio_url=http://127.0.0.1:$port
minio_user=bench-$RANDOM$RANDOM
minio_pass=bench-secret-$RANDOM$RANDOM$RANDOM
MINIO_ROOT_USER=$minio_user MINIO_ROOT_PASSWORD=$minio_pass MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 \
	"$minio" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" \
	"$work/minio-data" >"$work/minio.log" 2>&1 &
pids+=($!)
"$work/s3bench" -wait "$minio_url"

start_sim() { # $1 version, $2 bucket, $3 out file
	# -time-scale 30: the service's processing and refreshes at a thirtieth
	# of Jamf Cloud's pace (the bench measures the uploader).
	"$work/jamfsim" -jamf-version "$1" -s3-bucket "$2" -cluster-nodes 1 -time-scale 30 -s3-endpoint "$minio_url" \
		-s3-access-key "$minio_user" -s3-secret-key "$minio_pass" >"$3" 2>"$3.log" &
	pids+=($!)
	for _ in $(seq 1 100); do
		grep -q '^AWS_ENDPOINT_URL_S3=' "$3" 2>/dev/null && break
		sleep 0.1
	done
}
start_sim 11.25.0 jcds-new "$work/sim-new.out"
start_sim 11.4.0 jcds-old "$work/sim-old.out"

env_plist() { # $1 url, $2 pkg, $3 replace
	cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>JSS_URL</key><string>$1</string>
<key>API_USERNAME</key><string>admin</string><key>API_PASSWORD</key><string>password</string>
<key>pkg_path</key><string>$2</string><key>NAME</key><string>Bench</string>
<key>replace_pkg</key><$3/><key>verify_timeout</key><integer>600</integer>
</dict></plist>
EOF
}
now() { date +%s.%N; }
run() { # $1 sim out file, $2 pkg, $3 replace true|false; prints wall seconds
	local url s3
	url=$(sed -n 's/^JSS_URL=//p' "$1")
	s3=$(sed -n 's/^AWS_ENDPOINT_URL_S3=//p' "$1")
	env_plist "$url" "$2" "$3" >"$work/env.plist"
	local t0 t1
	t0=$(now)
	env -i PATH="$PATH" HOME="$work/home" XDG_CACHE_HOME="$work/home/.cache" AWS_ENDPOINT_URL_S3="$s3" \
		AWS_EC2_METADATA_DISABLED=true NO_PROXY=127.0.0.1,localhost \
		"$work/jcds2-uploader" -v <"$work/env.plist" >"$work/out.plist" 2>"$work/run.log"
	t1=$(now)
	cat "$work/run.log" >>"$work/uploader.log"
	# The transfer alone, as the uploader's progress line reports it.
	tr '\r' '\n' <"$work/run.log" | grep -o 'uploading Bench.pkg: [^)]*)' | tail -1 | sed 's/.*(\(.*\))/\1/' >"$work/rate.txt"
	tr -d '\n\t' <"$work/out.plist" | grep -q '<key>pkg_uploaded</key><true/>' ||
		{ echo "replace bench: not uploaded" >&2; tail -20 "$work/uploader.log" >&2; exit 1; }
	awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}'
}
mkpkg() { mkdir -p "$work/$1"; head -c "$((size_mib * 1048576))" /dev/urandom >"$work/$1/Bench.pkg"; echo "$work/$1/Bench.pkg"; }
rate() { awk -v s="$1" -v m="$size_mib" 'BEGIN{printf "%.0f", m/s}'; }

v1=$(mkpkg v1); v2=$(mkpkg v2); v3=$(mkpkg v3)
new=$(run "$work/sim-new.out" "$v1" false); new_r=$(cat "$work/rate.txt")
inplace=$(run "$work/sim-new.out" "$v2" true); inplace_r=$(cat "$work/rate.txt")
inplace2=$(run "$work/sim-new.out" "$v3" true); inplace2_r=$(cat "$work/rate.txt")
run "$work/sim-old.out" "$v1" false >/dev/null
classic=$(run "$work/sim-old.out" "$v2" true); classic_r=$(cat "$work/rate.txt")
classic2=$(run "$work/sim-old.out" "$v3" true); classic2_r=$(cat "$work/rate.txt")
cat <<EOF
safe replace, ${size_mib} MiB, loopback, jamfsim (1 node) + MinIO, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores
(end to end wall time per run; transfer rate from the uploader's progress line)
new package, JCDS 2.0 (S3 multipart, parallel parts):  ${new} s; transfer ${new_r}
replace on 11.25, in place via {id}/upload (1 stream):  ${inplace} s, ${inplace2} s; transfer ${inplace_r}, ${inplace2_r}
replace on 11.4, S3 first, then delete+confirm+commit:  ${classic} s, ${classic2} s; transfer ${classic_r}, ${classic2_r}
EOF
